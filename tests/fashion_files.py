"""The Fashion-MNIST test set read straight from its gz files.

A stand-in for `attire.data.load_data` until that is merged; the IDX headers are 16
bytes for images and 8 for labels.
"""

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=2)
def read_test_set(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (10000, 28, 28) uint8, labels (10000,) uint8)."""
    with gzip.open(data_dir / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(data_dir / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels
