"""From a user's photo to what the model sees: a 28×28 grey image, garment bright on black.

Fashion-MNIST was made from product photos on light backgrounds (Xiao, Rasul and
Vollgraf 2017, arXiv:1708.07747, section 2): trim the margins close to the corner
colour, resize the long edge to 28 px, sharpen, centre on 28×28, negate, convert to
8-bit grey. A classifier trained on it sees only images made that way, so a user's photo
must take the same path; feeding it a raw, resized photo is why such classifiers call
"everything a Bag". `preprocess_photo` is that path; `read_image` gets any reasonable
input into Pillow first, with limits, and turns every failure into an `ImageError`.

numpy and Pillow only: an ONNX-only install (no torch) uses this module.
"""

import contextlib
import io
import os
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from attire.errors import ImageError

SUPPORTED_FORMATS = ("JPEG", "PNG", "WebP", "BMP", "GIF", "TIFF")  # Pillow's JPEG opener also takes cameras' MPO

MAX_FILE_BYTES = 20 * 1024 * 1024  # checked before reading: a phone's JPEG is 2–8 MB
MAX_PIXELS = 40_000_000            # checked from the header, before decoding (≈ 160 MB as RGBA)
IMAGE_SIZE = 28                    # px, the side of a Fashion-MNIST image
TRIM_TOLERANCE = 0.05              # the paper's: trim what is within 5 % of full scale of the background
WORKING_SIZE = 512                 # px; larger photos are shrunk first (the result is 28 px anyway)
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, the weights of Pillow's convert("L")


# ---------------------------------------------------------------- reading

def read_image(source, *, name: str | None = None) -> Image.Image:
    """Read a photo into a decoded Pillow image in mode "RGB" or "L".

    `source` is a path, bytes, a binary file object, a PIL image or a numpy array
    (H×W, H×W×3 or H×W×4 of uint8, uint16, or float in [0, 1]). The EXIF orientation is
    applied, transparency is flattened on white (a product photo's background), 16-bit
    images are scaled to 8 bits, and a GIF or TIFF gives its first frame. `name` labels
    the input in error messages (default: the path, or a description of the object).
    Every failure raises `ImageError` with a one-line message saying what to do.
    """
    label = name or _describe(source)
    if isinstance(source, np.ndarray):
        return _image_from_array(source, label)
    with _pillow_errors(label):
        if isinstance(source, Image.Image):
            _check_pixels(source.size, label)
            image = source
        else:
            image = _open(_read_bytes(source, label), label)
        image.load()
        image = _apply_orientation(image)
        return _to_rgb_or_grey(image, label)


def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "the image bytes"
    if isinstance(source, Image.Image):
        return getattr(source, "filename", "") or "the PIL image"
    if isinstance(source, np.ndarray):
        return "the image array"
    return str(getattr(source, "name", "") or "the image stream")


@contextlib.contextmanager
def _pillow_errors(label: str):
    """Turn what Pillow raises on bad data into one `ImageError` that says what to do."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{label}: refused as a possible decompression bomb ({exc}); "
                         f"shrink the image (the model only sees {IMAGE_SIZE}×{IMAGE_SIZE} pixels)") from exc
    except (OSError, SyntaxError, EOFError, ValueError, struct.error) as exc:
        raise ImageError(f"{label}: the image data is truncated or corrupt ({exc}); "
                         "re-save or re-download the file") from exc


def _read_bytes(source, label: str) -> bytes:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            hint = ("attire does not download images; save it first" if str(source).startswith(("http:", "https:"))
                    else f"check the path (relative paths start at {Path.cwd()})")
            raise ImageError(f"{label}: no such file; {hint}")
        if path.is_dir():
            raise ImageError(f"{label}: is a directory, not an image file; give the path of one image "
                             f"({', '.join(SUPPORTED_FORMATS)})")
        _check_file_size(path.stat().st_size, label)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"{label}: cannot be read ({exc.strerror}); check its permissions") from exc
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read(MAX_FILE_BYTES + 1)  # one byte more than allowed tells "too big"
        if not isinstance(data, bytes):
            raise ImageError(f"{label}: the file object gives text, not bytes; open it with mode 'rb'")
    else:
        raise ImageError(f"{label}: expected a path, bytes, a binary file object, a PIL image or a numpy "
                         f"array; got {type(source).__name__}")
    _check_file_size(len(data), label)
    return data


def _check_file_size(n_bytes: int, label: str) -> None:
    if n_bytes == 0:
        raise ImageError(f"{label}: the file is empty (0 bytes); re-save or re-download it")
    if n_bytes > MAX_FILE_BYTES:
        raise ImageError(f"{label}: {n_bytes / 2**20:.1f} MB is more than the limit of "
                         f"{MAX_FILE_BYTES / 2**20:.1f} MB; shrink it or save it as JPEG "
                         f"(the model only sees {IMAGE_SIZE}×{IMAGE_SIZE} pixels)")


def _check_pixels(size: tuple[int, int], label: str) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageError(f"{label}: {width}×{height} is {width * height / 1e6:.1f} megapixels, more than the limit of "
                         f"{MAX_PIXELS / 1e6:g}; shrink it (2000 px on the long side is plenty)")


def _open(data: bytes, label: str) -> Image.Image:
    """Read the header only: the size is known, and checked, before anything is decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=[name.upper() for name in SUPPORTED_FORMATS])
    except UnidentifiedImageError as exc:
        raise ImageError(f"{label}: {_what_else(data)}; attire reads {', '.join(SUPPORTED_FORMATS)} - "
                         "convert it to PNG or JPEG") from exc
    _check_pixels(image.size, label)
    return image


