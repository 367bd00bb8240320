"""The IDX reader: good files read exactly, every kind of bad file refused with its name."""

import gzip

import numpy as np
import pytest

from attire.errors import DatasetError
from attire.idx import encode_idx, parse_idx, read_idx

rng = np.random.default_rng(0)
IMAGES = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
LABELS = np.array([0, 9, 3, 3, 1], dtype=np.uint8)


@pytest.mark.parametrize("values", [IMAGES, LABELS, np.zeros((0, 28, 28), np.uint8)],
                         ids=["images", "labels", "empty"])
@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_good_files_round_trip(tmp_path, values, gzipped):
    data = encode_idx(values)
    path = tmp_path / ("x.gz" if gzipped else "x")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    loaded = read_idx(path)
    assert loaded.dtype == np.uint8
    assert loaded.shape == values.shape
    np.testing.assert_array_equal(loaded, values)
    loaded[...] = 0  # writable, so torch.from_numpy does not warn


def test_header_layout_is_the_published_one():
    # magic 0x00000803, then big-endian dimensions, then the pixels
    data = encode_idx(IMAGES)
    assert data[:4] == b"\x00\x00\x08\x03"
    assert data[4:16] == (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    assert data[16:] == IMAGES.tobytes()


GOOD = encode_idx(IMAGES)
BAD_BYTES = {
    "empty": (b"", "too short"),
    "wrong magic": (b"\x12\x34" + GOOD[2:], "not an IDX file"),
    "text file": (b"hello world, not data", "not an IDX file"),
    "float type": (b"\x00\x00\x0d\x03" + GOOD[4:], "float32"),
    "unknown type": (b"\x00\x00\x42\x03" + GOOD[4:], "unknown type"),
    "zero dimensions": (b"\x00\x00\x08\x00", "0 dimensions"),
    "too many dimensions": (b"\x00\x00\x08\x09" + GOOD[4:], "9 dimensions"),
    "truncated header": (GOOD[:10], "truncated header"),
    "truncated payload": (GOOD[:-1], "truncated"),
    "trailing bytes": (GOOD + b"\x00\x00", "2 unexpected bytes"),
    "wrong declared size": (GOOD[:4] + (6).to_bytes(4, "big") + GOOD[8:], "truncated"),
}


@pytest.mark.parametrize("case", BAD_BYTES, ids=list(BAD_BYTES))
@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_bad_files_are_refused_with_their_name(tmp_path, case, gzipped):
    data, message = BAD_BYTES[case]
    path = tmp_path / ("bad-file.gz" if gzipped else "bad-file")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    with pytest.raises(DatasetError, match=message) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_truncated_gzip_is_refused(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(GOOD)[:-20])
    with pytest.raises(DatasetError, match="truncated.*interrupted download") as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("damage", ["garbage", "flipped byte"])
def test_corrupt_gzip_is_refused(tmp_path, damage):
    packed = bytearray(gzip.compress(GOOD))
    if damage == "garbage":
        packed = b"this is not gzip" + packed
    else:
        packed[len(packed) // 2] ^= 0xFF
    path = tmp_path / "corrupt.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DatasetError, match="gzip") as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_parse_names_the_source():
    with pytest.raises(DatasetError, match="somewhere.idx"):
        parse_idx(b"\x00\x00\x08", source="somewhere.idx")


def test_encode_refuses_what_idx_cannot_hold():
    with pytest.raises(DatasetError, match="uint8"):
        encode_idx(np.zeros(3, dtype=np.float32))
    with pytest.raises(DatasetError, match="dimensions"):
        encode_idx(np.uint8(3))
