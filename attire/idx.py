"""The IDX file format of (Fashion-)MNIST, read strictly.

An IDX file is a 4-byte magic number (two zero bytes, a type byte, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order.
We accept only unsigned bytes (type 0x08), the type of every Fashion-MNIST file,
and refuse anything that does not add up: nothing is reshaped, padded or cut.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

from attire.errors import DatasetError

UNSIGNED_BYTE = 0x08
# The other types the format defines, so an error can name what it found.
TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16",
              0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}
MAX_DIMENSIONS = 4  # Fashion-MNIST uses 1 (labels) and 3 (images); more means a wrong file


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file, gzipped (`*.gz`) or plain, into a writable uint8 array."""
    return parse_idx(read_decompressed(path), source=path)


def read_decompressed(path: str | Path) -> bytes:
    """The file's content, gunzipped when its name ends in `.gz`."""
    path = Path(path)
    data = path.read_bytes()
    return gunzip(data, source=path) if path.suffix == ".gz" else data


def gunzip(data: bytes, source: str | Path = "<bytes>") -> bytes:
    try:
        return gzip.decompress(data)
    except EOFError:
        raise DatasetError(
            f"{source}: the gzip stream is truncated ({len(data)} bytes), "
            "probably an interrupted download") from None
    except (OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DatasetError(f"{source}: not a valid gzip file ({e})") from None


def parse_idx(data: bytes, source: str | Path = "<bytes>") -> np.ndarray:
    """Decode the bytes of an IDX file; `source` names it in error messages."""
    if len(data) < 4:
        raise DatasetError(f"{source}: {len(data)} bytes is too short for an IDX file "
                           "(expected at least a 4-byte header)")
    zero_a, zero_b, type_code, n_dims = data[:4]
    if zero_a != 0 or zero_b != 0:
        raise DatasetError(
            f"{source}: not an IDX file (magic number {data[:4].hex()}, "
            "expected 0000 followed by a type byte and the number of dimensions)")
    if type_code != UNSIGNED_BYTE:
        found = TYPE_NAMES.get(type_code, "an unknown type")
        raise DatasetError(f"{source}: IDX values of type 0x{type_code:02x} ({found}); "
                           "expected 0x08 (unsigned byte), the type of Fashion-MNIST files")
    if not 1 <= n_dims <= MAX_DIMENSIONS:
        raise DatasetError(f"{source}: the header declares {n_dims} dimensions, "
                           f"expected 1 to {MAX_DIMENSIONS}")

    header_size = 4 + 4 * n_dims
    if len(data) < header_size:
        raise DatasetError(f"{source}: truncated header ({len(data)} bytes, "
                           f"{header_size} needed for {n_dims} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=n_dims, offset=4))
    n_values = int(np.prod(shape, dtype=np.int64))

    payload_size = len(data) - header_size
    if payload_size < n_values:
        raise DatasetError(f"{source}: truncated: shape {shape} needs {n_values} bytes of values, "
                           f"the file has {payload_size}")
    if payload_size > n_values:
        raise DatasetError(f"{source}: {payload_size - n_values} unexpected bytes after the "
                           f"{n_values} values of shape {shape}")
    # A copy, because arrays over the bytes would be read-only (torch warns on those).
    return np.frombuffer(data, dtype=np.uint8, count=n_values, offset=header_size).reshape(shape).copy()


def encode_idx(values: np.ndarray) -> bytes:
    """The IDX bytes of a uint8 array: for tests and for writing custom datasets."""
    values = np.asarray(values)
    if values.dtype != np.uint8:
        raise DatasetError(f"only uint8 arrays can be written as IDX here, got {values.dtype}")
    if not 1 <= values.ndim <= MAX_DIMENSIONS:
        raise DatasetError(f"IDX arrays need 1 to {MAX_DIMENSIONS} dimensions, got {values.ndim}")
    header = bytes([0, 0, UNSIGNED_BYTE, values.ndim]) + np.array(values.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(values).tobytes()