def _what_else(data: bytes) -> str:
    """Name the format Pillow recognises but we do not support, if any, for the message."""
    try:
        with Image.open(io.BytesIO(data)) as other:
            return f"is a {other.format} image, a format attire does not read"
    except Exception:  # only words a message: anything unreadable is "not an image"
        return "is not an image in a format attire can read (or its header is corrupt)"


def _apply_orientation(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not reject pixels that decoded fine
        return image


def _to_rgb_or_grey(image: Image.Image, label: str) -> Image.Image:
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        flat = _flatten_on_white(image)
        return flat.convert("L") if mode == "LA" else flat
    if mode in ("P", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    if mode.startswith("I"):
        values = np.clip(np.asarray(image, dtype=np.float64), 0, 65535)
        # I;16, I;16B, I;16L are 16-bit; plain "I" (32-bit) is 16-bit data from a TIFF or
        # 8-bit data from convert("I") or an int array: its largest value tells which.
        if mode != "I" or values.max() > 255:
            values = values / 257
        return Image.fromarray(np.round(values).astype(np.uint8))
    if mode == "F":
        return _image_from_array(np.asarray(image), label)
    raise ImageError(f"{label}: images in Pillow mode {mode!r} are not supported; save it as 8-bit RGB")


def _flatten_on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _image_from_array(array: np.ndarray, label: str) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))) or 0 in array.shape:
        raise ImageError(f"{label}: expected an array of shape (H, W), (H, W, 3) or (H, W, 4); got {array.shape}")
    _check_pixels((array.shape[1], array.shape[0]), label)
    if array.dtype == np.uint8:
        pixels = array
    elif array.dtype == np.uint16:
        pixels = np.round(array / 257).astype(np.uint8)
    elif array.dtype == np.bool_:
        pixels = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageError(f"{label}: float pixels must lie in [0, 1]; got NaN or infinite values")
        if array.min() < 0 or array.max() > 1:
            raise ImageError(f"{label}: float pixels must lie in [0, 1]; got values from {array.min():g} to "
                             f"{array.max():g} (divide by 255 if they are 0–255)")
        pixels = np.round(array * 255).astype(np.uint8)
    else:
        raise ImageError(f"{label}: expected pixels of type uint8, uint16 or float in [0, 1]; got {array.dtype} "
                         "(use array.astype(np.uint8) if the values are 0–255)")
    image = Image.fromarray(np.ascontiguousarray(pixels))
    return _flatten_on_white(image) if image.mode == "RGBA" else image


# ---------------------------------------------------------------- preprocessing

