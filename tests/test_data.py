"""The data layer: search order, verified downloads from a local mirror, checks, real data."""

import gzip
import hashlib
import os
import re

import numpy as np
import pytest

from attire import data
from attire.errors import DatasetError
from attire.idx import encode_idx
from data_fixtures import (NAMES, mirror, system_dir, tiny, tiny_arrays,  # noqa: F401 (fixtures)
                       unreachable_url, write_dataset)


def assert_same(loaded, arrays):
    (x_train, y_train), (x_test, y_test) = loaded
    for got, name in [(x_train, "train-images-idx3-ubyte"), (y_train, "train-labels-idx1-ubyte"),
                      (x_test, "t10k-images-idx3-ubyte"), (y_test, "t10k-labels-idx1-ubyte")]:
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])


def staging_leftovers():
    return list(data.cache_dir().parent.glob(".*download*"))


# --- the declarations -------------------------------------------------------------------------

def test_class_names_follow_the_label_numbers():
    assert len(data.CLASS_NAMES) == 10
    assert data.CLASS_NAMES[0] == "T-shirt/top" and data.CLASS_NAMES[9] == "Ankle boot"


def test_files_and_mirrors_are_declared_in_one_table():
    assert list(data.RESOURCES) == NAMES
    assert all(re.fullmatch("[0-9a-f]{64}", sha) for sha in data.RESOURCES.values())
    assert all(url.startswith(("http://", "https://")) and url.endswith("/") for url in data.MIRRORS)


def test_cache_follows_xdg_cache_home(isolated_cache):
    assert data.cache_dir() == isolated_cache / "attire" / "fashion-mnist"


# --- search order ---------------------------------------------------------------------------

@pytest.mark.parametrize("winner", ["argument", "environment", "cache", "system"])
def test_search_order(tmp_path, tiny, system_dir, monkeypatch, winner):
    places = {"argument": tmp_path / "given", "environment": tmp_path / "from-env",
              "cache": data.cache_dir(), "system": system_dir}
    order = list(places)
    for place in order[order.index(winner):]:  # the winner and every place after it hold data
        write_dataset(places[place], tiny)
    if winner in ("argument", "environment"):
        monkeypatch.setenv(data.DATA_DIR_ENV, str(places["environment"]))
    location = data.locate_data(places["argument"] if winner == "argument" else None, progress=False)
    assert location.directory == places[winner]
    assert location.verified
    assert_same(data.read_data(location), tiny)


def test_plain_files_are_found_too(tmp_path, tiny):
    write_dataset(tmp_path / "plain", tiny, gzipped=False)
    assert_same(data.load_data(tmp_path / "plain"), tiny)


def test_incomplete_cache_falls_through_to_the_system_folder(tiny, system_dir):
    write_dataset(data.cache_dir(), tiny, names=NAMES[:2])
    write_dataset(system_dir, tiny)
    assert data.locate_data(progress=False).directory == system_dir


@pytest.mark.parametrize("how", ["argument", "environment"])
@pytest.mark.parametrize("problem", ["empty folder", "no such folder", "one file missing"])
def test_a_chosen_folder_without_the_data_is_an_error_not_a_fallback(
        tmp_path, tiny, monkeypatch, how, problem):
    write_dataset(data.cache_dir(), tiny)  # a fallback would succeed
    chosen = tmp_path / "chosen"
    if problem == "empty folder":
        chosen.mkdir()
    elif problem == "one file missing":
        write_dataset(chosen, tiny, names=NAMES[:3])
    if how == "environment":
        monkeypatch.setenv(data.DATA_DIR_ENV, str(chosen))
    with pytest.raises(DatasetError) as caught:
        data.load_data(chosen if how == "argument" else None)
    message = str(caught.value)
    assert str(chosen) in message
    assert "t10k-labels-idx1-ubyte" in message or "not a folder" in message
    assert ("--data-dir" if how == "argument" else "$ATTIRE_DATA_DIR") in message
    assert "choose another folder" in message


# --- downloads --------------------------------------------------------------------------------

