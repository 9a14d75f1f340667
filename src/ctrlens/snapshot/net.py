"""Sockets of a network namespace from /proc/PID/net/{tcp,tcp6,udp,udp6,unix}: bytes in, records out.

Addresses in these files are the kernel's in-memory words printed in hex: IPv4 is one 32-bit word in host byte
order, IPv6 four of them; ports are big-endian hex. Socket inodes tie a socket to the processes holding it
(their /proc/PID/fd links read "socket:[INODE]").
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE",
    8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
}  # fmt: skip
UNIX_TYPES = {1: "stream", 2: "dgram", 5: "seqpacket"}
UNIX_STATES = {1: "unconnected", 2: "connecting", 3: "connected", 4: "disconnecting"}
SO_ACCEPTCON = 0x10000  # unix socket flag: listening
INET_FILES = ("tcp", "tcp6", "udp", "udp6")


def decode_address(text: str) -> tuple[str, int]:
    """'0100007F:0050' -> ('127.0.0.1', 80); 32 hex digits before the colon are IPv6."""
    addr_hex, _, port_hex = text.partition(":")
    raw = bytes.fromhex(addr_hex)
    # Each 32-bit word is in the kernel's byte order: swap words to network order on little-endian hosts.
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    address = ipaddress.ip_address(socket.inet_ntop(family, raw))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return f"::ffff:{address.ipv4_mapped}", int(port_hex, 16)
    return str(address), int(port_hex, 16)


def parse_inet(data: bytes, proto: str) -> list[dict[str, Any]]:
    """Lines of net/tcp, tcp6, udp or udp6. `proto` is the file name."""
    sockets = []
    for line in data.decode("ascii", "replace").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            local, lport = decode_address(fields[1])
            remote, rport = decode_address(fields[2])
            state_no = int(fields[3], 16)
            uid, inode = int(fields[7]), int(fields[9])
        except ValueError:
            continue
        tcp = proto.startswith("tcp")
        state = (
            TCP_STATES.get(state_no, f"0x{state_no:02X}")
            if tcp
            else ("UNCONN" if state_no == 7 else TCP_STATES.get(state_no, str(state_no)))
        )
        sockets.append({
            "proto": proto,
            "local_address": local, "local_port": lport,
            "remote_address": remote, "remote_port": rport,
            "state": state,
            "listening": (state_no == 10) if tcp else (state_no == 7 and rport == 0),
            "uid": uid,
            "inode": inode,
        })  # fmt: skip
    return sockets


def parse_unix(data: bytes) -> list[dict[str, Any]]:
    sockets = []
    for line in data.decode("utf-8", "backslashreplace").splitlines()[1:]:
        fields = line.split(maxsplit=7)
        if len(fields) < 7:
            continue
        try:
            flags, kind, state, inode = (
                int(fields[3], 16),
                int(fields[4], 16),
                int(fields[5], 16),
                int(fields[6]),
            )
        except ValueError:
            continue
        sockets.append({
            "proto": "unix",
            "type": UNIX_TYPES.get(kind, str(kind)),
            "state": UNIX_STATES.get(state, str(state)),
            "listening": bool(flags & SO_ACCEPTCON),
            "path": fields[7] if len(fields) > 7 else None,  # '@name' is an abstract socket
            "inode": inode,
        })  # fmt: skip
    return sockets


def socket_inode(link: str) -> int | None:
    """'socket:[12345]' -> 12345."""
    if link.startswith("socket:[") and link.endswith("]"):
        try:
            return int(link[8:-1])
        except ValueError:
            return None
    return None
