"""Tiny Fashion-MNIST look-alikes and a local mirror, so data tests run in milliseconds offline.

Test modules import the fixtures they use from here (`system_dir` is autouse there).
"""

import gzip
import hashlib
import socket
import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from attire import data
from attire.idx import encode_idx

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def tiny_arrays(n_train: int = 12, n_test: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """Random images and labels under the Fashion-MNIST file names."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_dataset(directory: Path, arrays: dict[str, np.ndarray], *, gzipped: bool = True,
                  names=NAMES, compresslevel: int = 9) -> dict[str, str]:
    """Write `arrays` as IDX files; return name -> SHA-256 of the decompressed content."""
    directory.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for name in names:
        content = encode_idx(arrays[name])
        checksums[name] = hashlib.sha256(content).hexdigest()
        if gzipped:
            (directory / f"{name}.gz").write_bytes(gzip.compress(content, compresslevel=compresslevel))
        else:
            (directory / name).write_bytes(content)
    return checksums


@dataclass
class Mirror:
    root: Path                  # the folder it serves
    url: str                    # http://127.0.0.1:PORT/
    requests: list = field(default_factory=list)  # paths asked for, in order


class _QuietHandler(SimpleHTTPRequestHandler):
    seen: list

    def do_GET(self):
        self.seen.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


def start_mirror(root: Path):
    """Serve `root` over HTTP on a free port; returns (mirror, stop function)."""
    root.mkdir(parents=True, exist_ok=True)
    seen = []
    handler = type("Handler", (_QuietHandler,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    return Mirror(root, f"http://127.0.0.1:{server.server_port}/", seen), stop


def unreachable_url() -> str:
    """A URL on a port nobody listens on: connecting fails at once, as with no network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def system_dir(tmp_path, monkeypatch):
    """Keep tests off /usr/share and the internet unless they ask: an empty system
    folder and a mirror nobody answers."""
    folder = tmp_path / "system"
    monkeypatch.setattr(data, "SYSTEM_DIRS", [folder])
    monkeypatch.setattr(data, "MIRRORS", [unreachable_url()])
    return folder


@pytest.fixture
def tiny(monkeypatch):
    """Tiny arrays, with their checksums standing in for the real ones."""
    arrays = tiny_arrays()
    checksums = {name: hashlib.sha256(encode_idx(arrays[name])).hexdigest() for name in NAMES}
    monkeypatch.setattr(data, "RESOURCES", checksums)
    return arrays


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP mirror serving tmp_path/mirror."""
    served, stop = start_mirror(tmp_path / "mirror")
    yield served
    stop()
