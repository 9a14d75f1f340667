"""`--listen ADDR:PORT`: parsed and judged before anything binds (loopback is the default and the safe case)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from ..errors import UsageError
from .defaults import DEFAULT_LISTEN, DEFAULT_PORT


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str  # "" binds every interface
    port: int

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # "" (every interface) or a host name

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else (self.host or "0.0.0.0")  # noqa: S104 - display only
        return f"{host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """`127.0.0.1:9648`, `[::1]:9648`, `localhost:9648`, `0.0.0.0:9648`, `:9648` (every interface)."""
    hint = f"--listen {text!r}: expected ADDR:PORT, e.g. {DEFAULT_LISTEN} or [::1]:{DEFAULT_PORT}"
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise UsageError(hint)
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or ":" in host:
            raise UsageError(hint)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--listen {text!r}: the port must be a number from 1 to 65535")
    if host and host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise UsageError(f"--listen {text!r}: {host!r} is not an IP address (or localhost)") from None
    return ListenAddress(host, int(port_text))
