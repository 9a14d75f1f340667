"""Secrets in command-line arguments, which every host user can read (/proc/PID/cmdline is world-readable).

`option_pairs` turns argv into (option name, value) pairs: `--token=…`, `--password …` (the next argument,
only when the option is named as a secret), `KEY=VALUE` arguments (`env`, `-e`), `-Dkey=value`, and the short
options that mean "password" for one program (`mysql -pSECRET`, `redis-cli -a SECRET`, `sshpass -p SECRET`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import names, values

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*=")
_ATTACHED = re.compile(r"-[A-CE-Za-z][^-=][^=]*")  # -pVALUE (not -Dkey, not --long, no `=`)
_MYSQL = re.compile(r"(?:mysql|mariadb)[a-z-]*")  # mysql, mysqldump, mysqladmin, mariadb-dump…
# Program -> short options whose argument is a password; attached-only options cannot take the next argument
# (`mysql -p dbname` prompts for the password and dbname is a database).
_SHORT_PASSWORD: dict[str, tuple[str, bool]] = {
    "redis-cli": ("-a", False),
    "sshpass": ("-p", False),
    "mongo": ("-p", False),
    "mongosh": ("-p", False),
    "mongodump": ("-p", False),
    "mongorestore": ("-p", False),
    "mongoexport": ("-p", False),
    "mongoimport": ("-p", False),
}
_OPENSSL_PASS = ("-pass", "-passin", "-passout", "-passwd")


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # "--password", "-p", "DB_PASSWORD" (a KEY=VALUE argument), "-Djavax.net.ssl.keyStorePassword"
    value: str = field(repr=False)
    index: int  # argv index holding the value
    password: bool = False  # the program documents this option as taking a password (mysql -p)


def option_pairs(args: list[str], program: str | None = None) -> Iterator[Option]:
    """Every (name, value) pair the arguments carry. Arguments not yielded are left for the format rules."""
    prog = os.path.basename(program or (args[0] if args else ""))
    short = _short_password_option(prog)
    i = 0
    while i < len(args):
        arg = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else None
        if short and arg.startswith(short[0]) and arg != short[0]:
            yield Option(short[0], arg[len(short[0]) :], i, password=True)
        elif short and arg == short[0] and not short[1] and nxt is not None:
            yield Option(short[0], nxt, i + 1, password=True)
            i += 1
        elif prog == "openssl" and arg in _OPENSSL_PASS and nxt is not None:
            if nxt.startswith("pass:"):
                yield Option(arg, nxt[5:], i + 1, password=True)
            i += 1
        elif prog == "curl" and arg in ("-u", "--user", "--proxy-user") and nxt is not None:
            yield Option(arg, nxt.partition(":")[2], i + 1, password=True)
            i += 1
        elif _ATTACHED.fullmatch(arg) and names.is_secret_name(arg):
            # `app -pMyPassword db1`: a one-letter option with its value attached, and the value reads like a
            # secret's name. Never take it for a name (it would be printed): it is option -p with a value.
            yield Option(arg[:2], arg[2:], i, password=True)
        elif arg.startswith("-") and "=" in arg:
            name, _, value = arg.partition("=")
            yield Option(name, value, i)
            yield from _assignment(value, i)
        elif arg.startswith("-") and nxt is not None and names.is_secret_name(arg) and not _is_flag(nxt):
            yield Option(arg, nxt, i + 1)
            i += 1
        elif _ASSIGNMENT.match(arg):
            yield from _assignment(arg, i)
        i += 1


def _assignment(arg: str, index: int) -> Iterator[Option]:
    if _ASSIGNMENT.match(arg):
        name, _, value = arg.partition("=")
        yield Option(name, value, index)


def _short_password_option(prog: str) -> tuple[str, bool] | None:
    if _MYSQL.fullmatch(prog):
        return ("-p", True)
    return _SHORT_PASSWORD.get(prog)


def _is_flag(arg: str) -> bool:
    """`--password --verbose`: the next argument is another option, not the password."""
    return arg.startswith("-") and len(arg) > 1 and not values.is_number(arg)
