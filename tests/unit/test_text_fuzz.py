"""Fuzz the text paths with random bytes for argv, environ, comm, names and labels: no exception, valid output
(strict UTF-8 JSON that parses, with the exact bytes back from `*_hex`; tables with no control character)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrlens.text import dumps, raw_bytes, safe_text

from .test_text_policy import assert_terminal_safe, check_outputs, decoded, hostile_snapshot

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes as a container writes them: NUL separates argv/environ entries, so never inside one.
arg = st.binary(max_size=80).map(lambda b: b.replace(b"\0", b""))
unicode_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)  # lone surrogates too


@SETTINGS
@given(argv=st.lists(arg, min_size=1, max_size=5), comm=arg.map(lambda b: b[:15] or b"x"), name=arg)
def test_random_bytes_in_argv_comm_and_names_give_valid_output(argv: list[bytes], comm: bytes, name: bytes):
    snapshot = hostile_snapshot(argv, comm, decoded(name) or "n", {})
    check_outputs(snapshot, argv, comm)


@SETTINGS
@given(labels=st.dictionaries(unicode_text, unicode_text, max_size=4), name=unicode_text)
def test_random_text_in_labels_and_names_gives_valid_output(labels: dict[str, str], name: str):
    text = dumps({"name": name, "labels": labels})
    back = json.loads(text.encode("utf-8"))  # strict UTF-8, parses
    if "name_hex" in back:
        assert bytes.fromhex(back["name_hex"]) == raw_bytes(name)
    else:
        assert back["name"] == name
    assert_terminal_safe(safe_text(name))


@SETTINGS
@given(environ=st.lists(st.tuples(arg, arg), max_size=6))
def test_random_environ_records(environ: list[tuple[bytes, bytes]]):
    records = [{"pid": 1, "name": decoded(k), "value": decoded(v)} for k, v in environ]
    for compact in (False, True):
        text = dumps(records, compact=compact)
        back = json.loads(text.encode("utf-8"))
        assert len(text.splitlines()) == 1  # NDJSON: one record a line whatever the data holds
        for (k, v), rec in zip(environ, back, strict=True):
            assert (bytes.fromhex(rec["name_hex"]) if "name_hex" in rec else rec["name"].encode()) == k
            assert (bytes.fromhex(rec["value_hex"]) if "value_hex" in rec else rec["value"].encode()) == v
    for k, v in environ:
        assert_terminal_safe(safe_text(decoded(k)) + safe_text(decoded(v)))
