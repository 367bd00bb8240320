"""What a client uploaded to `POST /v1/predict`: read within limits, then each image checked.

Every refusal is a `RequestError` carrying the HTTP status a client can act on:
  400 the bytes are not a readable image (corrupt, truncated, empty) or the multipart is broken,
  413 the upload, its pixel count or its number of images is over the server's limit,
  415 the client declared (or sent) a type of file attire does not read,
  422 the multipart form has no `file` field.
The size limit is checked twice: a Content-Length over it is refused before the body is
read, and the body is counted as it streams in (a chunked upload declares no length).
Decoding happens in `decode_image`, which the server runs in its thread pool.
"""

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from attire.errors import ImageError
from attire.images import SUPPORTED_FORMATS, load_photo

FIELD = "file"                  # the multipart field name, one per image
MAX_IMAGES = 64                 # images in one request
MULTIPART_ALLOWANCE = 64 * 1024  # bytes of multipart framing allowed on top of the upload limit
# What a client may declare for an image, beside these "we don't know" types that we sniff.
IMAGE_MEDIA_TYPES = {
    "image/jpeg": "JPEG", "image/jpg": "JPEG", "image/pjpeg": "JPEG", "image/png": "PNG",
    "image/webp": "WebP", "image/bmp": "BMP", "image/x-ms-bmp": "BMP", "image/gif": "GIF",
    "image/tiff": "TIFF",
}
UNDECLARED_MEDIA_TYPES = ("", "application/octet-stream")
# Pillow's names for what SUPPORTED_FORMATS lists (a camera's JPEG may open as MPO).
PILLOW_FORMATS = {name.upper() for name in SUPPORTED_FORMATS} | {"MPO"}
FIX_TYPE = f"send a photo as {', '.join(SUPPORTED_FORMATS[:-1])} or {SUPPORTED_FORMATS[-1]}"


