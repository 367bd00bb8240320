"""Tiny synthetic Fashion-MNIST-format datasets that tests make for themselves."""

import gzip
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """Write a uint8 array in IDX format (magic 0x0000 08 NDIM, big-endian dimensions)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable images: each class is a bright bar at its own position, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 2 + 2 * int(label)
        images[i, row:row + 3, 4:24] = 220
    return images, labels


def make_dataset(directory: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """A data directory in the layout of the official files, with learnable synthetic images."""
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, n, offset in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = make_images(n, seed + offset)
        write_idx(directory / f"{prefix}-images-idx3-ubyte", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels)
    return directory
