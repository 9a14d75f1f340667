"""Socket tables of /proc/PID/net: addresses are kernel words in hex (little-endian hosts: bytes reversed)."""

from __future__ import annotations

import sys

import pytest

from ctrlens.snapshot.net import decode_address, parse_inet, parse_unix, socket_inode

pytestmark = pytest.mark.skipif(sys.byteorder != "little", reason="samples are from a little-endian host")

TCP = b"""\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0050 0100007F:D431 01 00000000:00000000 00:00000000 00000000   101        0 31338 1 0000000000000000 20 4 30 10 -1
"""
TCP6 = b"""\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000500000A:C000 01 00000000:00000000 00:00000000 00000000     0        0 4243 1 0000000000000000 20 4 30 10 -1
"""
UDP = b"""\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 555 2 0000000000000000 0
"""
UNIX = b"""\
Num       RefCount Protocol Flags    Type St Inode Path
00000000fb235009: 00000002 00000000 00010000 0001 01 35897 /run/app.sock
000000004650894b: 00000003 00000000 00000000 0001 03 2914751
00000000d8610579: 00000002 00000000 00000000 0002 01 215387 @abstract name
"""


def test_ipv4_and_ipv6_addresses_decode():
    assert decode_address("0100007F:0050") == ("127.0.0.1", 80)
    assert decode_address("0500000A:01BB") == ("10.0.0.5", 443)
    assert decode_address("00000000000000000000000001000000:1F90") == ("::1", 8080)
    assert decode_address("0000000000000000FFFF00000100007F:1F90") == ("::ffff:127.0.0.1", 8080)


def test_tcp_listening_and_established():
    listen, conn = parse_inet(TCP, "tcp")
    assert (listen["local_address"], listen["local_port"], listen["state"], listen["listening"]) == (
        "0.0.0.0",
        80,
        "LISTEN",
        True,
    )
    assert (conn["remote_address"], conn["remote_port"], conn["state"], conn["uid"], conn["inode"]) == (
        "127.0.0.1",
        54321,
        "ESTABLISHED",
        101,
        31338,
    )
    assert not conn["listening"]


def test_tcp6_and_udp():
    listen, mapped = parse_inet(TCP6, "tcp6")
    assert (listen["local_address"], listen["local_port"], listen["listening"]) == ("::1", 8080, True)
    assert mapped["remote_address"] == "::ffff:10.0.0.5"
    (dns,) = parse_inet(UDP, "udp")
    assert (dns["local_port"], dns["state"], dns["listening"]) == (53, "UNCONN", True)


def test_unix_sockets():
    listening, connected, abstract = parse_unix(UNIX)
    assert (listening["path"], listening["listening"], listening["type"]) == ("/run/app.sock", True, "stream")
    assert (connected["path"], connected["state"], connected["listening"]) == (None, "connected", False)
    assert (abstract["path"], abstract["type"]) == ("@abstract name", "dgram")


def test_socket_inode_from_fd_link():
    assert socket_inode("socket:[31337]") == 31337
    assert socket_inode("/etc/passwd") is None
    assert socket_inode("socket:[x]") is None


def test_garbage_lines_are_skipped():
    assert parse_inet(b"header\nnot a socket line\n   0: zz:zz 00:00 0A\n", "tcp") == []
    assert parse_unix(b"header\n\n") == []
