"""What the server tests share: a tiny trained model, images to upload, and a real `attire serve` process.

Test modules import the fixtures they use from here. The model learns the synthetic
classes of tests/synthetic.py (a bright bar at a height per class) in seconds, so an
answer can be checked against the true label, not only against the model itself.
"""

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from attire.config import resolve_config
from attire.training import train
from synthetic import make_dataset, make_images

STARTUP_S = 120  # importing torch and loading a model on 2 busy shared cores can take this long


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A cnn (width 8) trained on synthetic data; shared by every server test module."""
    run_dir = tmp_path_factory.getbasetemp() / "serve-tiny-model"
    model = run_dir / "model.safetensors"
    if not model.exists():
        data = make_dataset(tmp_path_factory.mktemp("serve-data"), n_train=600, n_test=100)
        config = resolve_config("fast", epochs=3, batch_size=32, val_size=100, verify_data=False, device="cpu",
                                augment=False, model_kwargs={"width": 8}, data_dir=str(data))
        train(config, out_dir=run_dir, quiet=True, log=lambda *_: None)
    return model


@pytest.fixture(scope="session")
def labelled_images() -> tuple[np.ndarray, np.ndarray]:
    """Twenty synthetic 28×28 images, two per class, and their labels."""
    images, labels = make_images(200, seed=7)
    picked = np.concatenate([np.flatnonzero(labels == k)[:2] for k in range(10)])
    return images[picked], labels[picked]


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


class ServerProcess:
    """`python -m attire serve ARGS --port 0` in a subprocess: its URL, an HTTP client, and a clean stop."""

    def __init__(self, *args: str, env: dict | None = None):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "attire", "serve", "--host", "127.0.0.1", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, **(env or {})})
        self.output: list[str] = []
        self.url = self._read_url()
        # Keep reading what it prints, so a full pipe never blocks the server.
        self._reader = threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True)
        self._reader.start()
        self._wait_healthy()

    def _read_url(self) -> str:
        deadline = time.monotonic() + STARTUP_S
        lines = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:  # the process ended before it served
                break
            lines.append(line)
            self.output.append(line)
            found = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
            if found:
                return found.group(1)
        self.process.kill()
        self.process.wait()
        raise AssertionError("attire serve did not print its URL:\n" + "".join(lines))

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, "attire serve exited while starting"
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"attire serve at {self.url} never answered /healthz")

    def stop(self) -> str:
        """SIGINT, as Ctrl+C would; returns all it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        return "".join(self.output)


@pytest.fixture(scope="module")
def server(tiny_model):
    """One real server process per test module, with the tiny model and a 1 MB upload limit."""
    process = ServerProcess("--model", str(tiny_model), "--max-upload-mb", "1", "--no-access-log")
    yield process
    process.stop()
