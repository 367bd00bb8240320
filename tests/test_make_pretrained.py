"""scripts/make_pretrained.py on tiny synthetic data: the model and card it writes, and what it calls TEMPORARY."""

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

from attire import Classifier
from synthetic import make_dataset

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_pretrained.py"


def load_script():
    spec = importlib.util.spec_from_file_location("make_pretrained", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_short_recipe_writes_a_loadable_model_and_a_temporary_card(tmp_path):
    data = make_dataset(tmp_path / "data", n_train=300, n_test=100)
    model, card = tmp_path / "out" / "default.safetensors", tmp_path / "out" / "MODEL_CARD.md"
    subprocess.run([sys.executable, str(SCRIPT), "--preset", "fast", "--epochs", "1", "--quiet",
                    "--set", f"data_dir={data}", "--set", "verify_data=false", "--set", "val_size=50",
                    "--model-out", str(model), "--card-out", str(card)],
                   check=True, capture_output=True, text=True)
    text = card.read_text()
    assert "**TEMPORARY**" in text and "--preset fast --epochs 1" in text
    assert hashlib.sha256(model.read_bytes()).hexdigest() in text
    classifier = Classifier.load(model)
    assert f"**{classifier.info['metrics']['test_accuracy']:.4f}**" in text
    assert classifier.info["config"]["epochs"] == 1 and not list(tmp_path.glob("out/.*.tmp"))


def test_only_the_release_recipe_is_not_temporary():
    script = load_script()
    for argv, release in [([], True), (["--quiet"], True), (["--seed", "1"], False),
                          (["--preset", "fast"], False), (["--epochs", "1"], False)]:
        args, train_flags = script.parse_args(argv)
        assert script.is_release(args, train_flags) == release, argv
