"""runtimes/metafile.py: runtime metadata read like hostile input (issue 13: FIFO, deep, huge, symlink, other owner)."""

from __future__ import annotations

import json
import os
import threading

import pytest

from ctrlens.runtimes import metafile
from ctrlens.runtimes.metafile import MetadataError


def write(path, data: bytes, uid: int = 0, mode: int = 0o644):
    path.write_bytes(data)
    os.chown(path, uid, uid)
    path.chmod(mode)
    return str(path)


def test_plausible_root_file_parses(tmp_path):
    path = write(tmp_path / "config.v2.json", json.dumps({"Name": "/web"}).encode())
    assert metafile.read_json(path) == {"Name": "/web"}


def test_missing_file_is_none_not_an_error(tmp_path):
    assert metafile.read_json(str(tmp_path / "absent.json")) is None
    assert metafile.read_json(str(tmp_path / "no-dir" / "x.json")) is None


def test_fifo_is_refused_at_once_instead_of_blocking(tmp_path):
    fifo = tmp_path / "containers.json"
    os.mkfifo(fifo)
    result: list[object] = []

    def read() -> None:
        try:
            metafile.read_json(str(fifo))
        except MetadataError as exc:
            result.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert result and "not a regular file" in str(result[0])


def test_symlink_is_not_followed(tmp_path):
    target = write(tmp_path / "real.json", b"{}")
    (tmp_path / "link.json").symlink_to(target)
    with pytest.raises(MetadataError, match="symlink"):
        metafile.read_json(str(tmp_path / "link.json"))


def test_file_of_another_user_is_not_trusted_unless_that_user_is_the_owner(tmp_path):
    path = write(tmp_path / "containers.json", b"[]", uid=65534)
    with pytest.raises(MetadataError, match="owned by uid 65534"):
        metafile.read_json(path)
    assert metafile.read_json(path, owners=frozenset({0, 65534})) == []


def test_world_writable_root_file_is_not_trusted(tmp_path):
    path = write(tmp_path / "hostconfig.json", b"{}", mode=0o666)
    with pytest.raises(MetadataError, match="writable by every user"):
        metafile.read_json(path)


def test_file_over_the_cap_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(metafile.JSON_CAP + 1)  # sparse: the check must come from fstat, not from reading
    with pytest.raises(MetadataError, match="cap"):
        metafile.read_json(str(path))


@pytest.mark.parametrize("depth", [metafile.MAX_JSON_DEPTH + 1, 100_000])
def test_deeply_nested_json_is_one_error_not_a_crash(tmp_path, depth):
    path = write(tmp_path / "deep.json", b"[" * depth + b"]" * depth)
    with pytest.raises(MetadataError, match="nested deeper"):
        metafile.read_json(path)


def test_json_at_the_depth_limit_parses(tmp_path):
    depth = metafile.MAX_JSON_DEPTH
    path = write(tmp_path / "ok.json", b"[" * depth + b"]" * depth)
    assert metafile.read_json(path) is not None


def test_garbage_and_huge_integers_are_errors(tmp_path):
    with pytest.raises(MetadataError, match="not valid JSON"):
        metafile.read_json(write(tmp_path / "bad.json", b'{"a": \xff'))
    with pytest.raises(MetadataError, match="not valid JSON"):
        metafile.read_json(write(tmp_path / "int.json", b"9" * 10_000))


def test_labels_keep_only_strings():
    assert metafile.str_dict({"a": "x", "b": 1, "c": None, "d": {"e": "f"}}) == {"a": "x"}
    assert metafile.str_dict(["a"]) == {}
