"""Run the ctrlens CLI as the unprivileged host user 65534 (nobody).

The interpreter may live where uid 65534 cannot read it (/root/.pyenv, mode 0700, on a fresh CI machine), so
`setpriv … ctrlens` cannot even start there. Instead the child loads ctrlens and every module the command needs as
root (warm-up runs of the same code paths, their output discarded), then drops to uid/gid 65534 with no groups
(and so no capabilities), checks it, and runs the command as that user.
"""

from __future__ import annotations

import json
import sys

_AS_NOBODY = """
import contextlib, io, json, os, sys
from ctrlens import cli
for warm in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        cli.main(warm)
os.setgroups([]); os.setgid(65534); os.setuid(65534)
if os.getresuid() != (65534, 65534, 65534) or os.getresgid() != (65534, 65534, 65534):
    sys.exit("could not drop to uid 65534")
sys.exit(cli.main(sys.argv[2:]))
"""


def nobody_argv(*args: str, warm: list[list[str]] | None = None) -> list[str]:
    """argv running `ctrlens ARGS` as uid 65534; `warm`: root runs first (default: ARGS itself)."""
    return [sys.executable, "-c", _AS_NOBODY, json.dumps(warm if warm is not None else [list(args)]), *args]
