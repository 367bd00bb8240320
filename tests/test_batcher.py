"""The server's micro-batcher: right rows to the right caller, shared calls, failures kept apart."""

import threading
import time

import numpy as np
import pytest

from attire.batcher import Batcher


def doubled(rows: np.ndarray) -> np.ndarray:
    return rows * 2


def test_each_caller_gets_its_own_rows_back():
    batcher = Batcher(doubled)
    futures = [batcher.submit(np.full((n, 3), n)) for n in range(1, 6)]
    for n, future in enumerate(futures, start=1):
        assert np.array_equal(future.result(timeout=10), np.full((n, 3), 2 * n))
    batcher.close()


def test_requests_waiting_for_a_busy_model_share_the_next_call():
    calls, release = [], threading.Event()

    def slow(rows):
        calls.append(len(rows))
        release.wait(10)
        return rows

    batcher = Batcher(slow)
    first = batcher.submit(np.zeros((1, 1)))
    while not calls:  # the model is now busy with the first request
        time.sleep(0.01)
    waiting = [batcher.submit(np.full((1, 1), k)) for k in range(20)]
    release.set()
    assert [f.result(timeout=10)[0, 0] for f in waiting] == list(range(20))
    assert first.result(timeout=10).shape == (1, 1)
    assert calls == [1, 20]
    batcher.close()


def test_batches_stop_at_max_batch_rows():
    calls, release = [], threading.Event()

    def slow(rows):
        calls.append(len(rows))
        release.wait(10)
        return rows

    batcher = Batcher(slow, max_batch=4)
    batcher.submit(np.zeros((1, 1)))
    while not calls:
        time.sleep(0.01)
    futures = [batcher.submit(np.zeros((1, 1))) for _ in range(10)]
    release.set()
    for future in futures:
        future.result(timeout=10)
    assert calls == [1, 4, 4, 2]
    batcher.close()


def test_one_failing_request_does_not_fail_the_others_in_its_batch():
    release = threading.Event()

    def picky(rows):
        release.wait(10)
        if (rows < 0).any():
            raise ValueError("negative rows")
        return rows

    batcher = Batcher(picky)
    warm_up = batcher.submit(np.zeros((1, 1)))
    good = [batcher.submit(np.ones((1, 1))) for _ in range(3)]
    bad = batcher.submit(-np.ones((1, 1)))
    release.set()
    warm_up.result(timeout=10)
    assert all(f.result(timeout=10)[0, 0] == 1 for f in good)
    with pytest.raises(ValueError, match="negative"):
        bad.result(timeout=10)
    batcher.close()


def test_close_finishes_queued_work_and_stops_the_thread():
    batcher = Batcher(doubled)
    futures = [batcher.submit(np.ones((1, 1))) for _ in range(5)]
    thread = batcher._thread
    batcher.close()
    assert not thread.is_alive()
    assert all(f.done() and f.result()[0, 0] == 2 for f in futures)
