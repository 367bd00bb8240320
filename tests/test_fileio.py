"""Atomic writes keep the permissions a plain write would give."""

import os
import stat

from attire.fileio import write_bytes


def test_new_files_follow_the_umask_not_mkstemp(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes(tmp_path / "picture.png", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "picture.png").stat().st_mode) == 0o644


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "report.json"
    path.write_bytes(b"old")
    path.chmod(0o640)
    write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
