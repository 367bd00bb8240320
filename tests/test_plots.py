"""sample_grid: one PNG, the right size, ink where the images are, refusals that explain."""

import numpy as np
import pytest
from PIL import Image

from attire.plots import sample_grid


def grid_pixels(path):
    with Image.open(path) as picture:
        return np.asarray(picture.convert("L"))


@pytest.mark.parametrize("scale", ["uint8", "float"])
def test_grid_size_and_content(tmp_path, scale):
    images = np.zeros((6, 28, 28), np.uint8)
    images[:, 4:24, 4:24] = 255  # a black square in each cell under the binary map
    if scale == "float":
        images = images / 255.0  # the tutorial's scaled images draw the same
    out = sample_grid(images, np.arange(6), tmp_path / "grid.png", rows=2, cols=3, title=None)
    assert out == tmp_path / "grid.png"
    pixels = grid_pixels(out)
    assert pixels.shape == (2 * 100 + 10, 3 * 100 + 20)  # one-inch cells at 100 dpi, margins
    assert (pixels < 30).mean() > 0.1  # the black squares are there
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary file left


def test_fewer_images_than_cells_leaves_cells_empty(tmp_path):
    images = np.full((1, 28, 28), 255, np.uint8)
    pixels = grid_pixels(sample_grid(images, [3], tmp_path / "one.png", rows=2, cols=2, title=None))
    right_half = pixels[:, pixels.shape[1] // 2 + 10:]
    assert right_half.min() > 200  # nothing drawn there, not even a frame


def test_a_long_title_widens_a_narrow_grid(tmp_path):
    images = np.zeros((1, 28, 28), np.uint8)
    pixels = grid_pixels(sample_grid(images, [0], tmp_path / "t.png", rows=1, cols=1,
                                     title="a title much wider than one image"))
    assert pixels.shape[1] > 300


@pytest.mark.parametrize("images, labels, path, message", [
    (np.zeros((4, 28 * 28)), np.zeros(4), "x.png", r"expected images of shape \(N, H, W\)"),
    (np.zeros((4, 28, 28)), np.zeros(3), "x.png", r"labels of shape \(N,\)"),
    (np.zeros((4, 28, 28)), np.zeros(4), "x.jpg", "should end in .png"),
])
def test_bad_input_is_refused(tmp_path, images, labels, path, message):
    with pytest.raises(ValueError, match=message):
        sample_grid(images, labels, tmp_path / path)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_grid_is_refused(tmp_path):
    with pytest.raises(ValueError, match="rows and cols must be at least 1, got rows=0"):
        sample_grid(np.zeros((4, 28, 28)), np.zeros(4), tmp_path / "x.png", rows=0)
