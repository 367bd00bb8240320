"""A stand-in for attire.images.load_photo that worker processes can import: 28×28 grey PNGs only.

It keeps the batch tests of the pool's machinery running before attire.images exists;
the same tests also run against the real load_photo once it is installed.
"""

import numpy as np
from PIL import Image, UnidentifiedImageError

from attire.errors import ImageError


def load_png(path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, UnidentifiedImageError) as e:
        raise ImageError(f"{path}: not a readable image ({e})") from None
    if image.mode != "L" or image.size != (28, 28):
        raise ImageError(f"{path}: the stand-in reads 28×28 grey images only, got {image.mode} {image.size}")
    return np.asarray(image)


def load_crashing(path) -> np.ndarray:
    raise ValueError(f"a bug on {path}")
