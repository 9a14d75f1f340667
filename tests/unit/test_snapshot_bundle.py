"""The bundle writer and verifier on their own: atomic, no overwrite without force, every byte checked."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from ctrlens.snapshot.bundle import MANIFEST, BundleExists, BundleWriter
from ctrlens.snapshot.verify import verify_bundle


def make(path: Path, *, force: bool = False) -> str:
    with BundleWriter(str(path), force=force) as bundle:
        bundle.add_json("metadata.json", {"a": 1})
        bundle.add_bytes("files/etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        bundle.add_stream("files/big", io.BytesIO(b"y" * 5000), 1000)
        return bundle.commit({"tool": {"name": "ctrlens"}})


def test_fresh_bundle_verifies_and_holds_a_manifest_of_every_member(tmp_path):
    dest = make(tmp_path / "b.tar.gz")
    result = verify_bundle(dest)
    assert result.ok, result.problems
    assert result.checked == 3
    with tarfile.open(dest) as tar:
        names = tar.getnames()
        assert names[-1] == MANIFEST
        assert tar.getmember("files/big").size == 1000  # cut at the limit
    assert oct(os.stat(dest).st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["b.tar.gz"]  # no temp file left behind


def test_one_changed_byte_fails_verification(tmp_path):
    dest = make(tmp_path / "b.tar.gz")
    data = bytearray(Path(dest).read_bytes())
    data[len(data) // 2] ^= 0x01
    Path(dest).write_bytes(bytes(data))
    result = verify_bundle(dest)
    assert not result.ok and result.problems


def test_a_member_changed_and_repacked_fails_verification(tmp_path):
    dest = make(tmp_path / "b.tar.gz")
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(dest) as src, tarfile.open(forged, "w:gz") as out:
        for info in src:
            data = src.extractfile(info).read()
            if info.name == "files/etc/passwd":
                data = data.replace(b"root", b"r00t")
            out.addfile(info, io.BytesIO(data))
        extra = tarfile.TarInfo("files/planted")
        extra.size = 1
        out.addfile(extra, io.BytesIO(b"x"))
    problems = verify_bundle(str(forged)).problems
    assert any("files/etc/passwd" in p and "differs" in p for p in problems)
    assert any("files/planted" in p and "not in the manifest" in p for p in problems)


def test_existing_file_is_never_replaced_without_force(tmp_path):
    dest = tmp_path / "b.tar.gz"
    dest.write_bytes(b"precious")
    with pytest.raises(BundleExists):
        make(dest)
    assert dest.read_bytes() == b"precious"
    make(dest, force=True)
    assert verify_bundle(str(dest)).ok


def test_a_file_appearing_during_the_capture_is_not_replaced(tmp_path):
    dest = tmp_path / "b.tar.gz"
    with BundleWriter(str(dest)) as bundle:
        bundle.add_json("metadata.json", {})
        dest.write_bytes(b"someone else's")
        with pytest.raises(BundleExists):
            bundle.commit({})
    assert dest.read_bytes() == b"someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.gz"]


def test_an_error_during_capture_leaves_nothing(tmp_path):
    dest = tmp_path / "b.tar.gz"
    with pytest.raises(RuntimeError), BundleWriter(str(dest)) as bundle:
        bundle.add_json("metadata.json", {})
        raise RuntimeError("container stopped")
    assert list(tmp_path.iterdir()) == []


def test_not_a_bundle(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not gzip at all")
    result = verify_bundle(str(junk))
    assert not result.ok and "damaged" in result.problems[0]
