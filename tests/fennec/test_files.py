"""fennec.files.write_atomic: all or nothing, readable by everyone."""
from __future__ import annotations

import stat

import pytest

from fennec.files import write_atomic


def test_write_atomic_replaces_the_file_whole_and_leaves_it_readable(tmp_path):
    path = tmp_path / "sub" / "config.yaml"
    write_atomic(path, "k: é\n")
    write_atomic(path, b"k: 2\n")
    assert path.read_text(encoding="utf-8") == "k: 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]


def test_a_failed_write_keeps_the_old_content_and_no_temporary_file(tmp_path):
    path = tmp_path / "CURRENT"
    write_atomic(path, "v0001")
    with pytest.raises(TypeError):
        write_atomic(path, 123)  # not text nor bytes: fails while writing
    assert path.read_text() == "v0001"
    assert [p.name for p in tmp_path.iterdir()] == ["CURRENT"]
