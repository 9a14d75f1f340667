"""The one text policy (ctrlens.text, ctrlens.output): what a container writes reaches a terminal escaped and JSON
as valid UTF-8 with its exact bytes recoverable, whatever the bytes; and the typed command boundary renders it."""

from __future__ import annotations

import argparse
import io
import json
import os
from pathlib import Path

import pytest

from ctrlens.cli import finish, main
from ctrlens.commands import containers as containers_cmd
from ctrlens.commands import ps as ps_cmd
from ctrlens.host import Host
from ctrlens.inspect import render
from ctrlens.model import Container, Process, Snapshot
from ctrlens.output import OutputFormat, Result, terminal_safe
from ctrlens.output import render as render_result
from ctrlens.refs import Target
from ctrlens.text import dumps, raw_bytes, safe_text

ESC = "\x1b"
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
PAYLOAD = b"x\xff\x1b[2J\x1b]0;pwn\x07\xe2\x80\xaey\xe2\x81\xa6\\x1b\nz[/][b red]FAKE[/]\xc2\x9b"


def decoded(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def assert_terminal_safe(text: str) -> None:
    assert ESC not in text and "\x9b" not in text and "\x07" not in text
    assert not any(c in text for c in BIDI), ascii(text)
    text.encode("utf-8")  # no lone surrogate either


# --- terminal ----------------------------------------------------------------------------------------------------


def test_safe_text_escapes_controls_bidi_bytes_and_the_backslash_itself():
    shown = safe_text(decoded(PAYLOAD))
    assert_terminal_safe(shown)
    assert "\\x1b[2J" in shown and "\\u202e" in shown and "\\u2066" in shown and "\\xff" in shown
    assert safe_text("\\x1b") == "\\\\x1b"  # the text `\x1b`...
    assert safe_text("\x1b") == "\\x1b"  # ...and a real ESC print differently
    assert safe_text("nginx -g daemon off;") == "nginx -g daemon off;"  # ordinary text unchanged


def test_terminal_safe_keeps_layout_newlines_and_escapes_the_rest():
    assert terminal_safe("a\nb") == "a\nb"
    assert terminal_safe(f"a{ESC}[2J\u202eb\nc") == "a\\x1b[2J\\u202eb\nc"


def test_error_lines_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    from ctrlens.commands._base import Context

    Context(argparse.Namespace()).error(f"container l{ESC}]0;x\a\u202ename exited")
    err = capsys.readouterr().err
    assert_terminal_safe(err)
    assert err.count("\n") == 1


# --- JSON --------------------------------------------------------------------------------------------------------


def test_json_is_utf8_and_hex_siblings_give_the_bytes_back():
    record = {"comm": decoded(PAYLOAD[:15]), "argv": ["sh", decoded(PAYLOAD)], "n": 1, "ok": "plain"}
    text = dumps(record)
    back = json.loads(text.encode("utf-8").decode("utf-8"))
    assert bytes.fromhex(back["comm_hex"]) == PAYLOAD[:15]
    assert [bytes.fromhex(h) for h in back["argv_hex"]] == [b"sh", PAYLOAD]
    assert "ok_hex" not in back and "n_hex" not in back  # only where bytes were not UTF-8
    assert back["argv"][1].startswith("x\\xff\x1b[2J")  # readable: the byte as \xNN, the ESC as JSON has it


def test_json_escapes_invisible_and_line_separating_characters():
    text = dumps({"v": "a\u2028b\u2029c\x85d\u202ee\ufeff"})
    assert text.isascii()  # each written as a \u escape...
    assert json.loads(text)["v"] == "a\u2028b\u2029c\x85d\u202ee\ufeff"  # ...the same string to a reader
    assert len(text.splitlines()) == 1


def test_clean_records_take_the_fast_path_unchanged():
    record = {"pid": 1, "argv": ["nginx", "-g", "daemon off;"], "name": "wéb"}
    assert json.loads(dumps(record)) == record


def test_json_to_a_non_utf8_stream_is_ascii_with_escapes():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    render_result(Result(document=[{"name": "wéb\u202e", "argv": [decoded(b"\xff")]}]), "json", stream)
    stream.flush()
    data = raw.getvalue()
    assert data.isascii()
    assert json.loads(data)[0]["name"] == "wéb\u202e"


# --- the command boundary with hostile data ----------------------------------------------------------------------


def hostile_snapshot(argv: list[bytes], comm: bytes, name: str, labels: dict[str, str]) -> Snapshot:
    cid = "ab" * 32
    proc = Process(
        pid=4242,
        ppid=1,
        uid=0,
        comm=decoded(comm),
        cmdline=[decoded(a) for a in argv],
        state="S",
        start_ticks=1,
        cgroup=f"/docker/{cid}",
        container_id=cid,
        nspid=[4242, 1],
    )
    container = Container(
        id=cid, runtime="docker", cgroup=proc.cgroup, name=name, init_pid=4242, pids=[4242], labels=labels
    )
    return Snapshot(processes={4242: proc}, containers={cid: container}, host_root="/")


class FakeContext:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.host = Host("/")
        self.raw = io.BytesIO()
        self.out = io.TextIOWrapper(self.raw, encoding="utf-8", errors="strict")  # a strict UTF-8 stdout
        self.err = io.StringIO()

    def scan(self, *, refresh: bool = False) -> Snapshot:
        return self.snapshot

    def resolve(self, ref: str) -> Target:
        container = next(iter(self.snapshot.containers.values()))
        return Target(container, self.snapshot.processes[4242], False)

    def error(self, message: str) -> None:
        print(f"ctrlens: {message}", file=self.err)

    def output(self) -> bytes:
        self.out.flush()
        return self.raw.getvalue()


def run_command(module, snapshot: Snapshot, argv: list[str]) -> tuple[int, bytes, str]:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    ctx = FakeContext(snapshot)
    code = finish(module, parser.parse_args(argv), ctx)
    return code, ctx.output(), ctx.err.getvalue()


def check_outputs(snapshot: Snapshot, argv: list[bytes], comm: bytes) -> None:
    for module, extra in ((ps_cmd, []), (ps_cmd, ["--forest"]), (containers_cmd, [])):
        code, out, err = run_command(module, snapshot, extra)
        assert code == 0
        assert_terminal_safe(out.decode("utf-8"))
        assert_terminal_safe(err)
    code, out, _ = run_command(ps_cmd, snapshot, ["-o", "json"])
    (record,) = json.loads(out.decode("utf-8"))
    got = [bytes.fromhex(h) for h in record["argv_hex"]] if "argv_hex" in record else None
    assert (got or [a.encode() for a in record["argv"]]) == argv
    assert (bytes.fromhex(record["comm_hex"]) if "comm_hex" in record else record["comm"].encode()) == comm
    code, out, _ = run_command(ps_cmd, snapshot, ["-o", "ndjson"])
    lines = out.decode("utf-8").splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["pid"] == 4242
    for fmt in ("json", "ndjson"):
        code, out, _ = run_command(containers_cmd, snapshot, ["-o", fmt])
        text = out.decode("utf-8")
        docs = [json.loads(line) for line in text.splitlines()] if fmt == "ndjson" else json.loads(text)
        assert [d["labels"] for d in docs] == [dict(c.labels) for c in snapshot.containers.values()]
    container = next(iter(snapshot.containers.values()))
    record = {
        "kind": "container",
        "process": None,
        "container": container.to_dict(),
        "processes": [snapshot.process_dict(p) for p in snapshot.processes.values()],
        "shim": None,
    }
    assert_terminal_safe(render(record))


def test_hostile_argv_comm_name_and_labels_through_every_format():
    snapshot = hostile_snapshot(
        [b"sh", PAYLOAD, b"-p" + b"\xfe" * 3],
        PAYLOAD[:15],
        decoded(b"web\x1b[31m\xff"),
        {"k\x1b": "v\u202e[/]"},
    )
    check_outputs(snapshot, [b"sh", PAYLOAD, b"-p" + b"\xfe" * 3], PAYLOAD[:15])


def test_inspect_header_escapes_and_shortens_a_huge_command_line():
    argv = [b"app", b"\x1b[2J\xe2\x80\xae" + b"A" * 100_000]
    snapshot = hostile_snapshot(argv, b"app", "web", {})
    proc = snapshot.processes[4242]
    text = render({"kind": "process", "process": snapshot.process_dict(proc), "container": None})
    header = text.splitlines()[0]
    assert_terminal_safe(header)
    assert header.startswith("Process 4242  (app \\x1b[2J\\u202eAAA") and len(header) < 400
    assert "more characters not shown" in header


# --- small CLI items (issue 13) -----------------------------------------------------------------------------------


@pytest.mark.parametrize("wait", ["nan", "1e308", "inf", "-1"])
def test_kill_wait_must_be_a_finite_number_of_seconds(wait: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["kill", "-w", wait, "--dry-run", "web"])
    assert exc.value.code == 2
    assert "seconds" in capsys.readouterr().err


def test_kill_empty_ref_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kill", "", "--dry-run"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("fmt", ["json", "ndjson", "table", "sarif", "JSON"])
def test_snapshot_o_format_is_refused_and_writes_nothing(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["snapshot", "web", "-o", fmt]) == 2
    assert os.listdir(tmp_path) == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FILE" in err


def test_output_format_is_one_enum_for_every_command():
    from ctrlens.cli import build_parser

    parser, _ = build_parser()
    for name in ("ps", "containers", "env", "secrets", "audit", "diff", "kill"):
        args = parser.parse_args([name, *(["x"] if name in ("env", "diff", "kill") else []), "-o", "json"])
        assert args.output is OutputFormat.JSON, name
    with pytest.raises(SystemExit):
        parser.parse_args(["ps", "-o", "sarif"])  # offered only where a command has findings


def test_raw_bytes_inverts_surrogateescape():
    assert raw_bytes(decoded(PAYLOAD)) == PAYLOAD


def test_container_names_in_fs_messages_and_inspect_headings_are_escaped():
    from ctrlens.commands.fs import _label

    snapshot = hostile_snapshot([b"init"], b"init", "lxc\x1b]0;owned\x07\u202e", {})
    container = next(iter(snapshot.containers.values()))
    container.runtime = "lxc"
    assert_terminal_safe(_label(Target(container, snapshot.processes[4242], False)))
    record = {"kind": "container", "process": None, "container": container.to_dict()}
    assert render(record).splitlines()[0] == "Container lxc\\x1b]0;owned\\x07\\u202e"
