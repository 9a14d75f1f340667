"""`ctrlens pods` on fixture host roots: grouping by pod uid, what a pod shows when its runtime files are
missing, the annotations containerd's CRI really wrote (tests/fixtures/cri), filters and hostile names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctrlens.cli import main
from tests.fixtures.proctree import HostTree, shim_v2, v1

CAPTURED = json.loads((Path(__file__).parents[1] / "fixtures/cri/containerd-1.6-cri-config.json").read_text())
TASKS = "/run/containerd/io.containerd.runtime.v2.task/k8s.io"


def pods(tree: HostTree, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--host-root", str(tree.root), "pods", *args])
    out, err = capsys.readouterr()
    return code, out, err


def captured_pod(tree: HostTree, base_pid: int = 900) -> tuple[str, str, str]:
    """The sandbox and one container exactly as containerd 1.6's CRI wrote them (the captured fixture)."""
    sandbox, app = CAPTURED["sandbox"], CAPTURED["container"]
    sid = sandbox["annotations"]["io.kubernetes.cri.sandbox-id"]
    aid = app["linux.cgroupsPath"].rsplit("/", 1)[1]
    for i, (cid, spec, argv) in enumerate(((sid, sandbox, ["/pause"]), (aid, app, ["sleep", "1000000"]))):
        pid = base_pid + 10 * i
        tree.container(
            shim=shim_v2(pid, "k8s.io", cid),
            pid=pid + 1,
            comm=argv[0].lstrip("/"),
            argv=argv,
            cgroup=v1(spec["linux.cgroupsPath"]),
            pid_ns=4026532600 + 10 * i,
        )
        tree.file(f"{TASKS}/{cid}/config.json", {"annotations": spec["annotations"]})
    return sid, aid, sandbox["annotations"]["io.kubernetes.cri.sandbox-uid"]


@pytest.fixture
def tree(tmp_path: Path) -> HostTree:
    return HostTree(tmp_path)


def test_a_pod_from_the_captured_cri_annotations_is_one_row_with_its_sandbox(tree, capsys):
    sid, aid, uid = captured_pod(tree)
    code, out, _ = pods(tree, capsys, "-o", "json")
    assert code == 0
    (rec,) = json.loads(out)
    assert (rec["namespace"], rec["name"], rec["uid"], rec["qos"]) == ("shop", "web", uid, "burstable")
    assert rec["sandbox_id"] == sid and rec["runtime"] == "containerd"
    assert [(c["id"], c["name"], c["sandbox"]) for c in rec["containers"]] == [
        (sid, "POD", True),
        (aid, "app", False),
    ]
    assert rec["container_count"] == 1 and rec["process_count"] == 2 and rec["pids"] == [901, 911]


def test_a_pod_without_runtime_files_still_shows_its_uid_and_qos_from_the_cgroup(tree, capsys):
    uid = "11112222-3333-4444-5555-666677778888"
    cid = "ab" * 32
    tree.container(shim=shim_v2(700, "k8s.io", cid), pid=701, comm="app", argv=["app"],
                   cgroup=v1(f"/kubepods/pod{uid}/{cid}"))  # fmt: skip
    _, out, _ = pods(tree, capsys, "-o", "json")
    (rec,) = json.loads(out)
    assert (rec["name"], rec["namespace"], rec["uid"], rec["qos"]) == (None, None, uid, "guaranteed")
    _, out, _ = pods(tree, capsys)
    assert f"pod{uid}" in out  # the pods table names it by uid
    main(["--host-root", str(tree.root), "ps", "-o", "json"])
    proc = next(p for p in json.loads(capsys.readouterr().out) if p["pid"] == 701)
    assert proc["pod"]["uid"] == uid and proc["pod"]["qos"] == "guaranteed" and proc["pod"]["name"] is None
    main(["--host-root", str(tree.root), "ps"])
    assert (
        f"pod{uid[:13]}" in capsys.readouterr().out
    )  # the table names the pod by uid when nothing else is known


def test_filters_and_a_hostile_pod_name_in_the_table(tree, capsys):
    captured_pod(tree)
    uid = "99998888-7777-6666-5555-444433332222"
    cid = "cd" * 32
    tree.container(shim=shim_v2(800, "k8s.io", cid), pid=801, comm="x", argv=["x"],
                   cgroup=v1(f"/kubepods/besteffort/pod{uid}/{cid}"), pid_ns=4026532700)  # fmt: skip
    evil = "evil\x1b]0;owned\x07\u202e"
    tree.file(f"{TASKS}/{cid}/config.json", {"annotations": {
        "io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.container-name": "x",
        "io.kubernetes.cri.sandbox-name": evil, "io.kubernetes.cri.sandbox-namespace": "attack"}})  # fmt: skip
    _, out, _ = pods(tree, capsys, "-o", "json", "--namespace", "shop")
    assert [r["name"] for r in json.loads(out)] == ["web"]
    _, out, _ = pods(tree, capsys, "-o", "json", "--name", "evil*")
    assert [r["name"] for r in json.loads(out)] == [evil]  # exact bytes in JSON
    _, out, _ = pods(tree, capsys, "-o", "wide")
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "attack" in out
    code, _, err = pods(tree, capsys, "-l", "novalue")
    assert code == 2 and err.startswith("ctrlens: --label")
    _, out, err = pods(tree, capsys, "-n", "nothing-here")
    assert "no Kubernetes pods found" in err
