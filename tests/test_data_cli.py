"""`attire data` and `attire show`: in a subprocess on the real data, in-process on tiny data."""

import json

import numpy as np
import pytest
from PIL import Image

from attire import data
from attire.cli import main
from conftest import run_cli
from data_fixtures import mirror, system_dir, tiny, write_dataset  # noqa: F401 (fixtures)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_data_json_describes_the_real_data(real_data):
    result = run_cli("data", "--json", "--data-dir", str(real_data))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["location"] == str(real_data)
    assert summary["verified"] is True
    assert summary["train"]["shape"] == [60000, 28, 28]
    assert summary["test"]["shape"] == [10000, 28, 28]
    assert summary["train"]["class_counts"] == {name: 6000 for name in data.CLASS_NAMES}
    assert summary["test"]["class_counts"] == {name: 1000 for name in data.CLASS_NAMES}
    assert summary["pixel_range"] == [0, 255]


def test_data_text_prints_shapes_like_the_tutorial(real_data):
    result = run_cli("data", "--data-dir", str(real_data))
    assert result.returncode == 0, result.stderr
    assert "(60000, 28, 28)" in result.stdout and "(10000, 28, 28)" in result.stdout
    assert "verified" in result.stdout and "pixel values 0 to 255" in result.stdout
    assert " 9 Ankle boot     6000   1000" in result.stdout


def test_show_writes_a_png_and_prints_its_path(real_data, tmp_path):
    out = tmp_path / "pictures" / "test-grid.png"
    result = run_cli("show", "--data-dir", str(real_data), "--split", "test",
                     "--rows", "3", "--cols", "4", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(out) as picture:
        width, height = picture.size
    assert 400 <= width <= 600 and 300 <= height <= 400  # 4 x 3 one-inch cells at 100 dpi, a title
    assert 5_000 < out.stat().st_size < 100_000


def test_show_defaults_to_samples_png_in_the_current_folder(tiny, tmp_path, monkeypatch, capsys):
    write_dataset(tmp_path / "tiny", tiny)
    monkeypatch.chdir(tmp_path)
    assert main(["show", "--data-dir", str(tmp_path / "tiny")]) == 0
    assert capsys.readouterr().out.strip() == "samples.png"
    with Image.open(tmp_path / "samples.png") as picture:
        assert picture.size[0] >= 1000 and picture.size[1] >= 1000  # the 10 x 10 grid, 12 images drawn


@pytest.mark.parametrize("command", ["data", "show"])
def test_a_bad_data_dir_is_one_line_and_exit_1(tmp_path, command):
    missing = tmp_path / "no-such-folder"
    result = run_cli(command, "--data-dir", str(missing))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("attire: error: ")
    assert str(missing) in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("flags, complaint", [
    (["--rows", "0"], "expected 1 to 50, got 0"),
    (["--cols", "many"], "expected a whole number"),
    (["-o", "grid.jpg"], "must end in .png"),
    (["--split", "validation"], "invalid choice"),
])
def test_show_refuses_bad_flags(flags, complaint, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["show", *flags])
    assert caught.value.code == 2
    assert complaint in capsys.readouterr().err


# --- in-process, hermetic: tiny data, a local mirror, no real system folder ----------------------

def test_data_downloads_from_the_mirror_flag(tiny, mirror, capsys):
    write_dataset(mirror.root, tiny)
    assert main(["data", "--json", "--mirror", mirror.url]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["location"] == str(data.cache_dir())
    assert summary["verified"] is True
    assert summary["train"]["shape"] == [12, 28, 28]
    assert sum(summary["test"]["class_counts"].values()) == 6
    assert len(mirror.requests) == 4


def test_data_without_data_or_network_explains_on_one_line(system_dir, capsys):
    assert main(["data"]) == 1
    err = capsys.readouterr().err.splitlines()[-1]  # earlier lines say what was being downloaded
    assert err.startswith("attire: error: Fashion-MNIST was not found")
    assert str(data.cache_dir()) in err and str(system_dir) in err
    assert "apt-get install dataset-fashion-mnist" in err and "--data-dir" in err and "--mirror" in err


def test_show_draws_the_chosen_split(tiny, tmp_path, capsys):
    write_dataset(tmp_path / "tiny", tiny)
    out = tmp_path / "tiny.png"
    assert main(["show", "--data-dir", str(tmp_path / "tiny"), "--split", "test",
                 "--rows", "2", "--cols", "3", "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    with Image.open(out) as picture:
        pixels = np.asarray(picture.convert("L"))
    assert pixels.min() < 50 and pixels.max() > 200  # drawn, not blank
