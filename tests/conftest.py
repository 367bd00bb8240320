"""Shared fixtures: the real dataset where it is installed, and a CLI runner."""

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

DEBIAN_DATA = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own empty user cache, so no test reads or pollutes ~/.cache."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("ATTIRE_DATA_DIR", raising=False)
    monkeypatch.delenv("ATTIRE_DATA_MIRROR", raising=False)
    return cache


@pytest.fixture
def real_data() -> Path:
    """The Debian package's copy of Fashion-MNIST; CI installs it, so it is never skipped there."""
    if not DEBIAN_DATA.is_dir() and os.environ.get("CI"):
        pytest.fail(f"{DEBIAN_DATA} is missing on CI: .ci/run must install dataset-fashion-mnist")
    if not DEBIAN_DATA.is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist to run the real-data tests")
    return DEBIAN_DATA


def run_cli(*args: str, env: dict | None = None, cwd=None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m attire ARGS` in a subprocess and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "attire", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout,
    )


@functools.lru_cache(maxsize=1)
def read_test_set(data_dir: Path):
    """The real test set (images (10000, 28, 28) uint8, labels (10000,)), loaded once per session."""
    from attire.data import load_data
    return load_data(data_dir, progress=False)[1]
