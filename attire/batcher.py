"""Micro-batching: many threads each ask for a few rows; one thread runs the model on them together.

Why one thread: on a 2-core machine two threads inside one model only fight over the
cores, and a batch of 50 images costs little more than one. Why no timer: requests that
arrive while the model is busy simply wait in the queue and go into the next call
together, so an idle server answers at once and a busy one batches by itself.
"""

import queue
import threading
from concurrent.futures import Future
from typing import Callable

import numpy as np

MAX_BATCH = 256  # rows per model call; more waiting requests go into the next call


class Batcher:
    """Runs `function` ((N, ...) array -> (N, K) array) on the rows of many `submit` calls at once."""

    def __init__(self, function: Callable[[np.ndarray], np.ndarray], max_batch: int = MAX_BATCH,
                 name: str = "attire-batcher"):
        self.function = function
        self.max_batch = max_batch
        self.name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, rows: np.ndarray) -> Future:
        """A future for `function(rows)`; wrap it with `asyncio.wrap_future` to await it."""
        future: Future = Future()
        self._start()
        self._queue.put((rows, future))
        return future

    def close(self, timeout: float = 10) -> None:
        """Finish the calls already queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _start(self) -> None:
        # Started on first use rather than in __init__, so an app that never predicts
        # (or a test client without a lifespan) leaves no thread behind.
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            jobs, stop = self._next_jobs()
            if jobs:
                self._run(jobs)
            if stop:
                return

    def _next_jobs(self) -> tuple[list, bool]:
        """Block for one job, then take whatever else is already waiting, up to max_batch rows."""
        first = self._queue.get()
        if first is None:
            return [], True
        jobs, n_rows = [first], len(first[0])
        while n_rows < self.max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            n_rows += len(job[0])
        return jobs, False

    def _run(self, jobs: list) -> None:
        # A caller that gave up (its future cancelled) costs nothing.
        jobs = [(rows, future) for rows, future in jobs if future.set_running_or_notify_cancel()]
        if not jobs:
            return
        try:
            outputs = self.function(np.concatenate([rows for rows, _ in jobs]))
        except BaseException as error:
            if len(jobs) == 1:
                jobs[0][1].set_exception(error)
                return
            # One job's rows may be what failed: retry each alone, so the others still get answers.
            for rows, future in jobs:
                try:
                    future.set_result(self.function(rows))
                except BaseException as own_error:
                    future.set_exception(own_error)
            return
        start = 0
        for rows, future in jobs:
            future.set_result(outputs[start:start + len(rows)])
            start += len(rows)
