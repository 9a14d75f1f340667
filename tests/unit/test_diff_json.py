"""The diff's JSON: one record a line for big lists, still plain JSON; odd names survive both encodings."""

from __future__ import annotations

import json
import os

from ctrlens.diff.model import ADDED, Change, DiffResult, FileInfo, iso_ns
from ctrlens.output.jsonrecords import dumps_with_records


def _result() -> DiffResult:
    info = FileInfo(
        mode=0o100755,
        size=3,
        uid=0,
        gid=0,
        mtime_ns=1_700_000_000_000_000_000,
        ctime_ns=1_700_000_001_000_000_000,
    )
    changes = [Change(b"/tmp/a", ADDED, info), Change(b"/tmp/bad\xffname", ADDED, info)]
    return DiffResult("id", "web", "docker", "overlay", "docker", changes=changes, limitations=["x"])


def test_records_one_a_line_and_the_same_data_as_json_dumps():
    data = _result().to_dict()
    text = dumps_with_records(data)
    text.encode("utf-8")  # valid UTF-8: no lone surrogate written
    parsed = json.loads(text)
    odd = parsed["changes"][1]
    assert odd["path"] == "/tmp/bad\\xffname" and bytes.fromhex(odd.pop("path_hex")) == b"/tmp/bad\xffname"
    data["changes"][1]["path"] = "/tmp/bad\\xffname"
    assert parsed == json.loads(json.dumps(data))
    lines = text.splitlines()
    assert sum(1 for line in lines if line.startswith('    {"kind"')) == 2


def test_ascii_form_keeps_undecodable_names_reversible():
    data = {"changes": [{"path": os.fsdecode(b"/tmp/bad\xffname")}]}
    text = dumps_with_records(data, ascii=True)
    assert text.isascii()
    back = json.loads(text)
    assert bytes.fromhex(back["changes"][0]["path_hex"]) == b"/tmp/bad\xffname"


def test_times_are_utc_with_microseconds():
    assert iso_ns(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456Z"
    assert _result().to_dict()["changes"][0]["info"]["mode"] == "0755"
    assert os.fsencode(_result().to_dict()["changes"][1]["path"]) == b"/tmp/bad\xffname"