class RequestError(Exception):
    """A request the client must change: its HTTP status, a stable code, and what to do."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Upload:
    filename: str | None   # as the client named it; None for a raw request body
    media_type: str        # as the client declared it, lower case without parameters ("" if none)
    data: bytes

    @property
    def label(self) -> str:
        return f"'{self.filename}'" if self.filename else "the request body"


async def read_uploads(request: Request, max_bytes: int) -> list[Upload]:
    """The images of a multipart form (`file` fields) or of a raw image body."""
    media_type = base_media_type(request.headers.get("content-type", ""))
    if media_type == "multipart/form-data":
        body = await read_body(request, max_bytes + MULTIPART_ALLOWANCE, max_bytes)
        uploads = await parse_multipart(request, body)
    elif media_type.startswith("image/") or media_type == "application/octet-stream":
        uploads = [Upload(None, media_type, await read_body(request, max_bytes, max_bytes))]
    else:
        raise RequestError(415, "unsupported_type",
                           f"a request of type {media_type or '(none)'} cannot carry an image: send "
                           f"multipart/form-data with one '{FIELD}' field per image "
                           f"(curl -F {FIELD}=@photo.jpg) or the raw image with Content-Type image/jpeg, "
                           "image/png, ...")
    for upload in uploads:
        if len(upload.data) > max_bytes:
            raise too_large(f"{upload.label} is {size_text(len(upload.data))}", max_bytes)
    return uploads


async def read_body(request: Request, limit: int, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(f"the upload is {size_text(int(declared))}", max_bytes)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"the upload is more than {size_text(max_bytes)}", max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(what: str, max_bytes: int) -> RequestError:
    return RequestError(413, "upload_too_large",
                        f"{what}, over this server's limit of {size_text(max_bytes)} per request: "
                        "shrink the photo (the model sees only 28×28 pixels) or start the server "
                        "with a larger --max-upload-mb")


async def parse_multipart(request: Request, body: bytes) -> list[Upload]:
    async def stream():
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=MAX_IMAGES, max_fields=MAX_IMAGES)
    try:
        form = await parser.parse()
    except MultiPartException as e:
        if e.message.startswith("Too many files"):
            raise RequestError(413, "too_many_images",
                               f"more than {MAX_IMAGES} images in one request: send them in "
                               "several requests") from None
        raise RequestError(400, "bad_multipart",
                           f"the multipart body cannot be parsed ({e.message}): send multipart/form-data "
                           f"with one '{FIELD}' field per image (curl -F {FIELD}=@photo.jpg)") from None
    try:
        values = form.getlist(FIELD)
        if not values:
            names = sorted(set(form.keys()))
            got = f"got the fields {', '.join(names)}" if names else "got no fields at all"
            raise RequestError(422, "missing_field",
                               f"expected one or more '{FIELD}' fields holding images, {got}: "
                               f"curl -F {FIELD}=@photo.jpg ...")
        uploads = []
        for value in values:
            if not isinstance(value, UploadFile):
                raise RequestError(422, "missing_field",
                                   f"the '{FIELD}' field holds text, not a file: upload the image "
                                   f"itself (curl -F {FIELD}=@photo.jpg, note the @)")
            uploads.append(Upload(value.filename or None, base_media_type(value.content_type or ""),
                                  await value.read()))
        return uploads
    finally:
        await form.close()


def size_text(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MB" if n_bytes >= 2**20 else f"{n_bytes / 2**10:.1f} KB"


def base_media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


# ---------------------------------------------------------------- one image

def decode_image(upload: Upload, max_pixels: int) -> np.ndarray:
    """The model's (28, 28) uint8 view of one upload, or the RequestError that says why not.

    The declared type and the file's header are checked before anything is decoded, so a
    wrong type or a 100-megapixel image costs microseconds, not a decode.
    """
    check_declared_type(upload)
    check_header(upload, max_pixels)
    try:
        return load_photo(upload.data, name=upload.label)
    except ImageError as e:
        raise RequestError(400, "unreadable_image", str(e)) from None


def check_declared_type(upload: Upload) -> None:
    declared = upload.media_type
    if declared in UNDECLARED_MEDIA_TYPES or declared in IMAGE_MEDIA_TYPES:
        return
    what = "an image type attire does not read" if declared.startswith("image/") else "not an image"
    raise RequestError(415, "unsupported_type",
                       f"{upload.label} was sent as {declared}, {what}: {FIX_TYPE}")


def check_header(upload: Upload, max_pixels: int) -> None:
    if not upload.data:
        raise RequestError(400, "unreadable_image", f"{upload.label} is empty (0 bytes): {FIX_TYPE}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check the size ourselves
            with Image.open(io.BytesIO(upload.data)) as image:  # reads the header only
                found, (width, height) = image.format, image.size
    except Image.DecompressionBombError:
        raise RequestError(413, "too_many_pixels",
                           f"{upload.label} has far more than {max_pixels / 1e6:g} megapixels: shrink it "
                           "(2000 px on the long side is plenty)") from None
    except UnidentifiedImageError:
        raise RequestError(400, "unreadable_image",
                           f"{upload.label} is not an image attire can read (or its header is "
                           f"corrupt): {FIX_TYPE}") from None
    except Exception as e:  # Pillow's openers raise many kinds on malformed headers
        raise RequestError(400, "unreadable_image",
                           f"{upload.label} has a corrupt image header ({e}): re-save it; {FIX_TYPE}") from None
    if found not in PILLOW_FORMATS:
        raise RequestError(415, "unsupported_type", f"{upload.label} is a {found} image: {FIX_TYPE}")
    if width * height > max_pixels:
        raise RequestError(413, "too_many_pixels",
                           f"{upload.label} is {width}×{height}, {width * height / 1e6:.1f} megapixels, "
                           f"over this server's limit of {max_pixels / 1e6:g}: shrink it "
                           "(2000 px on the long side is plenty)")
