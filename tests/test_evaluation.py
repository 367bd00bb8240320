"""Metrics against scikit-learn, `attire evaluate`, and one short run on the real data."""

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support

from attire.config import resolve_config
from attire.data import CLASS_NAMES
from attire.evaluation import compute_metrics
from attire.training import train
from conftest import run_cli


def test_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 2000)
    logits = torch.tensor(rng.normal(size=(2000, 10)), dtype=torch.float32)
    logits[np.arange(2000), labels] += 1.5  # better than chance, not perfect
    logits[:, 9] -= 10                      # one class never predicted: precision 0, not NaN
    metrics = compute_metrics(logits, labels, CLASS_NAMES)
    predicted = logits.argmax(1).numpy()
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=range(10), zero_division=0)
    assert metrics["accuracy"] == pytest.approx((predicted == labels).mean())
    assert metrics["loss"] == pytest.approx(log_loss(labels, torch.softmax(logits, 1).numpy(),
                                                     labels=range(10)), rel=1e-4)
    assert metrics["confusion_matrix"] == confusion_matrix(labels, predicted, labels=range(10)).tolist()
    for row, p, r, f, s in zip(metrics["per_class"], precision, recall, f1, support):
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == \
            (pytest.approx(p), pytest.approx(r), pytest.approx(f), s)


def test_evaluate_json_on_the_shipped_model(real_data):
    result = run_cli("evaluate", "--json", "--data-dir", str(real_data))
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert {"accuracy", "loss", "per_class", "confusion_matrix"} <= set(metrics)
    assert metrics["accuracy"] > 0.93 and metrics["n_images"] == 10_000
    assert sum(map(sum, metrics["confusion_matrix"])) == 10_000


def test_evaluate_a_missing_model_is_one_clear_line(tmp_path):
    result = run_cli("evaluate", str(tmp_path / "nothing.safetensors"))
    assert result.returncode == 1
    assert result.stderr.startswith("attire: error:") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_short_real_run_reaches_a_sane_accuracy(real_data, tmp_path):
    config = resolve_config("fast", epochs=1, limit=12_000, val_size=2_000, data_dir=str(real_data))
    run = train(config, out_dir=tmp_path / "run", quiet=True, log=lambda *_: None)
    assert run.metrics["accuracy"] > 0.75  # one epoch on 10,000 images; chance is 0.10
