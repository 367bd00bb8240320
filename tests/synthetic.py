"""Tiny learnable datasets in the layout of the official files, made by the tests themselves."""

from pathlib import Path

import numpy as np

from data_fixtures import write_dataset


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable images: each class is a bright bar at its own height, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 2 + 2 * int(label)
        images[i, row:row + 3, 4:24] = 220
    return images, labels


def make_dataset(directory: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """A data directory with learnable synthetic images (load it with verify=False)."""
    (train_images, train_labels), (test_images, test_labels) = make_images(n_train, seed), make_images(n_test, seed + 1)
    write_dataset(directory, {
        "train-images-idx3-ubyte": train_images, "train-labels-idx1-ubyte": train_labels,
        "t10k-images-idx3-ubyte": test_images, "t10k-labels-idx1-ubyte": test_labels,
    })
    return directory
