"""ONNX export and the ONNX Runtime engine: every registered model, checked against PyTorch.

Exports are the slow part (seconds each, mostly the exporter's own set-up), so each
registered model is exported once per session and the file shared by the tests.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from attire import Classifier
from attire.checkpoint import save_model
from attire.cli import main
from attire.data import CLASS_NAMES
from attire.errors import ExportError, ImageError, ModelError
from attire.export import DEFAULT_OPSET, TOLERANCE, export_model, export_onnx
from attire.models import create_model, list_models
from attire.onnx_engine import PREPROCESSING, OnnxEngine, encode_metadata

from conftest import DEBIAN_DATA

REPO = Path(__file__).resolve().parent.parent

# Same architectures, fewer channels: the full resnet (6.5 M parameters) takes ~4x longer
# to export and check and exercises no operator the narrow one does not.
SMALL_KWARGS = {"resnet": {"width": 16}}
METRICS = {"test_accuracy": 0.9123, "test_loss": 0.25}


def random_model_file(path: Path, name: str) -> Path:
    torch.manual_seed(0)
    kwargs = SMALL_KWARGS.get(name, {})
    save_model(path, create_model(name, **kwargs), name, kwargs, config={"model": name, "epochs": 1},
               class_names=list(CLASS_NAMES), metrics=METRICS)
    return path


def images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


_EXPORTS: dict[str, dict] = {}


def export_once(name: str, tmp_path_factory) -> dict:
    """A random-weight model file of `name`, its .onnx export and the check's figures."""
    if name not in _EXPORTS:
        folder = tmp_path_factory.mktemp(f"export-{name}")
        with pytest.MonkeyPatch.context() as patch:  # keep the data checks out of ~/.cache
            patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
            source = random_model_file(folder / f"{name}.safetensors", name)
            figures = export_model(source, folder / f"{name}.onnx")
        print(f"\n{name}: {figures}")
        _EXPORTS[name] = {"name": name, "source": source, "onnx": folder / f"{name}.onnx",
                          "figures": figures}
    return _EXPORTS[name]


@pytest.fixture(scope="session", params=list_models())
def exported(request, tmp_path_factory) -> dict:
    """Every registered model, exported once per session."""
    return export_once(request.param, tmp_path_factory)


@pytest.fixture(scope="session")
def mlp_exported(tmp_path_factory) -> dict:
    """One model, for the tests that are about the engine rather than the model."""
    return export_once("mlp", tmp_path_factory)


# ---------------------------------------------------------------- export and its check

def test_export_checks_itself_against_pytorch(exported):
    figures = exported["figures"]
    assert figures["passed"] and figures["n_images"] == 1000
    assert figures["max_abs_diff"] <= TOLERANCE
    assert figures["n_same_prediction"] == 1000
    assert figures["opset"] == DEFAULT_OPSET and exported["onnx"].stat().st_size == figures["n_bytes"]
    if DEBIAN_DATA.is_dir():
        assert "Fashion-MNIST test images" in figures["images_source"]


def test_onnx_predictions_equal_pytorch_ones_through_classifier(exported):
    batch = images(100)
    onnx_classifier = Classifier.load(exported["onnx"])
    torch_classifier = Classifier.load(exported["source"])
    assert onnx_classifier.engine.name == "onnx" and torch_classifier.engine.name == "torch"
    np.testing.assert_allclose(onnx_classifier.logits(batch), torch_classifier.logits(batch), atol=TOLERANCE)
    np.testing.assert_array_equal(onnx_classifier.predict(batch), torch_classifier.predict(batch))
    assert onnx_classifier.classes_ == torch_classifier.classes_ == CLASS_NAMES


