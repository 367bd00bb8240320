"""SHA-256 checks of data files, remembered so that repeated loads skip the hashing.

Checksums are of the decompressed content: mirrors and distributions recompress
the files (Debian's .gz differ byte for byte from the originals) while the data
inside stays the same. A file that passed is remembered by its absolute path,
size and modification time in a small JSON file; if any of these changes, it is
hashed again.
"""

import hashlib
import json
from pathlib import Path

from attire.errors import DatasetError
from attire.fileio import write_json


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_sha256(data: bytes, expected: str, source: str | Path) -> None:
    """Raise DatasetError unless `data` (decompressed content of `source`) hashes to `expected`."""
    actual = sha256_hex(data)
    if actual != expected:
        raise DatasetError(f"{source}: checksum mismatch: the decompressed content has SHA-256 "
                           f"{actual}, expected {expected}; the file is corrupt or has been altered")


class VerifiedFiles:
    """The record of files that passed their check, stored at `record_path`."""

    def __init__(self, record_path: Path):
        self.record_path = Path(record_path)
        self._entries = self._read()
        self._changed = False

    def _read(self) -> dict:
        try:
            entries = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return {}  # missing or damaged record: hash everything again, nothing worse
        return entries if isinstance(entries, dict) else {}

    @staticmethod
    def _key_and_stamp(path: Path) -> tuple[str, dict]:
        stat = path.stat()
        return str(path.resolve()), {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    def is_verified(self, path: Path, expected_sha256: str) -> bool:
        key, stamp = self._key_and_stamp(path)
        return self._entries.get(key) == {**stamp, "sha256": expected_sha256}

    def remember(self, path: Path, sha256: str) -> None:
        """Note that `path` passed; `save()` writes the record."""
        key, stamp = self._key_and_stamp(path)
        self._entries[key] = {**stamp, "sha256": sha256}
        self._changed = True

    def save(self) -> None:
        if not self._changed:
            return
        try:
            write_json(self.record_path, self._entries)
        except OSError:
            pass  # a read-only cache only costs speed next time, never correctness
        self._changed = False
