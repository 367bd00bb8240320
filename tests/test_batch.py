"""Sharded batch prediction: `shard` splits inputs exactly, `iter_preprocessed` is the same with or without workers."""

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attire.batch import iter_preprocessed, shard
from attire.errors import ConfigError
from fake_photos import load_crashing, load_png
from synthetic import make_images

try:
    from attire.images import load_photo
except ModuleNotFoundError:  # another branch brings it; until then the stand-in alone runs
    load_photo = None

LOADERS = [pytest.param(load_png, id="stand-in"),
           pytest.param(None, id="attire.images", marks=pytest.mark.skipif(
               load_photo is None, reason="attire.images is not in this tree yet"))]


@pytest.mark.parametrize("n_shards", [1, 2, 3, 7, 10, 25])
def test_shards_hold_every_item_exactly_once(n_shards):
    items = [Path(f"photos/{name}.jpg") for name in "kite ant zebra moth fox owl yak bee elk gnu".split()]
    shuffled = random.Random(n_shards).sample(items, len(items))
    shards = [shard(items, f"{i}/{n_shards}") for i in range(n_shards)]
    assert sorted(sum(shards, []), key=str) == sorted(items, key=str)
    assert len(set(sum(shards, []))) == len(items)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1       # empty ones too when n > items
    assert shards == [shard(shuffled, f"{i}/{n_shards}") for i in range(n_shards)]  # input order is irrelevant


def test_shards_of_records_sort_by_their_key():
    records = [{"path": name} for name in ["b.png", "c.png", "a.png"]]
    assert shard(records, "0/2", key=lambda record: record["path"]) == [{"path": "a.png"}, {"path": "c.png"}]


@pytest.mark.parametrize("spec", ["3/2", "2/2", "-1/2", "0/0", "1", "a/b", "1/2/3", ""])
def test_bad_shard_specs_say_what_is_expected(spec):
    with pytest.raises(ConfigError, match=r"expected i/n with 0 ≤ i < n"):
        shard(["a", "b"], spec)


def write_inputs(directory: Path, n_images: int) -> tuple[list[Path], np.ndarray, set[int]]:
    """28×28 grey PNGs like the dataset's (which load_photo passes through unchanged), and two bad inputs."""
    images, _ = make_images(n_images, seed=3)
    paths = []
    for i, image in enumerate(images):
        paths.append(directory / f"{i:02d}.png")
        Image.fromarray(image).save(paths[-1])
    (directory / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    bad = {3, 8}
    paths.insert(3, directory / "broken.png")
    paths.insert(8, directory / "missing.png")
    return paths, images, bad


@pytest.mark.timeout(120)
@pytest.mark.parametrize("load", LOADERS)
def test_workers_give_the_same_batches_as_one_process(tmp_path, load):
    paths, images, bad = write_inputs(tmp_path, 10)
    in_process = list(iter_preprocessed(paths, workers=0, batch_size=4, load=load))
    pooled = list(iter_preprocessed(paths, workers=2, batch_size=4, load=load))

    assert [len(batch.paths) for batch in in_process] == [4, 4, 4]
    assert [batch.paths for batch in pooled] == [batch.paths for batch in in_process]
    assert sum((batch.paths for batch in pooled), []) == paths
    for ours, theirs in zip(pooled, in_process):
        assert ours.views.dtype == np.uint8 and ours.views.shape == (len(ours.paths), 28, 28)
        assert np.array_equal(ours.views, theirs.views)
        assert [e is None for e in ours.errors] == [e is None for e in theirs.errors]
    views = np.concatenate([batch.views for batch in pooled])
    errors = sum((batch.errors for batch in pooled), [])
    assert {i for i, error in enumerate(errors) if error} == bad
    assert all(isinstance(errors[i], str) and "\n" not in errors[i] for i in bad)
    assert not views[sorted(bad)].any()                               # failed rows are zeros
    assert np.array_equal(np.delete(views, sorted(bad), axis=0), images)  # dataset-like images pass unchanged


def test_a_crash_on_one_input_is_reported_in_its_place(tmp_path):
    paths, _, _ = write_inputs(tmp_path, 2)
    (batch,) = iter_preprocessed(paths, workers=0, batch_size=8, load=load_crashing)
    assert all(error.startswith("internal error: ValueError: a bug on") for error in batch.errors)


def test_no_inputs_no_batches():
    assert list(iter_preprocessed([], workers=2)) == []


@pytest.mark.parametrize("workers, batch_size", [(-1, 8), (0, 0)])
def test_bad_pool_settings_are_refused(workers, batch_size):
    with pytest.raises(ConfigError, match="workers must be 0 or more"):
        list(iter_preprocessed(["a.png"], workers=workers, batch_size=batch_size))