def test_metadata_describes_the_model(exported):
    info = OnnxEngine(exported["onnx"]).info
    assert info["model"] == exported["name"]
    assert info["model_kwargs"] == SMALL_KWARGS.get(exported["name"], {})
    assert info["class_names"] == list(CLASS_NAMES)
    assert info["metrics"] == METRICS and info["config"]["epochs"] == 1
    assert info["preprocessing"] == PREPROCESSING
    # Readable by anyone with onnx, no attire needed: plain strings and JSON.
    props = {p.key: p.value for p in onnx.load(exported["onnx"]).metadata_props}
    assert props["format"] == "attire-onnx" and props["model"] == exported["name"]
    assert '"test_accuracy": 0.9123' in props["metrics"] and "uint8" in props["input"]


def test_batch_dimension_is_dynamic(exported):
    engine = OnnxEngine(exported["onnx"])
    batch = images(38)
    whole = engine.logits(batch)
    assert whole.shape == (38, 10) and whole.dtype == np.float32
    np.testing.assert_allclose(engine.logits(batch[:1]), whole[:1], atol=1e-5)
    np.testing.assert_allclose(engine.logits(batch[1:]), whole[1:], atol=1e-5)
    assert engine.logits(batch[:0]).shape == (0, 10)


def test_failed_check_raises_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("attire.export.TOLERANCE", -1.0)  # no graph can pass
    out = tmp_path / "m.onnx"
    with pytest.raises(ExportError, match="nothing was written"):
        export_onnx(create_model("mlp"), {"model": "mlp"}, out, images=images(20))
    assert list(tmp_path.iterdir()) == []


def test_unsupported_opset_is_refused_before_exporting(tmp_path):
    with pytest.raises(ExportError, match="choose 18 to 23"):
        export_onnx(create_model("mlp"), {"model": "mlp"}, tmp_path / "m.onnx", opset=11)


def test_export_refuses_a_model_name_and_an_onnx_file(tmp_path):
    with pytest.raises(ModelError, match="attire train --model cnn"):
        export_model("cnn", tmp_path / "m.onnx")
    (tmp_path / "x.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match="already an ONNX model"):
        export_model(tmp_path / "x.onnx", tmp_path / "m.onnx")


def test_cli_export_prints_the_check(tmp_path, capsys):
    source = random_model_file(tmp_path / "mlp.safetensors", "mlp")
    out = tmp_path / "out" / "mlp.onnx"
    assert main(["export", str(source), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "largest |logit difference|" in printed and "same prediction: 1,000 of 1,000" in printed
    assert out.is_file() and f"wrote {out}" in printed
    assert main(["export", str(tmp_path / "missing.safetensors")]) == 1
    assert "not found" in capsys.readouterr().err


# ---------------------------------------------------------------- the engine's errors

def foreign_onnx(path: Path, metadata: dict | None = None, input_type=onnx.TensorProto.UINT8) -> Path:
    """A valid ONNX model that is not an attire one: Identity on a (N, 28, 28) input."""
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["images"], ["logits"])], "foreign",
        [onnx.helper.make_tensor_value_info("images", input_type, ["N", 28, 28])],
        [onnx.helper.make_tensor_value_info("logits", input_type, ["N", 28, 28])])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.helper.set_model_props(model, metadata or {})
    onnx.save(model, path)
    return path


def test_missing_onnx_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Classifier.load(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="not found"):
        OnnxEngine(tmp_path / "missing.onnx")


def test_corrupt_onnx_file_is_a_model_error(tmp_path, mlp_exported):
    truncated, text = tmp_path / "truncated.onnx", tmp_path / "text.onnx"
    truncated.write_bytes(mlp_exported["onnx"].read_bytes()[:1000])
    text.write_text("not a model")
    for path in (truncated, text):
        with pytest.raises(ModelError, match="not a valid ONNX model"):
            Classifier.load(path)


def test_foreign_onnx_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not one written by `attire export`"):
        Classifier.load(foreign_onnx(tmp_path / "foreign.onnx"))


