"""The report of a tiny trained run: every picture, one self-contained page, clear refusals."""

import base64
import csv
import html
import json
import re
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from attire.cli import main
from attire.config import resolve_config
from attire.errors import RunError
from attire.evaluation import logits_and_features
from attire.models import create_model
from attire.report import PICTURES_DIR, write_report
from attire.training import train
from conftest import run_cli
from synthetic import make_dataset

PICTURES = ["samples.png", "predictions-first.png", "predictions-random.png", "probabilities.png",
            "learning-curves.png", "per-class-accuracy.png", "confusion-matrix.png",
            "confident-mistakes.png", "embedding-map.png"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    data_dir = make_dataset(tmp_path_factory.mktemp("data"), n_train=600, n_test=200)
    config = resolve_config("fast", epochs=1, batch_size=32, val_size=100, verify_data=False, device="cpu",
                            data_dir=str(data_dir), model_kwargs={"width": 8})
    run = train(config, out_dir=tmp_path_factory.mktemp("runs") / "run", quiet=True, log=lambda *_: None)
    return run.dir


@pytest.fixture(scope="module")
def report(tiny_run):
    return write_report(tiny_run)


def copy_run(run_dir, destination):
    """A copy of the run without its pictures and report, to change and report on again."""
    return shutil.copytree(run_dir, destination, ignore=shutil.ignore_patterns(PICTURES_DIR, "report.html"))


def test_every_picture_is_a_png_of_a_sane_size(tiny_run, report):
    assert sorted(p.name for p in (tiny_run / PICTURES_DIR).iterdir()) == sorted(PICTURES)
    for name in PICTURES:
        path = tiny_run / PICTURES_DIR / name
        with Image.open(path) as picture:
            picture.verify()
            assert picture.format == "PNG"
            width, height = picture.size
        assert 400 <= width <= 1600 and 100 <= height <= 1200, (name, picture.size)
        assert path.stat().st_size > 3_000, name


def test_the_page_embeds_every_picture_and_needs_no_network(tiny_run, report):
    page = report.read_text()
    assert report == tiny_run / "report.html"
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == len(PICTURES) == page.count("data:image/png")
    files = {(tiny_run / PICTURES_DIR / name).read_bytes() for name in PICTURES}
    assert {base64.b64decode(data) for data in embedded} == files
    assert not re.search(r"https?://", page)
    assert "<link" not in page and "<script" not in page


def test_the_page_states_the_headline_metrics_and_the_config(tiny_run, report):
    page = report.read_text()
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert f"{metrics['accuracy']:.2%}" in page and f"{metrics['loss']:.4f}" in page
    n_parameters = sum(p.numel() for p in create_model("cnn", width=8).parameters())
    assert f"{n_parameters:,}" in page
    for row in metrics["per_class"]:
        assert f"<td>{html.escape(row['class'])}</td><td>{row['precision']:.3f}</td>" in page
    assert "<td>label_smoothing</td><td>0.1</td>" in page
    assert 'class="note"' not in page  # the same test data as in training: nothing to warn about
    assert not [p.name for p in tiny_run.rglob("*.tmp")]


def test_the_command_reports_a_run_without_validation(tiny_run, tmp_path, capsys):
    run_dir = copy_run(tiny_run, tmp_path / "run")
    rows = list(csv.DictReader((run_dir / "history.csv").open()))
    for row in rows:
        row.update(val_loss="", val_acc="")  # as the tutorial preset writes it
    with (run_dir / "history.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "val_size": 0}))

    assert main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "report.html")
    page = (run_dir / "report.html").read_text()
    assert "held out no validation images" in page
    assert page.count("data:image/png") == len(PICTURES)


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing", "does not exist"),
    (lambda d: (d / "file.txt").write_text("x") and d / "file.txt", "is a file, not a run directory"),
    (lambda d: d, r"is not a training run: it has none of the files `attire train` writes"),
    (lambda d: (d / "config.json").write_text("{}") and d, r"is not a finished training run: it has no "
                                                            r"history.csv, metrics.json, model.safetensors"),
    (lambda d: (d / "checkpoint.safetensors").write_bytes(b"") or d, r"did not finish: .*--resume"),
    (lambda d: [(d / name).write_text("{") for name in ("config.json", "metrics.json", "history.csv",
                                                        "model.safetensors")] and d, "not valid JSON"),
])
def test_a_directory_that_is_not_a_run_is_refused(tmp_path, make, message):
    with pytest.raises(RunError, match=message):
        write_report(make(tmp_path))


def test_the_command_refuses_a_non_run_in_one_line(tmp_path):
    result = run_cli("report", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("attire: error: ") and "is not a training run" in result.stderr


@pytest.mark.parametrize("name, kwargs", [("mlp", {}), ("cnn", {"width": 4}),
                                          ("cnn", {"width": 4, "flip_tta": False})])
def test_features_are_what_the_last_layer_turns_into_logits(name, kwargs):
    model = create_model(name, **kwargs).eval()
    images = torch.randint(0, 256, (7, 28, 28), dtype=torch.uint8)
    logits, features = logits_and_features(model, images.numpy(), batch_size=3)
    last_linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert features.shape == (7, last_linear.in_features)
    with torch.no_grad():
        torch.testing.assert_close(last_linear(features), logits, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(model(images[:, None].float()), logits, atol=1e-4, rtol=1e-4)
    assert not model._forward_hooks and not last_linear._forward_hooks  # the hook is gone


def test_report_on_the_real_test_set(tiny_run, tmp_path, real_data):
    """10,000 real test images through the whole report (a tiny model trained on synthetic data)."""
    run_dir = copy_run(tiny_run, tmp_path / "run")
    page = write_report(run_dir, data_dir=real_data).read_text()
    assert page.count("data:image/png") == len(PICTURES)
    assert "probably not the one the run used" in page
    with Image.open(run_dir / PICTURES_DIR / "embedding-map.png") as picture:
        assert np.asarray(picture.convert("L")).min() < 200  # ink: points were drawn
