"""The typed boundary between the CLI and its commands: `Context` (what a command gets) and `Command`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Protocol, TextIO

from ..text import safe_text

if TYPE_CHECKING:
    from ..host import Host
    from ..model import Snapshot
    from ..output import Result
    from ..refs import Target


class Context:
    """What every command gets: the host, a cached scan, REF resolution, and the output and error streams."""

    def __init__(
        self, args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.args = args
        self._host: Host | None = None
        self._snapshot: Snapshot | None = None
        self.out: TextIO = out or sys.stdout
        self.err: TextIO = err or sys.stderr
        self._warned = False

    @property
    def person_reads_stdout(self) -> bool:
        """True with the table format: text for a person (kill's plan) may go to stdout before the result;
        with a machine format it goes to stderr. Commands ask this instead of testing the format."""
        return str(getattr(self.args, "output", "table")) == "table"

    @property
    def host(self) -> Host:
        if self._host is None:
            from ..host import Host

            self._host = Host.from_option(getattr(self.args, "host_root", None))
        return self._host

    def scan(self, *, refresh: bool = False) -> Snapshot:
        if self._snapshot is None or refresh:
            from ..scanner import scan

            self._snapshot = scan(self.host)
            self.warn_once(self._snapshot.warnings)
        return self._snapshot

    def resolve(self, ref: str) -> Target:
        from ..refs import resolve_ref

        return resolve_ref(self.scan(), ref)

    def warn_once(self, warnings: list[str]) -> None:
        if warnings and not self._warned:
            self._warned = True
            for line in warnings:
                self.error(line)

    def error(self, message: str) -> None:
        """One line on stderr. Container text in it is shown escaped (the text policy, `ctrlens.text`)."""
        print(f"ctrlens: {terminal_line(message)}", file=self.err)


def terminal_line(message: str) -> str:
    """A message for stderr: escaped like container text, but `\\` left as it is (messages quote paths)."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else safe_text(c) for c in message)


class Command(Protocol):
    """A module of `ctrlens.commands` (see ctrlens.cli). `run` returns a `Result` for the CLI to render in
    the format the user chose, or an exit code when the command wrote its own output (bytes, a live view)."""

    NAME: str
    HELP: str
    ORDER: int

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, ctx: Context) -> Result | int: ...
