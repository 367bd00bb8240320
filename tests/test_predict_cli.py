"""`attire predict`: the table and JSON Lines, folders and globs, pictures, and bad inputs in a batch.

Most tests call the CLI's `main` in this process (torch is imported once); one runs the
real command in a subprocess for the exit status and the absence of a traceback.
"""

import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attire import CLASS_NAMES
from attire.cli import main
from attire.images import MAX_FILE_BYTES, MAX_PIXELS
from attire.photos import render_product_photo
from conftest import read_test_set, run_cli


def garment(shift: int = 0) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    image[4:8, 3:25] = 200
    image[8:25, 9 + shift:19 + shift] = 230
    return image


def save_photo(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    render_product_photo(garment(seed % 3), np.random.default_rng(seed), long_side=240).save(path)
    return path


def predict(capsys, *args) -> tuple[int, str, str]:
    status = main(["predict", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height pixels: enough to be refused before any decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


@pytest.fixture
def bad_batch(tmp_path) -> tuple[list[str], dict[str, str]]:
    """Good photos among every kind of bad input; returns the arguments and, per bad one, words of its error."""
    good = [save_photo(tmp_path / "good" / f"{i}.png", seed=i) for i in range(3)]
    truncated = tmp_path / "truncated.jpg"
    render_product_photo(garment(), np.random.default_rng(9), long_side=300).save(truncated, quality=90)
    truncated.write_bytes(truncated.read_bytes()[:600])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a picture")
    Image.new("RGB", (30, 30), "white").save(tmp_path / "picture.ppm")
    (tmp_path / "huge.png").write_bytes(png_header_claiming(10_000, MAX_PIXELS // 10_000 + 1))
    with open(tmp_path / "giant.jpg", "wb") as f:  # sparse: refused from its size, never read
        f.truncate(MAX_FILE_BYTES + 1)
    (tmp_path / "no_images").mkdir()
    (tmp_path / "no_images" / "readme.txt").write_text("nothing to see")
    errors = {
        str(tmp_path / "missing.jpg"): "no such file",
        str(tmp_path / "no_images"): "no image files",
        str(tmp_path / "notes.txt"): "not an image",
        str(tmp_path / "empty.png"): "empty",
        str(truncated): "truncated or corrupt",
        str(tmp_path / "picture.ppm"): "format attire does not read",
        str(tmp_path / "huge.png"): "megapixels",
        str(tmp_path / "giant.jpg"): "more than the limit",
        str(tmp_path / "*.gif"): "no file matches",
    }
    bad = list(errors)
    arguments = [str(good[0]), *bad[:5], str(good[1]), *bad[5:], str(good[2])]
    return arguments, errors


# ---------------------------------------------------------------- output formats

def test_json_lines_one_object_per_input_in_order(capsys, tmp_path):
    paths = [save_photo(tmp_path / f"{name}.jpg", seed) for seed, name in enumerate(["c", "a", "b"])]
    status, out, err = predict(capsys, *paths, "--json")
    assert status == 0 and err == ""
    rows = json_lines(out)
    assert [row["path"] for row in rows] == [str(p) for p in paths]
    for row in rows:
        assert set(row) == {"path", "label", "class_index", "probability", "top_k"}
        assert row["label"] == CLASS_NAMES[row["class_index"]]
        assert [entry["label"] for entry in row["top_k"]][0] == row["label"]
        assert row["probability"] == row["top_k"][0]["probability"]
        assert len(row["top_k"]) == 3


def test_table_has_a_header_and_a_row_per_input(capsys, tmp_path):
    paths = [save_photo(tmp_path / f"photo {i}.png", seed=i) for i in range(2)]  # spaces in names too
    status, out, _ = predict(capsys, *paths, "--top-k", "2")
    status_json, out_json, _ = predict(capsys, *paths, "--top-k", "2", "--json")
    header, *rows = out.splitlines()
    assert status == status_json == 0
    assert re.split(r"\s{2,}", header) == ["file", "class", "prob", "next best"]
    for row, expected in zip(rows, json_lines(out_json), strict=True):
        assert row.startswith(expected["path"])
        label, probability, others = re.split(r"\s{2,}", row[len(expected["path"]):].strip())
        assert label == expected["label"]
        assert float(probability.rstrip("%")) == pytest.approx(100 * expected["probability"], abs=0.051)
        second = expected["top_k"][1]
        assert others == f"{second['label']} {second['probability']:.1%}"


def test_top_k_gives_that_many_classes_likeliest_first(capsys, tmp_path):
    path = save_photo(tmp_path / "photo.png")
    status, out, _ = predict(capsys, path, "--json", "--top-k", "10")
    [row] = json_lines(out)
    probabilities = [entry["probability"] for entry in row["top_k"]]
    assert {entry["label"] for entry in row["top_k"]} == set(CLASS_NAMES)
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1, abs=1e-4)


@pytest.mark.parametrize("flag", ["--top-k", "--batch-size"])
def test_counts_must_be_positive(capsys, flag):
    with pytest.raises(SystemExit):
        main(["predict", "x.png", flag, "0"])
    assert "must be at least 1" in capsys.readouterr().err


# ---------------------------------------------------------------- many inputs

def test_directories_are_recursive_and_globs_are_expanded(capsys, tmp_path):
    for name in ["shop/a.png", "shop/B.JPG", "shop/sub/c.png", "shop/notes.txt", "other/d.png"]:
        if name.endswith("txt"):
            (tmp_path / name).write_text("skipped inside a directory")
        else:
            save_photo(tmp_path / name)
    status, out, _ = predict(capsys, tmp_path / "shop", str(tmp_path / "**" / "d.png"), "--json")
    assert status == 0
    found = [Path(row["path"]).relative_to(tmp_path).as_posix() for row in json_lines(out)]
    assert found == ["shop/B.JPG", "shop/a.png", "shop/sub/c.png", "other/d.png"]


def test_every_bad_input_has_its_own_error_and_the_rest_is_classified(capsys, bad_batch):
    arguments, errors = bad_batch
    status, out, err = predict(capsys, *arguments, "--json", "--batch-size", "4")
    rows = json_lines(out)
    assert status == 1 and "9 of 12 inputs could not be classified" in err
    assert [row["path"] for row in rows] == arguments  # one line per input, in order
    for row in rows:
        if row["path"] in errors:
            assert set(row) == {"path", "error"}
            assert errors[row["path"]] in row["error"] and "\n" not in row["error"], row
        else:
            assert row["label"] in CLASS_NAMES


def test_the_table_shows_errors_in_place(capsys, bad_batch):
    arguments, errors = bad_batch
    status, out, _ = predict(capsys, *arguments)
    rows = out.splitlines()[1:]
    assert status == 1 and len(rows) == len(arguments)
    for argument, row in zip(arguments, rows):
        assert row.startswith(argument)
        if argument in errors:
            assert "error: " in row and errors[argument] in row
        else:
            assert re.split(r"\s{2,}", row[len(argument):].strip())[0] in CLASS_NAMES


def test_the_real_command_exits_1_without_a_traceback(tmp_path):
    good = save_photo(tmp_path / "good.png")
    result = run_cli("predict", str(good), str(tmp_path / "missing.png"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "1 of 2 inputs could not be classified" in result.stderr
    assert len(result.stdout.splitlines()) == 3  # header and two rows; no progress bar without a terminal


@pytest.mark.parametrize("n_shards", [3, 15])  # 15: more shards than inputs, some of them empty
def test_shards_cover_every_input_exactly_once(capsys, tmp_path, n_shards):
    for i in range(10):
        save_photo(tmp_path / "photos" / f"{i}.png", seed=i)
    arguments = [tmp_path / "photos", tmp_path / "missing.png"]  # an input that fails is in one shard too
    expected = sorted([str(tmp_path / "photos" / f"{i}.png") for i in range(10)] + [str(tmp_path / "missing.png")])
    shards = []
    for index in range(n_shards):
        status, out, _ = predict(capsys, *arguments, "--shard", f"{index}/{n_shards}", "--json")
        shards.append([row["path"] for row in json_lines(out)])
        assert status == (1 if str(tmp_path / "missing.png") in shards[-1] else 0)
    assert sorted(sum(shards, [])) == expected                      # every input, none twice
    assert all(paths == sorted(paths) for paths in shards)          # each shard in path order
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


@pytest.mark.parametrize("spec", ["3/3", "1", "a/b", "-1/2", "0/0"])
def test_a_bad_shard_is_one_clear_line(capsys, tmp_path, spec):
    status, out, err = predict(capsys, save_photo(tmp_path / "good.png"), f"--shard={spec}")
    assert status == 1 and out == ""
    assert err.startswith("attire: error: --shard") and "0/2" in err and len(err.splitlines()) == 1


def test_workers_give_the_same_output_as_one_process(capsys, bad_batch):
    arguments, _ = bad_batch
    in_process = predict(capsys, *arguments, "--json", "--batch-size", "4")
    pooled = predict(capsys, *arguments, "--json", "--batch-size", "4", "--workers", "2")
    assert pooled == in_process and in_process[0] == 1


def test_workers_must_not_be_negative(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "x.png", "--workers", "-1"])
    assert "must be at least 0" in capsys.readouterr().err


BAD_MODELS = {  # name -> (file content or None for no file, extra flags, words of the error)
    "missing.safetensors": (None, [], "not found"),
    "notes.txt": (b"hello", [], "not a model file"),
    "cut.safetensors": (b"\x08" + b"\0" * 7 + b"{}", [], "not a valid safetensors file"),
    "model.onnx": (b"onnx", ["--engine", "torch"], "is an ONNX model"),
    "model.safetensors": (b"", ["--engine", "onnx"], "needs an .onnx model"),
}


@pytest.mark.parametrize("name", BAD_MODELS)
def test_a_bad_model_is_one_clear_line(capsys, tmp_path, name):
    content, flags, words = BAD_MODELS[name]
    if content is not None:
        (tmp_path / name).write_bytes(content)
    status, out, err = predict(capsys, save_photo(tmp_path / "good.png"), "--model", tmp_path / name, *flags)
    assert status == 1 and out == ""
    assert err.startswith("attire: error: ") and words in err and len(err.splitlines()) == 1


# ---------------------------------------------------------------- pictures

def test_show_writes_a_picture_per_classified_image(capsys, tmp_path):
    paths = [save_photo(tmp_path / "a" / "shirt.png"), save_photo(tmp_path / "b" / "shirt.png", seed=1)]
    status, out, _ = predict(capsys, *paths, tmp_path / "missing.png", "--show", tmp_path / "pictures", "--json")
    assert status == 1  # the missing file; the others still get their pictures
    pictures = sorted((tmp_path / "pictures").iterdir())
    assert [p.name for p in pictures] == ["shirt-2.png", "shirt.png"]  # same names, in input order
    for picture in pictures:
        with Image.open(picture) as image:
            assert image.format == "PNG" and image.width > 2 * image.height > 300


def test_photos_of_real_test_images_are_mostly_right(capsys, tmp_path, real_data):
    test_images, test_labels = read_test_set(real_data)
    rng = np.random.default_rng(3)
    chosen = rng.choice(len(test_labels), 30, replace=False)
    paths = []
    for index in chosen:
        paths.append(tmp_path / f"{index}.jpg")
        render_product_photo(test_images[index], rng).save(paths[-1], quality=85)
    status, out, _ = predict(capsys, tmp_path, "--json")
    by_path = {row["path"]: row["class_index"] for row in json_lines(out)}
    right = [by_path[str(path)] == label for path, label in zip(paths, test_labels[chosen])]
    # Measured with the temporary 1-epoch model: 0.87 here (0.87-0.93 with seeds 3-6, 0.90-0.93 on
    # the same images unrendered). The floor only catches a broken photo path (which gives ~0.1-0.4).
    assert status == 0 and np.mean(right) >= 0.7