def test_attire_metadata_on_a_foreign_graph_is_a_model_error(tmp_path):
    metadata = encode_metadata({"format": "attire-onnx", "format_version": "1", "model": "cnn",
                                "class_names": list(CLASS_NAMES), "preprocessing": PREPROCESSING})
    with pytest.raises(ModelError, match="graph signature"):
        OnnxEngine(foreign_onnx(tmp_path / "a.onnx", metadata))
    with pytest.raises(ModelError, match="expects inputs prepared as 'other-v9'"):
        OnnxEngine(foreign_onnx(tmp_path / "b.onnx", {**metadata, "preprocessing": "other-v9"}))
    with pytest.raises(ModelError, match="format version '2'"):
        OnnxEngine(foreign_onnx(tmp_path / "c.onnx", {**metadata, "format_version": "2"}))


def test_engine_refuses_inputs_that_are_not_dataset_images(mlp_exported):
    engine = OnnxEngine(mlp_exported["onnx"])
    with pytest.raises(ImageError, match="uint8 array of shape"):
        engine.logits(images(2).astype(np.float32))


def test_missing_onnxruntime_says_what_to_install(mlp_exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(ModelError, match=r"pip install 'attire\[onnx\]'"):
        Classifier.load(mlp_exported["onnx"])


def test_default_model_for_the_onnx_engine_is_its_onnx_copy(tmp_path, monkeypatch, mlp_exported):
    monkeypatch.setattr("attire.pretrained.DEFAULT_ONNX_MODEL", tmp_path / "default.onnx")
    with pytest.raises(ModelError, match="default ONNX model .* is missing"):
        Classifier.load(engine="onnx")
    (tmp_path / "default.onnx").write_bytes(mlp_exported["onnx"].read_bytes())
    assert Classifier.load(engine="onnx").info["model"] == "mlp"


def test_onnx_engine_needs_an_onnx_file(mlp_exported):
    with pytest.raises(ModelError, match="export it first with `attire export"):
        Classifier.load(mlp_exported["source"], engine="onnx")
    with pytest.raises(ModelError, match="use --engine onnx"):
        Classifier.load(mlp_exported["onnx"], engine="torch")


# ---------------------------------------------------------------- torch-free prediction

def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def test_onnx_prediction_never_imports_torch(mlp_exported, tmp_path):
    np.save(tmp_path / "x.npy", images(5))
    expected = Classifier.load(mlp_exported["source"]).predict(images(5))
    result = run_python(f"""
        import sys
        import numpy as np
        import attire
        classifier = attire.Classifier.load({str(mlp_exported["onnx"])!r})
        print(",".join(classifier.predict(np.load("x.npy"))))
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        assert not loaded, f"torch was imported: {{loaded[:5]}}"
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split(",") == list(expected)


def test_onnx_only_install_classifies_with_torch_unimportable(mlp_exported, tmp_path):
    np.save(tmp_path / "x.npy", images(5))
    expected = Classifier.load(mlp_exported["source"]).predict(images(5))
    result = run_python(f"""
        import sys
        sys.modules["torch"] = None  # `import torch` now fails, as in `pip install attire[onnx]`
        from pathlib import Path
        import numpy as np
        import attire, attire.pretrained
        from attire.cli import build_parser

        build_parser()  # every command's parser is built without torch
        attire.pretrained.DEFAULT_ONNX_MODEL = Path({str(mlp_exported["onnx"])!r})
        classifier = attire.Classifier.load()  # no torch: the default model's ONNX file
        print(",".join(classifier.predict(np.load("x.npy"))))
        try:
            attire.Classifier.load({str(mlp_exported["source"])!r})
        except attire.ModelError as e:
            assert "pip install 'attire[torch]'" in str(e), e
        else:
            raise AssertionError("a PyTorch model loaded without torch")
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split(",") == list(expected)


def test_the_shipped_onnx_model_is_the_shipped_safetensors_model(real_data):
    from attire import Classifier
    from conftest import read_test_set
    images = read_test_set(real_data)[0][:500]
    torch_probabilities = Classifier.load(engine="torch").predict_proba(images)
    onnx_probabilities = Classifier.load(engine="onnx").predict_proba(images)
    assert (torch_probabilities.argmax(1) == onnx_probabilities.argmax(1)).all()
    assert abs(torch_probabilities - onnx_probabilities).max() < 1e-4
