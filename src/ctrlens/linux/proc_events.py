"""The kernel's process events connector (netlink `NETLINK_CONNECTOR`, `CN_IDX_PROC`): fork, exec and exit of
every process on the host, as they happen. Needs CAP_NET_ADMIN in the initial user and pid namespaces; no driver,
no eBPF. Layouts from include/uapi/linux/connector.h and cn_proc.h:

    struct nlmsghdr   { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }                      16 bytes
    struct cn_msg     { u32 idx; u32 val; u32 seq; u32 ack; u16 len; u16 flags; }              20 bytes
    struct proc_event { u32 what; u32 cpu; u64 timestamp_ns (aligned 8); union event_data }    at 16
      fork: parent_pid, parent_tgid, child_pid, child_tgid          exec: process_pid, process_tgid
      exit: process_pid, process_tgid, exit_code, exit_signal, parent_pid, parent_tgid
      ack (what == NONE): err

Python's `socket` speaks AF_NETLINK itself: no ctypes here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import struct
import time
from dataclasses import dataclass

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2

PROC_EVENT_NONE = 0x00000000  # the answer to LISTEN: event_data.ack.err
PROC_EVENT_FORK = 0x00000001
PROC_EVENT_EXEC = 0x00000002
PROC_EVENT_EXIT = 0x80000000

NLMSG_HDR = struct.Struct("=IHHII")
CN_MSG = struct.Struct("=IIIIHH")
PROC_EVENT_HDR = struct.Struct("=IIQ")
_PIDS4 = struct.Struct("=iiii")
_EXIT = struct.Struct("=iiIIii")
_NLMSG_DONE = 3
_NLMSG_ERROR = 2
_RECV_BUFFER = 8 << 20  # bytes of socket buffer asked for: a burst of forks must not overrun it


@dataclass(frozen=True, slots=True)
class ProcEvent:
    """One event. `pid` is the process (thread group) it concerns; `tid` the thread (== pid for a process)."""

    what: int
    timestamp_ns: int  # CLOCK_MONOTONIC in the kernel (ktime_get_ns)
    pid: int
    tid: int
    parent: int = 0  # fork: the parent's tgid; exit: the parent's tgid
    exit_code: int = 0  # exit: the wait status
    err: int = 0  # ack: 0 when the subscription took


def parse(data: bytes) -> list[ProcEvent]:
    """Every proc_event in one datagram (one or more netlink messages); unknown event kinds are skipped."""
    events: list[ProcEvent] = []
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, msg_type, _flags, _seq, _pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size or offset + length > len(data):
            break  # torn: nothing after it can be trusted
        body = offset + NLMSG_HDR.size
        if msg_type not in (_NLMSG_ERROR,) and length >= NLMSG_HDR.size + CN_MSG.size + PROC_EVENT_HDR.size:
            idx, val, _cseq, _ack, cn_len, _cflags = CN_MSG.unpack_from(data, body)
            start = body + CN_MSG.size
            if idx == CN_IDX_PROC and val == CN_VAL_PROC and start + cn_len <= offset + length:
                event = _event(data, start, cn_len)
                if event is not None:
                    events.append(event)
        offset += (length + 3) & ~3  # NLMSG_ALIGN
        if msg_type == _NLMSG_DONE and offset >= len(data):
            break
    return events


def _event(data: bytes, start: int, size: int) -> ProcEvent | None:
    if size < PROC_EVENT_HDR.size + 4:
        return None
    what, _cpu, ts = PROC_EVENT_HDR.unpack_from(data, start)
    at = start + PROC_EVENT_HDR.size
    if what == PROC_EVENT_FORK and size >= PROC_EVENT_HDR.size + _PIDS4.size:
        _ppid, ptgid, child_pid, child_tgid = _PIDS4.unpack_from(data, at)
        return ProcEvent(what, ts, pid=child_tgid, tid=child_pid, parent=ptgid)
    if what == PROC_EVENT_EXEC and size >= PROC_EVENT_HDR.size + 8:
        pid, tgid = struct.unpack_from("=ii", data, at)
        return ProcEvent(what, ts, pid=tgid, tid=pid)
    if what == PROC_EVENT_EXIT and size >= PROC_EVENT_HDR.size + _EXIT.size:
        pid, tgid, code, _signal, _ppid, ptgid = _EXIT.unpack_from(data, at)
        return ProcEvent(what, ts, pid=tgid, tid=pid, parent=ptgid, exit_code=code)
    if what == PROC_EVENT_NONE:
        (err,) = struct.unpack_from("=I", data, at)
        return ProcEvent(what, ts, pid=0, tid=0, err=err)
    return None


def _mcast_message(op: int, seq: int) -> bytes:
    payload = struct.pack("=I", op)
    cn = CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, seq, 0, len(payload), 0) + payload
    return NLMSG_HDR.pack(NLMSG_HDR.size + len(cn), _NLMSG_DONE, 0, seq, os.getpid()) + cn


class ProcConnector:
    """A subscription to the process events connector. `open()` raises OSError when the kernel refuses it
    (EPERM without CAP_NET_ADMIN, EPROTONOSUPPORT without CONFIG_PROC_EVENTS, ETIMEDOUT when the kernel does
    not answer: a non-initial pid or user namespace is ignored silently)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def open(cls, ack_timeout: float = 1.0) -> ProcConnector:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_CONNECTOR)
        try:
            for option in (33, socket.SO_RCVBUF):  # SO_RCVBUFFORCE (root: past rmem_max), else what we may
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, _RECV_BUFFER)
                    break
                except OSError:
                    continue
            sock.bind((0, CN_IDX_PROC))
            seq = int(time.monotonic_ns() & 0x7FFFFFFF)
            sock.send(_mcast_message(PROC_CN_MCAST_LISTEN, seq))
            connector = cls(sock)
            connector._await_ack(ack_timeout)
            sock.setblocking(False)
            return connector
        except BaseException:
            sock.close()
            raise

    def _await_ack(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                break
            for event in parse(self.sock.recv(65536)):
                if event.what == PROC_EVENT_NONE:
                    if event.err:
                        raise OSError(event.err, os.strerror(event.err))
                    return
                return  # an event arrived: the subscription works
        raise OSError(errno.ETIMEDOUT, "the process events connector did not answer")

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self, limit: int = 4096) -> tuple[list[ProcEvent], bool]:
        """The events waiting now (at most `limit` datagrams), and whether the kernel dropped some because the
        socket buffer overran (ENOBUFS): then the caller must assume it missed events."""
        events: list[ProcEvent] = []
        overrun = False
        for _ in range(limit):
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                overrun = True
                continue
            events.extend(parse(data))
        return events, overrun

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(_mcast_message(PROC_CN_MCAST_IGNORE, 0))  # the kernel counts listeners
        self.sock.close()
