"""Training on tiny synthetic data: the run directory, reproducibility, resume and crash safety."""

import csv
import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors import safe_open

from attire.checkpoint import load_model, read_safetensors
from attire.config import resolve_config
from attire.errors import ConfigError, ModelError, TrainingError
from attire.training import CHECKPOINT, augment_batch, learning_rate, train
from conftest import run_cli
from synthetic import make_dataset

TINY = dict(epochs=3, batch_size=32, val_size=100, verify_data=False, device="cpu", augment=False,
            model_kwargs={"width": 8})


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("tiny"), n_train=600, n_test=200)


def tiny_config(data_dir, **overrides):
    return resolve_config("fast", **{**TINY, "data_dir": str(data_dir), **overrides})


def quiet_train(config, **kwargs):
    return train(config, quiet=True, log=lambda *_: None, **kwargs)


def test_a_run_writes_its_directory_and_learns(tiny_data, tmp_path):
    run = quiet_train(tiny_config(tiny_data), out_dir=tmp_path / "run")
    files = {p.name for p in run.dir.iterdir()}
    assert {"config.json", "history.csv", "metrics.json", "model.safetensors"} <= files
    assert not any(name.endswith(".tmp") for name in files) and CHECKPOINT not in files
    rows = list(csv.DictReader((run.dir / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"}
    metrics = json.loads((run.dir / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9  # the synthetic classes are easy
    assert len(metrics["per_class"]) == 10 and len(metrics["confusion_matrix"]) == 10
    with safe_open(run.dir / "model.safetensors", "pt") as f:
        metadata = f.metadata()
    assert metadata["model"] == "cnn" and json.loads(metadata["config"])["preset"] == "fast"


def test_model_file_rebuilds_the_model_without_flags(tiny_data, tmp_path):
    run = quiet_train(tiny_config(tiny_data, epochs=1), out_dir=tmp_path / "run")
    model, info = load_model(run.dir / "model.safetensors")
    images = torch.randint(0, 256, (5, 1, 28, 28)).float()
    with torch.no_grad():
        assert torch.allclose(model(images), run.model(images), atol=1e-5)
    assert info["class_names"][0] == "T-shirt/top"


def test_same_seed_same_result(tiny_data, tmp_path):
    first = quiet_train(tiny_config(tiny_data, epochs=2), out_dir=tmp_path / "a")
    second = quiet_train(tiny_config(tiny_data, epochs=2), out_dir=tmp_path / "b")
    assert first.metrics["accuracy"] == second.metrics["accuracy"]
    assert first.metrics["loss"] == second.metrics["loss"]


def test_resume_after_sigkill_reaches_the_same_final_state(tiny_data, tmp_path):
    common = ["train", "--preset", "fast", "--data-dir", str(tiny_data), "--epochs", "6",
              "--batch-size", "32", "--device", "cpu", "--quiet", "--no-report",
              "--set", "val_size=100", "--set", "verify_data=false", "--set", 'model_kwargs={"width": 8}']
    whole = run_cli(*common, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr

    killed_dir = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "attire", *common, "--out", str(killed_dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed_dir / CHECKPOINT).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (killed_dir / CHECKPOINT).exists() and not (killed_dir / "model.safetensors").exists()

    resumed = run_cli("train", "--resume", str(killed_dir), "--quiet", "--no-report")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    whole_weights = read_safetensors(tmp_path / "whole" / "model.safetensors")[0]
    resumed_weights = read_safetensors(killed_dir / "model.safetensors")[0]
    for key, value in whole_weights.items():
        assert torch.equal(value, resumed_weights[key]), key
    whole_metrics = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    resumed_metrics = json.loads((killed_dir / "metrics.json").read_text())
    assert whole_metrics["accuracy"] == resumed_metrics["accuracy"]


def test_sigterm_stops_cleanly_and_the_run_resumes(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "attire", "train", "--preset", "fast", "--data-dir", str(tiny_data),
         "--epochs", "200", "--batch-size", "32", "--device", "cpu", "--quiet", "--no-report",
         "--set", "verify_data=false", "--set", "val_size=100", "--out", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run_dir / CHECKPOINT).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "--resume" in stdout and "Traceback" not in stderr
    assert json.loads((run_dir / "config.json").read_text())["epochs"] == 200


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_checkpoint(tiny_data, tmp_path):
    config = tiny_config(tiny_data, lr=1e30, optimizer="sgd", bf16=False, label_smoothing=0.0,
                         model="mlp", model_kwargs={})
    with pytest.raises(TrainingError, match="loss became"):
        quiet_train(config, out_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_a_finished_run_is_not_overwritten_or_resumed(tiny_data, tmp_path):
    quiet_train(tiny_config(tiny_data, epochs=1), out_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds a run"):
        quiet_train(tiny_config(tiny_data, epochs=1), out_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="finished run"):
        quiet_train(None, resume=tmp_path / "run")


@pytest.mark.parametrize("content", [b"", b"not a safetensors file at all", b"\x08" + b"\x00" * 7 + b"{}"])
def test_corrupt_model_files_give_a_clear_error(tmp_path, content):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=str(path)):
        load_model(path)


def test_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file
    path = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3)}, path)
    with pytest.raises(ModelError, match="not an attire model"):
        load_model(path)


def test_one_cycle_schedule_warms_up_then_decays_to_zero():
    config = resolve_config("default")
    rates = [learning_rate(step, 100, config) for step in range(100)]
    peak = rates.index(max(rates))
    assert max(rates) == pytest.approx(config.lr)
    assert rates[:peak] == sorted(rates[:peak]) and rates[peak:] == sorted(rates[peak:], reverse=True)
    assert rates[-1] < config.lr / 50


def test_augmentation_keeps_shapes_and_pixels():
    images = torch.randint(0, 256, (64, 1, 28, 28)).float()
    out = augment_batch(images, torch.Generator().manual_seed(0), translate=2)
    assert out.shape == images.shape
    assert out.max() <= 255 and out.min() >= 0
    assert not torch.equal(out, images)
    unchanged = augment_batch(images[:1].repeat(2, 1, 1, 1) * 0, torch.Generator(), translate=2)
    assert unchanged.abs().sum() == 0
