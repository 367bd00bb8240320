"""attire.photos: dataset images rendered as product photos."""

import numpy as np
import pytest
from PIL import Image

from attire import photos
from attire.errors import ImageError
from attire.images import TRIM_TOLERANCE, read_image
from attire.photos import encode_photo, render_product_photo, save_photo


def garment() -> np.ndarray:
    """A bright 20×12 block with a dimmer middle, on black: a dataset image in miniature."""
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 8:20] = 255
    image[10:18, 11:17] = 128
    return image


def test_photo_is_rgb_and_sized_as_asked():
    photo = render_product_photo(garment(), np.random.default_rng(0), long_side=321)
    assert isinstance(photo, Image.Image) and photo.mode == "RGB" and max(photo.size) == 321


def test_random_draws_stay_in_the_documented_ranges():
    rng = np.random.default_rng(1)
    for _ in range(10):
        photo = np.asarray(render_product_photo(garment(), rng), dtype=int)
        assert photos.LONG_SIDE_RANGE[0] <= max(photo.shape[:2]) <= photos.LONG_SIDE_RANGE[1]
        corner = photo[:3, :3].reshape(-1, 3).mean(axis=0)
        assert corner.mean() > 255 * photos.BACKGROUND_VALUE_RANGE[0] * 0.8  # light background
        assert photo.min() < corner.min() - 40  # a garment darker than it


def test_same_seed_same_photo():
    first, again, other = (render_product_photo(garment(), np.random.default_rng(seed)) for seed in (5, 5, 6))
    np.testing.assert_array_equal(np.asarray(first), np.asarray(again))
    assert first.size != other.size or not np.array_equal(np.asarray(first), np.asarray(other))


def test_colours_and_margins_are_placed_exactly():
    solid = np.full((28, 28), 255, np.uint8)  # the garment fills its whole box
    photo = render_product_photo(solid, np.random.default_rng(0), long_side=200, garment_colour=(10, 20, 30),
                                 background_colour=(250, 240, 230), margins=(0.1, 0.2, 0.3, 0.4),
                                 noise=False, shadow=False)
    pixels = np.asarray(photo)
    box = round(200 / 1.6)  # the taller side: 1 + 0.2 + 0.4 box sides = 200 px
    assert photo.size == (round(0.1 * box) + box + round(0.3 * box), 200)
    dark = np.flatnonzero((pixels[:, :, 0] < 100).any(axis=0)), np.flatnonzero((pixels[:, :, 0] < 100).any(axis=1))
    assert (dark[0][0], dark[1][0]) == (round(0.1 * box), round(0.2 * box))
    assert tuple(pixels[0, 0]) == (250, 240, 230) and tuple(pixels[100, 60]) == (10, 20, 30)


def test_shadow_and_shading_stay_under_the_trim_tolerance():
    rng = np.random.default_rng(2)
    for _ in range(5):
        photo = np.asarray(render_product_photo(np.zeros((28, 28), np.uint8), rng, noise=False), dtype=float)
        spread = np.abs(photo - np.median(photo.reshape(-1, 3), axis=0)).max()
        assert spread <= TRIM_TOLERANCE * 255


@pytest.mark.parametrize("bad", [np.zeros((28, 28), np.float32), np.zeros((32, 32), np.uint8), [[0] * 28] * 28])
def test_refuses_what_is_not_a_dataset_image(bad):
    with pytest.raises(ImageError, match=r"expected a \(28, 28\) uint8"):
        render_product_photo(bad, np.random.default_rng(0))


def test_encode_and_save(tmp_path):
    rng = np.random.default_rng(3)
    photo = render_product_photo(garment(), rng, long_side=200)
    np.testing.assert_array_equal(np.asarray(read_image(encode_photo(photo, rng, file_format="PNG"))),
                                  np.asarray(photo))
    jpeg = read_image(encode_photo(photo, rng))
    assert np.abs(np.asarray(jpeg, dtype=int) - np.asarray(photo)).mean() < 4
    for name, file_format in (("a.jpg", "JPEG"), ("b.JPEG", "JPEG"), ("c.png", "PNG")):
        path = save_photo(photo, tmp_path / name, rng)
        assert Image.open(path).format == file_format
    with pytest.raises(ImageError, match="suffix must be"):
        save_photo(photo, tmp_path / "d.gif", rng)
    with pytest.raises(ImageError, match="'JPEG' or 'PNG'"):
        encode_photo(photo, rng, file_format="BMP")