def preprocess_photo(image) -> np.ndarray:
    """What the model sees: a (28, 28) uint8 array, the garment bright on black.

    The paper's path (see the module docstring), with these details:
    - the background colour is the median of the outermost ring of pixels, so neither
      JPEG noise nor a garment touching one edge moves it; a light one (luminance above
      127.5) is negated, a dark one (garment already bright on black) is not;
    - the trim keeps what differs from it by more than TRIM_TOLERANCE of full scale;
    - the photo is levelled by dividing by the background colour: a grey or beige
      background turns black as the dataset's white ones did (on white this is the plain
      negation);
    - Pillow's SHARPEN, clipped, then the brightest pixel stretched to 255: half of the
      dataset's test images have exactly one pixel at 255, and those whose maximum is 254
      have exactly one at 254, the mark of a final stretch after a clipped sharpen;
    - an odd spare pixel of padding goes above and to the left, as in the dataset.
    A 28×28 grey image on a dark background is taken to be a dataset image and returned
    unchanged; a blank image (nothing to trim) gives all zeros. `image` is anything
    `read_image` accepts.
    """
    image = read_image(image)  # also for PIL images: the limits, the EXIF orientation, the mode
    pixels = np.asarray(_shrink(image))
    red, green, blue = (pixels[..., channel] for channel in range(3)) if pixels.ndim == 3 else (pixels,) * 3
    if np.array_equal(red, green) and np.array_equal(red, blue):
        pixels = red  # a grey photo, perhaps saved as RGB
    pixels = pixels.astype(np.float32)  # (H, W, 3) or (H, W), 0–255
    background = _background_colour(pixels)
    light = _luminance(background) > 127.5
    if pixels.shape == (IMAGE_SIZE, IMAGE_SIZE) and not light:
        return pixels.astype(np.uint8)  # already a dataset image: the same values out
    box = _object_box(pixels, background)
    if box is None:
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    garment = _level(pixels[box], background, light)  # (h, w) in [0, 1], garment bright
    small = np.clip(_sharpen(_resize_long_edge(garment, IMAGE_SIZE)), 0, 1)
    small = small / max(small.max(), 1e-6)
    return _centre(np.round(small * 255).astype(np.uint8), IMAGE_SIZE)


def load_photo(source, *, name: str | None = None) -> np.ndarray:
    """`preprocess_photo(read_image(source))`: a file, bytes, stream, PIL image or array to (28, 28) uint8."""
    return preprocess_photo(read_image(source, name=name))


def _shrink(image: Image.Image) -> Image.Image:
    """Bigger photos to WORKING_SIZE on the long side, averaging boxes of pixels.

    The result is 28 px, so nothing visible is lost, the trim is 18 times finer than
    an output pixel, the averaging removes noise, and a 40 MP photo costs milliseconds.
    """
    width, height = image.size
    scale = WORKING_SIZE / max(width, height)
    if scale >= 1:
        return image
    return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)


def _luminance(colour: np.ndarray) -> float:
    return float(colour @ LUMA) if colour.ndim == 1 else float(colour)


def _background_colour(pixels: np.ndarray) -> np.ndarray:
    ring = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])  # (n, C) or (n,)
    return np.median(ring, axis=0)


def _object_box(pixels: np.ndarray, background: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns holding anything further than TRIM_TOLERANCE from the background.

    The distance is the largest over the colour channels, averaged over 3×3 pixels first:
    that divides the noise by 3, so neither JPEG noise nor sensor noise opens the box,
    while a one-pixel line of real contrast survives.
    """
    distance = np.abs(pixels - background)
    if distance.ndim == 3:  # channel by channel: numpy's max over a short last axis is 15 times slower
        distance = np.maximum(np.maximum(distance[..., 0], distance[..., 1]), distance[..., 2])
    padded = np.pad(distance, 1, mode="edge")
    rows = padded[:-2] + padded[1:-1] + padded[2:]
    mean = (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / 9
    found = mean > TRIM_TOLERANCE * 255
    if not found.any():
        return None
    ys, xs = np.flatnonzero(found.any(axis=1)), np.flatnonzero(found.any(axis=0))
    return slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1)


def _level(pixels: np.ndarray, background: np.ndarray, light: bool) -> np.ndarray:
    """Background to 0, garment towards 1, in grey; dividing by the background removes its tint."""
    if light:
        garment = 1 - pixels / np.maximum(background, 1)
    else:
        garment = (pixels - background) / np.maximum(255 - background, 1)
    if garment.ndim == 3:
        garment = garment @ LUMA
    return np.clip(garment, 0, 1)


def _resize_long_edge(garment: np.ndarray, size: int) -> np.ndarray:
    height, width = garment.shape
    scale = size / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow wants (w, h)
    resized = Image.fromarray(garment.astype(np.float32)).resize(new_size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized), 0, 1)


def _sharpen(pixels: np.ndarray) -> np.ndarray:
    """Pillow's ImageFilter.SHARPEN (each pixel plus its difference from the mean of its 8 neighbours)."""
    padded = np.pad(pixels, 1, mode="edge")
    height, width = pixels.shape
    window_sum = sum(padded[dy:dy + height, dx:dx + width] for dy in range(3) for dx in range(3))
    neighbour_mean = (window_sum - pixels) / 8
    return pixels + (pixels - neighbour_mean)


def _centre(small: np.ndarray, size: int) -> np.ndarray:
    """Pad to size×size; an odd spare pixel goes above and left, as in the dataset (measured on its test set)."""
    canvas = np.zeros((size, size), np.uint8)
    height, width = small.shape
    top, left = (size - height + 1) // 2, (size - width + 1) // 2
    canvas[top:top + height, left:left + width] = small
    return canvas
