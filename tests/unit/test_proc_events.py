"""`ctrlens.linux.proc_events.parse` on datagrams laid out as include/uapi/linux/connector.h and cn_proc.h say:
nlmsghdr (16) + cn_msg (20) + proc_event {what, cpu, timestamp_ns, event_data}. Unknown kinds and torn
messages are skipped; several messages in one datagram are all read."""

from __future__ import annotations

import struct

from ctrlens.linux import proc_events as pe


def datagram(what: int, data: bytes, *, ts: int = 123_456_789, idx: int = pe.CN_IDX_PROC) -> bytes:
    body = struct.pack("=IIQ", what, 1, ts) + data
    cn = struct.pack("=IIIIHH", idx, pe.CN_VAL_PROC, 7, 0, len(body), 0) + body
    return struct.pack("=IHHII", 16 + len(cn), 3, 0, 7, 0) + cn


def test_fork_exec_exit_and_ack():
    fork = datagram(pe.PROC_EVENT_FORK, struct.pack("=iiii", 10, 10, 11, 11))
    exec_ = datagram(pe.PROC_EVENT_EXEC, struct.pack("=ii", 11, 11))
    exit_ = datagram(pe.PROC_EVENT_EXIT, struct.pack("=iiIIii", 12, 11, 256, 17, 10, 10))
    ack = datagram(pe.PROC_EVENT_NONE, struct.pack("=I", 1))
    assert pe.parse(fork) == [pe.ProcEvent(pe.PROC_EVENT_FORK, 123_456_789, pid=11, tid=11, parent=10)]
    assert pe.parse(exec_) == [pe.ProcEvent(pe.PROC_EVENT_EXEC, 123_456_789, pid=11, tid=11)]
    assert pe.parse(exit_) == [
        pe.ProcEvent(pe.PROC_EVENT_EXIT, 123_456_789, pid=11, tid=12, parent=10, exit_code=256)
    ]
    assert pe.parse(ack)[0].err == 1


def test_several_messages_in_one_datagram_and_torn_or_foreign_ones():
    one = datagram(pe.PROC_EVENT_EXEC, struct.pack("=ii", 5, 5))
    assert [e.pid for e in pe.parse(one + one)] == [5, 5]
    assert pe.parse(one[:-3]) == []  # length says more than arrived
    assert pe.parse(datagram(pe.PROC_EVENT_EXEC, struct.pack("=ii", 5, 5), idx=2)) == []  # another connector
    assert pe.parse(datagram(0x200, b"\0" * 24)) == []  # PROC_EVENT_COMM: not read
    assert pe.parse(b"") == []


def test_subscription_message_layout():
    msg = pe._mcast_message(pe.PROC_CN_MCAST_LISTEN, 9)
    length, msg_type, _flags, seq, _pid = struct.unpack_from("=IHHII", msg)
    idx, val, cseq, _ack, size, _cflags = struct.unpack_from("=IIIIHH", msg, 16)
    assert (length, len(msg), msg_type, seq) == (40, 40, 3, 9)  # NLMSG_DONE, one u32 of payload
    assert (idx, val, cseq, size) == (pe.CN_IDX_PROC, pe.CN_VAL_PROC, 9, 4)
    assert struct.unpack_from("=I", msg, 36) == (pe.PROC_CN_MCAST_LISTEN,)


def test_an_overrun_asks_for_a_rescan_and_says_so_once_per_overrun():
    from ctrlens.host import Host
    from ctrlens.watch.kernel import KernelWatcher, _Item
    from ctrlens.watch.loop import Watcher

    said: list[str] = []
    watcher = KernelWatcher(Watcher(Host(), mask=list), connector=None, warn=said.append)  # type: ignore[arg-type]
    assert watcher.handle(_Item(None, None)) == []
    assert watcher.rescan_due is not None
    assert watcher.overruns == 1
    assert len(said) == 1 and "overran the socket buffer" in said[0] and "rescanning" in said[0]


def test_exec_and_exit_of_a_host_process_tell_nothing():
    import os

    from ctrlens.host import Host
    from ctrlens.scanner import read_process
    from ctrlens.watch.kernel import KernelWatcher, _Item
    from ctrlens.watch.loop import Watcher

    watcher = KernelWatcher(Watcher(Host(), mask=list), connector=None)  # type: ignore[arg-type]
    me = read_process("/proc", os.getpid())
    exec_ = pe.ProcEvent(pe.PROC_EVENT_EXEC, 1, pid=os.getpid(), tid=os.getpid())
    exit_ = pe.ProcEvent(pe.PROC_EVENT_EXIT, 2, pid=os.getpid(), tid=os.getpid())
    assert watcher.handle(_Item(exec_, me)) == []
    assert watcher.handle(_Item(exit_, None)) == []
    assert watcher.rescan_due is None  # nothing of a container's: no rescan either
