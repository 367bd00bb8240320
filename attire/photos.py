"""Dataset images dressed up as product photos, to test the photo path without real photos.

`render_product_photo` runs the paper's path backwards: the bright-on-black 28×28 image
becomes a dark garment of some colour on a light background, some hundreds of pixels
across, placed off-centre with uneven margins, with a little sensor noise, a soft drop
shadow and uneven light; `encode_photo` / `save_photo` add JPEG compression. If
`attire.images.preprocess_photo` is right, it brings such a photo back close to the image
it came from (tests/test_images.py measures how close).

What it simulates: size, aspect, placement, garment and background colour, mild noise,
shadow and shading (each kept under the 5 % trim tolerance), JPEG artefacts.
What it does not: texture and detail finer than the 28×28 source (the upscale is smooth),
folds, real lighting, perspective and rotation, a person wearing the garment, cluttered or
patterned backgrounds, several objects, a garment touching the edge of the photo, or
a garment lighter than its background. A model that does well on these photos may still
fail on those.
"""

import colorsys
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from attire.errors import ImageError
from attire.fileio import write_bytes

LONG_SIDE_RANGE = (200, 900)      # px, the photo's long side
MARGIN_RANGE = (0.05, 0.6)        # each margin, as a fraction of the garment's 28×28 box
GARMENT_VALUE_RANGE = (0.05, 0.6)  # HSV value of the garment's colour: dark enough to show on light
BACKGROUND_VALUE_RANGE = (0.8, 1.0)  # HSV value of the background: white, light grey, beige
NOISE_SIGMA_MAX = 3.0             # grey levels of 0–255, sensor noise
SHADOW_DEPTH_MAX = 0.03           # fraction of the light taken away at the shadow's darkest
SHADING_MAX = 0.02                # fraction the light falls by across the photo
JPEG_QUALITY_RANGE = (70, 95)     # what phones and web shops use


def render_product_photo(image28: np.ndarray, rng: np.random.Generator, *,
                         long_side: int | None = None,
                         garment_colour: tuple[int, int, int] | None = None,
                         background_colour: tuple[int, int, int] | None = None,
                         margins: tuple[float, float, float, float] | None = None,
                         noise: bool = True, shadow: bool = True) -> Image.Image:
    """An RGB product photo of a (28, 28) uint8 dataset image; what is not given is drawn from `rng`.

    `long_side` is in pixels; colours are 0–255 RGB; `margins` are (left, top, right,
    bottom) as fractions of the garment's box, whose side is then chosen so the photo's
    long side is `long_side`. `shadow` adds a soft drop shadow and uneven light.
    """
    if not (isinstance(image28, np.ndarray) and image28.shape == (28, 28) and image28.dtype == np.uint8):
        got = (f"{image28.dtype} array of shape {image28.shape}" if isinstance(image28, np.ndarray)
               else type(image28).__name__)
        raise ImageError(f"render_product_photo: expected a (28, 28) uint8 dataset image; got a {got}")
    if long_side is None:
        long_side = int(rng.integers(*LONG_SIDE_RANGE, endpoint=True))
    left, top, right, bottom = rng.uniform(*MARGIN_RANGE, size=4) if margins is None else margins
    box = max(28, round(long_side / max(1 + left + right, 1 + top + bottom)))  # px, garment's box side
    left, top, right, bottom = (round(margin * box) for margin in (left, top, right, bottom))
    width, height = left + box + right, top + box + bottom

    # How much of each pixel is garment: the dataset's intensity, smoothly upscaled.
    upscaled = Image.fromarray(image28.astype(np.float32) / 255).resize((box, box), Image.Resampling.BICUBIC)
    coverage = np.zeros((height, width), np.float32)
    coverage[top:top + box, left:left + box] = np.clip(np.asarray(upscaled), 0, 1)

    garment = np.array(garment_colour if garment_colour is not None else _garment_colour(rng), np.float32)
    background = np.array(background_colour if background_colour is not None else _background_colour(rng), np.float32)
    photo = background + (garment - background) * coverage[..., None]  # (H, W, 3)
    if shadow:
        photo *= _light(coverage, box, rng)[..., None]
    if noise:  # grain in brightness only: a third of the random numbers, and colour noise adds nothing here
        grain = rng.standard_normal((height, width, 1), dtype=np.float32)
        photo += np.float32(rng.uniform(0, NOISE_SIGMA_MAX)) * grain
    return Image.fromarray(np.clip(photo + 0.5, 0, 255).astype(np.uint8))  # + 0.5: round, not truncate


