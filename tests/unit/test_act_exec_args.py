"""`exec` inputs: namespace lists, program lookup, what kind of program a host file is, the loader's paths."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

from ctrlens.act import elf
from ctrlens.act.enter import CannotRun, CommandNotFound, find_program, parse_namespaces
from ctrlens.commands.exec import _split_options
from ctrlens.errors import UsageError


def test_default_and_explicit_namespace_lists():
    assert parse_namespaces(None) == ["net", "pid", "uts", "ipc"]
    assert parse_namespaces("net") == ["net"]
    assert parse_namespaces("network, mount,pid,net") == ["net", "mnt", "pid"]
    assert "user" not in parse_namespaces("all") and "mnt" in parse_namespaces("all")


@pytest.mark.parametrize("text", ["bogus", "net,foo", ",", ""])
def test_bad_namespace_lists_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_namespaces(text)


def test_program_lookup(tmp_path: Path):
    assert find_program("sh").endswith("/sh")
    with pytest.raises(CommandNotFound) as missing:
        find_program("act-no-such-tool-here")
    assert missing.value.exit_code == 127
    plain = tmp_path / "data.txt"
    plain.write_text("x")
    with pytest.raises(CannotRun) as not_exec:
        find_program(str(plain))
    assert not_exec.value.exit_code == 126
    with pytest.raises(CommandNotFound):
        find_program(str(tmp_path / "nothing"))


def kind_of(path: str) -> tuple[str, str | None]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return elf.program_kind(fd)
    finally:
        os.close(fd)


def test_program_kinds_of_real_host_files(tmp_path: Path):
    kind, loader = kind_of(os.path.realpath(sys.executable))
    assert kind == elf.DYNAMIC and loader and loader.startswith("/")
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh -e\necho hi\n")
    assert kind_of(str(script)) == (elf.SCRIPT, "/bin/sh")
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00" * 100)
    assert kind_of(str(junk)) == (elf.OTHER, None)


def test_busybox_static_has_no_loader():
    busybox = "/usr/bin/busybox"
    if not os.path.exists(busybox):
        pytest.skip("busybox-static is installed by `python -m testbed install`")
    assert kind_of(busybox) == (elf.STATIC, None)


def test_library_dirs_follow_ld_so_conf_includes(tmp_path: Path):
    libs = tmp_path / "opt-libs"
    libs.mkdir()
    (tmp_path / "ld.so.conf.d").mkdir()
    (tmp_path / "ld.so.conf.d" / "opt.conf").write_text(f"# comment\n{libs}\n")
    conf = tmp_path / "ld.so.conf"
    conf.write_text("include ld.so.conf.d/*.conf\n/does/not/exist\n")
    dirs = elf.host_library_dirs(None, conf=str(conf))
    assert dirs[0] == str(libs)
    assert "/does/not/exist" not in dirs
    assert os.path.realpath("/usr/lib") in dirs


def args(*argv: str) -> argparse.Namespace:
    return argparse.Namespace(argv=list(argv), ns=None, quiet=False)


def test_options_written_after_ref_are_taken_back_from_the_command():
    a = args("--ns", "net,mnt", "-q", "--", "ls", "-l", "--ns")
    assert _split_options(a) == ["ls", "-l", "--ns"]
    assert a.ns == "net,mnt" and a.quiet
    b = args("--ns=pid", "ss", "-lnt")
    assert _split_options(b) == ["ss", "-lnt"] and b.ns == "pid"
    assert _split_options(args("--", "--weird-program")) == ["--weird-program"]
    with pytest.raises(UsageError):
        _split_options(args("--bogus", "--", "ls"))
    with pytest.raises(UsageError):
        _split_options(args("--ns"))