def test_download_fills_the_cache_with_verified_files_only(tiny, mirror, monkeypatch):
    # compresslevel 1: the mirror's gzip differs from ours; only the content must match
    write_dataset(mirror.root, tiny, compresslevel=1)
    monkeypatch.setattr(data, "MIRRORS", [mirror.url])
    assert_same(data.load_data(progress=False), tiny)
    assert sorted(p.name for p in data.cache_dir().iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    assert sorted(mirror.requests) == sorted(f"/{n}.gz" for n in NAMES)
    assert staging_leftovers() == []
    # the second time the cache answers
    location = data.locate_data(progress=False)
    assert location.source == "user cache" and location.verified
    assert len(mirror.requests) == 4


def test_download_shows_a_progress_bar(tiny, mirror, monkeypatch, capsys):
    write_dataset(mirror.root, tiny)
    monkeypatch.setattr(data, "MIRRORS", [mirror.url])
    data.load_data(progress=True)
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_a_chosen_mirror_replaces_the_default_ones(tiny, mirror, monkeypatch, how):
    write_dataset(mirror.root, tiny)
    if how == "environment":
        monkeypatch.setenv(data.MIRROR_ENV, mirror.url)
    assert_same(data.load_data(mirror=mirror.url if how == "argument" else None, progress=False), tiny)
    assert len(mirror.requests) == 4


def test_the_next_mirror_is_tried_when_one_fails(tiny, mirror, monkeypatch):
    write_dataset(mirror.root, tiny)
    monkeypatch.setattr(data, "MIRRORS", [unreachable_url(), mirror.url])
    assert_same(data.load_data(progress=False), tiny)


def test_only_missing_files_are_downloaded(tiny, mirror, monkeypatch):
    write_dataset(data.cache_dir(), tiny, names=NAMES[:2])
    write_dataset(mirror.root, tiny)
    monkeypatch.setattr(data, "MIRRORS", [mirror.url])
    assert_same(data.load_data(progress=False), tiny)
    assert sorted(mirror.requests) == sorted(f"/{n}.gz" for n in NAMES[2:])


@pytest.mark.parametrize("damage", ["other content", "truncated gzip"])
def test_a_corrupt_download_is_refused_and_never_cached(tiny, mirror, monkeypatch, damage):
    write_dataset(mirror.root, tiny)
    bad = mirror.root / "train-labels-idx1-ubyte.gz"
    if damage == "other content":  # a valid IDX file, one label changed
        labels = tiny["train-labels-idx1-ubyte"].copy()
        labels[0] = 9 - labels[0]
        bad.write_bytes(gzip.compress(encode_idx(labels)))
    else:
        bad.write_bytes(bad.read_bytes()[:-12])
    monkeypatch.setattr(data, "MIRRORS", [mirror.url])
    with pytest.raises(DatasetError) as caught:
        data.load_data(progress=False)
    message = str(caught.value)
    assert f"{mirror.url}train-labels-idx1-ubyte.gz" in message
    assert ("checksum mismatch" if damage == "other content" else "truncated") in message
    assert not (data.cache_dir() / "train-labels-idx1-ubyte.gz").exists()
    assert staging_leftovers() == []
    # what did reach the cache is good
    assert [p.name for p in data.cache_dir().iterdir()] == ["train-images-idx3-ubyte.gz"]


def test_a_file_missing_on_the_mirror_is_a_clear_error(tiny, mirror, monkeypatch, system_dir):
    write_dataset(mirror.root, tiny)
    (mirror.root / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setattr(data, "MIRRORS", [mirror.url])
    with pytest.raises(DatasetError) as caught:
        data.load_data(progress=False)
    message = str(caught.value)
    assert f"{mirror.url}t10k-labels-idx1-ubyte.gz: HTTP 404" in message
    assert str(data.cache_dir()) in message and str(system_dir) in message
    assert not (data.cache_dir() / "t10k-labels-idx1-ubyte.gz").exists()


def test_no_data_and_no_network_lists_every_place_and_every_fix(system_dir):
    with pytest.raises(DatasetError) as caught:
        data.load_data(progress=False)
    message = str(caught.value)
    assert f"{data.cache_dir()} (no such folder)" in message
    assert f"{system_dir} (no such folder)" in message
    assert f"{data.MIRRORS[0]}train-images-idx3-ubyte.gz: cannot connect" in message
    assert "(1)" in message and "--mirror" in message
    assert "(2) sudo apt-get install dataset-fashion-mnist" in message
    assert "(3)" in message and "--data-dir" in message
    assert staging_leftovers() == []


def test_a_mirror_must_be_an_http_url():
    with pytest.raises(DatasetError, match="'ftp://example.org/' is not an http"):
        data.load_data(mirror="ftp://example.org/")


def test_real_files_download_from_a_local_mirror(real_data, mirror, monkeypatch):
    for name in NAMES:
        os.symlink(real_data / f"{name}.gz", mirror.root / f"{name}.gz")
    monkeypatch.setattr(data, "MIRRORS", [mirror.url])
    (x_train, y_train), (x_test, y_test) = data.load_data(progress=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert data.locate_data(progress=False).source == "user cache"


# --- checks -----------------------------------------------------------------------------------

def test_tampered_data_is_refused_and_verify_false_loads_it_anyway(tmp_path):
    arrays = tiny_arrays()  # the real checksums stay: these files do not match them
    write_dataset(tmp_path / "mine", arrays)
    with pytest.raises(DatasetError, match="checksum mismatch") as caught:
        data.load_data(tmp_path / "mine")
    assert str(tmp_path / "mine" / "train-images-idx3-ubyte.gz") in str(caught.value)
    assert "verify=False" in str(caught.value)
    assert_same(data.load_data(tmp_path / "mine", verify=False), arrays)
    assert data.locate_data(tmp_path / "mine", verify=False).verified is False


def test_verification_is_remembered_until_the_file_changes(tmp_path, tiny, monkeypatch):
    folder = tmp_path / "mine"
    write_dataset(folder, tiny)
    data.load_data(folder)
    record = data.cache_dir().parent / "verified-files.json"
    assert len(record.read_text().split('"sha256"')) == 5  # one entry per file

    def no_hashing(*args):
        raise AssertionError("hashed a file that was already verified")
    real_check = data.check_sha256
    monkeypatch.setattr(data, "check_sha256", no_hashing)
    assert_same(data.load_data(folder), tiny)

    # a changed file is hashed again, and caught
    monkeypatch.setattr(data, "check_sha256", real_check)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    stat = labels.stat()
    other = tiny["t10k-labels-idx1-ubyte"][::-1].copy()
    labels.write_bytes(gzip.compress(encode_idx(other)))
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        data.load_data(folder)


@pytest.mark.parametrize("place, remedy", [("cache", "download it again"), ("system", "--reinstall")])
def test_a_bad_file_says_what_to_do_where_it_lives(tiny, system_dir, place, remedy):
    folder = data.cache_dir() if place == "cache" else system_dir
    write_dataset(folder, tiny)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b junk")
    with pytest.raises(DatasetError, match=remedy) as caught:
        data.load_data(progress=False)
    assert str(folder / "t10k-images-idx3-ubyte.gz") in str(caught.value)


def _with(arrays, **changes):
    return {**arrays, **{name.replace("_", "-"): value for name, value in changes.items()}}


BAD_DATASETS = {
    "label out of range": (dict(train_labels_idx1_ubyte=np.array([0, 1, 12] + [0] * 9, np.uint8)),
                           "label 12 at index 2, expected 0 to 9"),
    "counts disagree": (dict(train_labels_idx1_ubyte=np.zeros(11, np.uint8)),
                        "holds 12 images but .* holds 11 labels"),
    "images not 28x28": (dict(t10k_images_idx3_ubyte=np.zeros((6, 32, 32), np.uint8)),
                         r"shape \(6, 32, 32\), expected \(N, 28, 28\)"),
    "labels not 1-D": (dict(t10k_labels_idx1_ubyte=np.zeros((6, 1), np.uint8)),
                       r"labels of shape \(6, 1\), expected \(N,\)"),
}


@pytest.mark.parametrize("case", BAD_DATASETS)
def test_structural_checks_hold_without_checksums(tmp_path, case):
    changes, message = BAD_DATASETS[case]
    write_dataset(tmp_path / "mine", _with(tiny_arrays(), **changes))
    with pytest.raises(DatasetError, match=message):
        data.load_data(tmp_path / "mine", verify=False)


# --- the real data ------------------------------------------------------------------------------

def keras_reader(folder):
    """How tf.keras.datasets.fashion_mnist.load_data reads the files."""
    def read(name, offset):
        with gzip.open(folder / f"{name}.gz", "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    y_train = read("train-labels-idx1-ubyte", 8)
    x_train = read("train-images-idx3-ubyte", 16).reshape(len(y_train), 28, 28)
    y_test = read("t10k-labels-idx1-ubyte", 8)
    x_test = read("t10k-images-idx3-ubyte", 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)


def test_real_data_is_bit_identical_to_the_keras_loader(real_data):
    (x_train, y_train), (x_test, y_test) = data.load_data(real_data)
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == \
        ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    (kx_train, ky_train), (kx_test, ky_test) = keras_reader(real_data)
    for ours, theirs in [(x_train, kx_train), (y_train, ky_train), (x_test, kx_test), (y_test, ky_test)]:
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert np.array_equal(ours, theirs)


def test_real_data_matches_the_declared_checksums(real_data):
    for name, expected in data.RESOURCES.items():
        with gzip.open(real_data / f"{name}.gz", "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == expected, name
    location = data.locate_data(real_data)
    assert location.verified and location.directory == real_data