def _garment_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    hue, saturation, value = rng.uniform(), rng.uniform(0, 0.9), rng.uniform(*GARMENT_VALUE_RANGE)
    return tuple(255 * channel for channel in colorsys.hsv_to_rgb(hue, saturation, value))


def _background_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """White or light grey, often warmed towards beige (less blue, a little less green)."""
    value = 255 * rng.uniform(*BACKGROUND_VALUE_RANGE)
    warmth = rng.uniform(0, 1) if rng.uniform() < 0.5 else 0.0
    return value, value * (1 - 0.05 * warmth), value * (1 - 0.15 * warmth)


def _light(coverage: np.ndarray, box: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) factors ≤ 1: a soft shadow cast down and aside, and light falling off one way."""
    height, width = coverage.shape
    dx, dy = (int(shift) for shift in rng.integers(1, max(2, box // 20), size=2, endpoint=True))
    cast = np.zeros_like(coverage)
    cast[dy:, dx:] = coverage[:height - dy, :width - dx]
    cast8 = Image.fromarray(np.round(cast * 255).astype(np.uint8))  # Pillow blurs 8-bit images only
    blurred = np.asarray(cast8.filter(ImageFilter.GaussianBlur(radius=max(1, box / 30))), np.float32) / 255
    shadow = np.float32(rng.uniform(0, SHADOW_DEPTH_MAX)) * blurred
    angle = rng.uniform(0, 2 * np.pi)
    across = np.float32(np.cos(angle)) * np.arange(width, dtype=np.float32) / width  # (W,)
    down = np.float32(np.sin(angle)) * np.arange(height, dtype=np.float32) / height  # (H,)
    ramp = (down[:, None] - down.min()) + (across[None, :] - across.min())
    ramp /= max(np.ptp(down) + np.ptp(across), 1e-6)  # 0 where the light is brightest, 1 opposite
    return (1 - shadow) * (1 - np.float32(rng.uniform(0, SHADING_MAX)) * ramp)


def encode_photo(photo: Image.Image, rng: np.random.Generator, *, file_format: str = "JPEG") -> bytes:
    """The photo as a file's bytes: JPEG at a random quality from JPEG_QUALITY_RANGE, or PNG."""
    buffer = io.BytesIO()
    if file_format.upper() in ("JPEG", "JPG"):
        photo.save(buffer, "JPEG", quality=int(rng.integers(*JPEG_QUALITY_RANGE, endpoint=True)))
    elif file_format.upper() == "PNG":
        photo.save(buffer, "PNG", compress_level=1)  # 5 times faster than the default; size does not matter here
    else:
        raise ImageError(f"encode_photo: format must be 'JPEG' or 'PNG'; got {file_format!r}")
    return buffer.getvalue()


def save_photo(photo: Image.Image, path: str | Path, rng: np.random.Generator) -> Path:
    """Write the photo atomically, as JPEG or PNG after the file's suffix (.jpg, .jpeg, .png)."""
    path = Path(path)
    formats = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}
    if path.suffix.lower() not in formats:
        raise ImageError(f"save_photo: {path}: the suffix must be .jpg, .jpeg or .png; got {path.suffix!r}")
    write_bytes(path, encode_photo(photo, rng, file_format=formats[path.suffix.lower()]))
    return path
