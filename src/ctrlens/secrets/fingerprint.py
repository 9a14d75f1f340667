"""Short, non-reversible fingerprints, so a report can say "these two containers share one secret" without
showing it: the first 12 hex digits of HMAC-SHA256(key, secret).

The key, and why:
* `host`: 32 random bytes in `<host-root>/var/lib/ctrlens/fingerprint.key` (directory 0700, file 0600, root),
  created on first use. Fingerprints are stable across runs on one host (snapshots and diffs can compare
  them) and cannot be brute-forced by whoever reads a report, since the key never leaves the host.
* `run`: when that file cannot be read or created (not root, read-only host root), a random key for this run
  only. Fingerprints then compare within one report, not across runs. We deliberately do NOT fall back to a
  fixed, public key: with a known key, the fingerprint of a weak password ("hunter2") is a dictionary lookup
  away, and reports (SARIF in CI logs) travel further than the host.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import secrets as _random
import stat
from dataclasses import dataclass, field

KEY_PATH = "/var/lib/ctrlens/fingerprint.key"
KEY_BYTES = 32
DIGITS = 12
SCOPE_HOST = "host"
SCOPE_RUN = "run"
# Domain separation: the same key must never give the same output as another use of HMAC-SHA256.
_DOMAIN = b"ctrlens/secret-fingerprint/v1\0"


@dataclass(slots=True)
class Fingerprinter:
    key: bytes = field(repr=False)
    scope: str  # SCOPE_HOST or SCOPE_RUN
    source: str | None = None  # the key file, when scope is host

    def __call__(self, secret: str) -> str:
        data = _DOMAIN + secret.encode("utf-8", "surrogateescape")
        return hmac.new(self.key, data, hashlib.sha256).hexdigest()[:DIGITS]

    @classmethod
    def for_run(cls) -> Fingerprinter:
        return cls(_random.token_bytes(KEY_BYTES), SCOPE_RUN)

    @classmethod
    def for_host(cls, key_path: str = KEY_PATH) -> Fingerprinter:
        """The host's key, created if missing; a per-run key when it cannot be had."""
        key = load_or_create_key(key_path)
        if key is None:
            return cls.for_run()
        return cls(key, SCOPE_HOST, key_path)


def load_or_create_key(path: str) -> bytes | None:
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        return _create_key(path)
    except OSError:
        return None


def _read_key(path: str) -> bytes | None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        # A key others can read (or replace) would let them recompute or forge fingerprints.
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            return None
        key = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    return key if len(key) == KEY_BYTES else None


def _create_key(path: str) -> bytes | None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    key = _random.token_bytes(KEY_BYTES)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and never overwrites: a concurrent run's key wins, we read it back
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
        return _read_key(path)
    finally:
        os.unlink(tmp)
    return key
