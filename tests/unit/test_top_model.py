"""The rows of `ctrlens top`: grouping, in-place updates, filter, folding, sort. Plain data in, rows out."""

from __future__ import annotations

from ctrlens.model import ROLE_KERNEL, ROLE_SHIM, Container, Process, Snapshot
from ctrlens.tui.resources import ContainerUsage, ProcessUsage, Usage
from ctrlens.tui.rows import CONTAINER, HOST, HOST_KEY, PROCESS, SHIM, TopModel

CID = "a" * 64
OTHER = "b" * 64


def proc(
    pid: int, ppid: int, argv: list[str], container: str | None = None, role: str | None = None
) -> Process:
    return Process(
        pid=pid,
        ppid=ppid,
        uid=0,
        comm=argv[0].rsplit("/", 1)[-1][:15] if argv else "kworker",
        cmdline=argv,
        state="S",
        start_ticks=pid,
        cgroup="/",
        container_id=container,
        role=role,
    )


def snapshot(with_other: bool = True) -> Snapshot:
    procs = [
        proc(1, 0, ["/sbin/init"]),
        proc(2, 0, [], role=ROLE_KERNEL),
        proc(3, 2, [], role=ROLE_KERNEL),
        proc(50, 1, ["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", CID], role=ROLE_SHIM),
        proc(51, 50, ["nginx: master"], CID),
        proc(52, 51, ["nginx: worker"], CID),
        proc(53, 51, ["nginx: worker"], CID),
        proc(60, 1, ["/usr/bin/conmon", "-c", OTHER], role=ROLE_SHIM),
        proc(61, 60, ["redis-server *:6379"], OTHER),
        proc(70, 1, ["/usr/sbin/sshd", "-D"]),
    ]
    procs[3].shim_of = [CID]
    procs[7].shim_of = [OTHER]
    containers = {
        CID: Container(
            CID,
            "docker",
            f"/docker/{CID}",
            name="web",
            image="nginx:1.27",
            init_pid=51,
            pids=[51, 52, 53],
            shim_pid=50,
        )
    }
    if with_other:
        containers[OTHER] = Container(
            OTHER,
            "podman",
            f"/libpod_parent/libpod-{OTHER}",
            name="cache",
            image="redis:7",
            init_pid=61,
            pids=[61],
            shim_pid=60,
        )
    else:
        procs = [p for p in procs if p.pid not in (60, 61)]
    return Snapshot({p.pid: p for p in procs}, containers)


def usage(cpu: dict[str, float] | None = None) -> Usage:
    cpu = cpu or {}
    return Usage(
        processes={pid: ProcessUsage(1.0, 4096 * pid) for pid in (1, 50, 51, 52, 53, 60, 61, 70)},
        containers={
            CID: ContainerUsage(cpu.get("web", 5.0), 10 << 20, None, "cgroup v2", 3),
            OTHER: ContainerUsage(cpu.get("cache", 50.0), 20 << 20, None, "cgroup v2", 1),
        },
        interval=1.0,
    )


def keys(model: TopModel) -> list[str]:
    return [r.key for r in model.visible()]


def test_containers_hold_their_shim_first_then_their_process_tree():
    model = TopModel()
    model.collapsed.clear()
    model.update(snapshot(), usage())
    rows = model.visible()
    web = [r for r in rows if r.group == f"c:{CID}"]
    assert [(r.kind, r.pid, r.depth) for r in web] == [
        (CONTAINER, 51, 0),
        (SHIM, 50, 1),
        (PROCESS, 51, 1),
        (PROCESS, 52, 2),
        (PROCESS, 53, 2),
    ]
    assert web[0].name == "web" and web[0].extra == "nginx:1.27" and web[0].count == 3
    assert web[1].name == "containerd-shim-runc-v2"
    host = [r for r in rows if r.group == HOST_KEY]
    assert host[0].kind == HOST and {r.pid for r in host[1:]} == {1, 70}  # no shims, no kernel threads
    assert model.hidden_kernel == 2 and rows[-len(host)].key == HOST_KEY  # the host comes last


def test_an_update_keeps_row_objects_and_drops_what_left():
    model = TopModel()
    model.update(snapshot(), usage())
    web_row = model.rows[f"c:{CID}"]
    worker = model.rows["p:52"]
    version = web_row.version
    model.update(snapshot(with_other=False), usage({"web": 7.5}))
    assert model.rows[f"c:{CID}"] is web_row and model.rows["p:52"] is worker
    assert web_row.cpu == 7.5 and web_row.version == version + 1
    assert (
        f"c:{OTHER}" not in model.rows and "p:61" not in model.rows and "s:" + OTHER + ":60" not in model.rows
    )
    assert model.container_count == 1


def test_sort_by_cpu_puts_the_busiest_container_first_and_host_last():
    model = TopModel()
    model.update(snapshot(), usage({"web": 5.0, "cache": 50.0}))
    groups = [r.name for r in model.visible() if r.is_group]
    assert groups == ["cache", "web", "host processes"]
    model.sort = "name"
    assert [r.name for r in model.visible() if r.is_group] == ["cache", "web", "host processes"]
    model.update(snapshot(), usage({"web": 90.0, "cache": 1.0}))
    model.sort = "cpu"
    assert next(r.name for r in model.visible() if r.is_group) == "web"


def test_filter_keeps_matches_with_their_ancestors_and_container_names_keep_everything():
    model = TopModel()
    model.collapsed.clear()
    model.update(snapshot(), usage())
    model.filter_text = "worker"
    shown = model.visible()
    assert [r.pid for r in shown] == [51, 51, 52, 53]  # container row, master (ancestor), both workers
    model.filter_text = "CACHE"
    assert [r.kind for r in model.visible()] == [CONTAINER, SHIM, PROCESS]
    model.filter_text = "sshd"
    assert [r.pid for r in model.visible()] == [None, 70]  # the host group opens to show the match


def test_folding_and_containers_only():
    model = TopModel()
    model.update(snapshot(), usage())
    assert keys(model)[-1] == HOST_KEY  # the host group starts folded
    model.toggle(f"c:{CID}")
    assert [r.key for r in model.visible() if r.group == f"c:{CID}"] == [f"c:{CID}"]
    model.containers_only = True
    assert HOST_KEY not in keys(model)
    model.set_all_collapsed(False)
    assert len(model.visible()) == 5 + 3


def test_container_names_are_made_safe_for_the_terminal():
    snap = snapshot(with_other=False)
    snap.containers[CID].name = "evil\x1b]0;owned\x07"
    snap.processes[52].cmdline = ["worker\x1b[2J"]
    model = TopModel()
    model.collapsed.clear()
    model.update(snap, usage())
    assert all("\x1b" not in r.name and "\x07" not in r.name for r in model.visible())
