"""Prediction at scale: split the inputs across machines, preprocess them in worker processes.

`shard` gives one machine (or job) its share of a list of inputs, the same share every
time; `iter_preprocessed` turns paths into what the model sees, batch by batch, with a
pool of worker processes decoding photos while the caller classifies the last batch.
A bad input becomes an error message in its place in the batch: one corrupt file among
a million never stops the run.

    for paths, views, errors in iter_preprocessed(shard(paths, "0/2"), workers=4, batch_size=256):
        probabilities = classifier.predict_proba(views)   # rows whose input failed are zeros
        ...                                               # report errors[i] for those instead

numpy only (no torch): an ONNX-only install predicts in batches too.
"""

import collections
import functools
import math
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np

from attire.errors import AttireError, ConfigError, ImageError

IMAGE_SIZE = 28  # px: the side of what the model sees

SHARD_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def shard(items: list, spec: str, key: Callable = str) -> list:
    """Shard `spec` ("i/n", i counted from 0) of `items`: every n-th item of the sorted list, from the i-th.

    The items are sorted by `key` (their text, for paths) first, so every machine that lists
    the same inputs in any order takes the same share; the n shards together hold each item
    exactly once, and their sizes differ by one at most (a shard is empty when n exceeds the
    items).
    """
    match = SHARD_SPEC.fullmatch(spec)
    index, count = (int(match[1]), int(match[2])) if match else (-1, 0)
    if not 0 <= index < count:
        raise ConfigError(f"--shard {spec}: expected i/n with 0 ≤ i < n (shards are counted from 0), "
                          "for example --shard 0/2 and --shard 1/2 to split the inputs in two")
    return sorted(items, key=key)[index::count]


class Batch(NamedTuple):
    paths: list           # this batch's inputs, in the order given
    views: np.ndarray     # (B, 28, 28) uint8, what the model sees; zeros where the input failed
    errors: list          # per input: None, or a one-line message saying why it failed


def iter_preprocessed(paths: Iterable, workers: int = 0, batch_size: int = 256,
                      load: Callable | None = None) -> Iterator[Batch]:
    """Batches of preprocessed inputs, in input order, made by `workers` processes (0: in this one).

    Each input goes through `load` (default `attire.images.load_photo`: a path to a (28, 28)
    uint8 view); its ImageError, or any other failure, becomes that input's message in
    `errors`. With workers, a few batches are prepared ahead of the one being yielded:
    enough to keep every worker busy, few enough to hold memory to a few batches.
    `load` must be picklable (a module-level function) to reach the workers.
    """
    if workers < 0 or batch_size < 1:
        raise ConfigError(f"workers must be 0 or more and batch_size 1 or more, got workers={workers}, "
                          f"batch_size={batch_size}")
    paths = list(paths)
    batches = [paths[start:start + batch_size] for start in range(0, len(paths), batch_size)]
    load_one = functools.partial(preprocess_one, load)
    if workers == 0:
        for batch in batches:
            yield assemble(batch, [load_one(path) for path in batch])
        return
    ahead = max(2, math.ceil(4 * workers / batch_size))  # batches in flight
    chunk = max(1, batch_size // (4 * workers))           # inputs per task: small, so the workers share evenly
    # spawn, not fork: the caller may have torch's thread pools running, which a fork can deadlock.
    # An executor, not multiprocessing.Pool: a worker that dies makes it fail, where a Pool waits for ever.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending = collections.deque()
        for batch in batches:
            pending.append((batch, pool.map(load_one, batch, chunksize=chunk)))
            if len(pending) > ahead:
                yield finish(*pending.popleft())
        while pending:
            yield finish(*pending.popleft())
    finally:
        pool.shutdown(cancel_futures=True)  # a caller that stops early does not wait for the batches ahead


def finish(paths: list, results: Iterator) -> "Batch":
    try:
        return assemble(paths, list(results))
    except BrokenProcessPool:
        raise AttireError(f"a preprocessing worker died (out of memory, or a crash in an image decoder) on "
                          f"one of the {len(paths)} inputs from {paths[0]}: rerun with --workers 0 to see "
                          "which, and leave it out") from None


def preprocess_one(load: Callable | None, path) -> tuple[np.ndarray | None, str | None]:
    """(view, None) for an input that loads, (None, message) for one that does not."""
    if load is None:
        from attire.images import load_photo as load
    try:
        view = np.asarray(load(path))
    except ImageError as e:
        return None, " ".join(str(e).split())
    except Exception as e:  # a bug of ours on one odd file: report it with the file, keep going
        message = " ".join(str(e).split())
        return None, f"internal error: {type(e).__name__}: {message} (please report it with the file)"
    if view.shape != (IMAGE_SIZE, IMAGE_SIZE) or view.dtype != np.uint8:
        return None, f"internal error: the preprocessor gave a {view.dtype} array of shape {view.shape}"
    return view, None


def assemble(paths: list, results: list) -> Batch:
    views = np.zeros((len(paths), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    errors = []
    for row, (view, error) in enumerate(results):
        if view is not None:
            views[row] = view
        errors.append(error)
    return Batch(paths, views, errors)
