"""containerd used directly (ctr, nerdctl) and through CRI (Kubernetes): shim command line, OCI bundle annotations."""

from __future__ import annotations

from ..host import Host
from ..model import Container, Pod, RestartPolicy, Snapshot
from .base import CONTAINERD, CgroupMatch, strip_suffix
from .context import MetaContext, owners_of
from .metafile import str_dict
from .plugin import DiffConvention, FixDialect, RuntimePlugin
from .restart_rules import NO, UNKNOWN, YES, RestartForecast, engine_daemon, policy_rules

RESTART_MONITOR_STATUS = "containerd.io/restart.status"
RESTART_MONITOR_POLICY = "containerd.io/restart.policy"

NAME = CONTAINERD

# The CRI plugin's annotations in the OCI config.json (what a kubelet's containerd writes).
CRI = "io.kubernetes.cri."


def match_cri_scope(parts: list[str], i: int) -> CgroupMatch | None:
    comp = parts[i]
    if comp.startswith("cri-containerd-"):
        cid = strip_suffix(comp[len("cri-containerd-") :], ".scope")
        if cid:
            return CgroupMatch(CONTAINERD, cid, "", "cri-containerd-<id>.scope", engine_namespace="k8s.io")
    # containerd with SystemdCgroup unset leaves runc's systemd triple in the path.
    if ":cri-containerd:" in comp:
        cid = comp.rsplit(":", 1)[1]
        if cid:
            return CgroupMatch(CONTAINERD, cid, "", "<slice>:cri-containerd:<id>", engine_namespace="k8s.io")
    return None


def match_nerdctl_scope(parts: list[str], i: int) -> CgroupMatch | None:
    comp = parts[i]
    if comp.startswith("nerdctl-"):
        cid = strip_suffix(comp[len("nerdctl-") :], ".scope")
        if cid:
            return CgroupMatch(CONTAINERD, cid, "", "nerdctl-<id>.scope")
    return None


RULES = (match_cri_scope, match_nerdctl_scope)


def task_dir(meta: MetaContext, namespace: str, cid: str) -> str | None:
    for state in meta.dirs.containerd_states:
        for shim in ("io.containerd.runtime.v2.task", "io.containerd.runtime.v1.linux"):
            path = f"{state}/{shim}/{namespace}/{cid}"
            if meta.exists(f"{path}/config.json"):
                return path
    return None


def enrich(container: Container, meta: MetaContext) -> None:
    namespaces = [container.engine_namespace] if container.engine_namespace else ["k8s.io", "default", "moby"]
    for ns in namespaces:
        bundle = task_dir(meta, ns, container.id)
        if bundle is None:
            continue
        container.engine_namespace = ns
        container.bundle = bundle
        spec = meta.read_json(f"{bundle}/config.json", owners_of(container))
        if isinstance(spec, dict):
            container.metadata_files.append(f"{bundle}/config.json")
            annotations = str_dict(spec.get("annotations"))
            container.annotations.update(annotations)
            apply_cri_annotations(container, annotations)
        if container.image is None:
            _image_from_metadata_store(container, meta, ns)
        return


def _image_from_metadata_store(container: Container, meta: MetaContext, namespace: str) -> None:
    """`ctr run` puts the image nowhere but containerd's metadata database (meta.db, root's BoltDB file)."""
    from .containerd_db import container_record, containerd_roots

    record = container_record(meta.host, containerd_roots(meta.processes, meta.host), namespace, container.id)
    if record is not None and record.image:
        container.image = record.image
        container.metadata_files.append(record.source)


def apply_cri_annotations(container: Container, annotations: dict[str, str]) -> None:
    """Pod, namespace, container and image names as the kubelet's CRI plugin recorded them."""
    if CRI + "sandbox-name" not in annotations and CRI + "container-type" not in annotations:
        if "nerdctl/name" in annotations:
            container.name = annotations["nerdctl/name"]
        return
    pod = container.pod or Pod(None, None, None)
    pod.name = annotations.get(CRI + "sandbox-name") or pod.name
    pod.namespace = annotations.get(CRI + "sandbox-namespace") or pod.namespace
    pod.uid = annotations.get(CRI + "sandbox-uid") or pod.uid
    pod.sandbox_id = annotations.get(CRI + "sandbox-id") or pod.sandbox_id
    container.pod = pod
    container.sandbox = annotations.get(CRI + "container-type") == "sandbox"
    container.kube_container = annotations.get(CRI + "container-name") or (
        "POD" if container.sandbox else container.kube_container
    )
    container.image = annotations.get(CRI + "image-name") or container.image
    if container.kube_container and pod.name:
        container.name = f"{pod.name}/{container.kube_container}"


def forecast_restart(
    container: Container, snapshot: Snapshot, exit_code: int | None, host: Host
) -> RestartForecast:
    """containerd's restart monitor restarts only containers labelled containerd.io/restart.status=running."""
    from .containerd_db import container_labels, containerd_roots

    found = container_labels(
        host,
        containerd_roots(snapshot.processes, host),
        container.engine_namespace or "default",
        container.id,
    )
    if found is None:
        return RestartForecast(
            UNKNOWN,
            "containerd's metadata database does not list it; containerd restarts only containers labelled "
            f"{RESTART_MONITOR_STATUS}=running",
        )
    labels, source = found
    if labels.get(RESTART_MONITOR_STATUS) != "running":
        return RestartForecast(
            NO,
            f"containerd restarts nothing by itself, and it has no {RESTART_MONITOR_STATUS}=running label",
            None,
            RestartPolicy("no", source=source),
            [source],
        )
    raw = labels.get(RESTART_MONITOR_POLICY) or "always"
    name, _, limit = raw.partition(":")
    count = labels.get("containerd.io/restart.count")
    policy = RestartPolicy(
        name,
        max_retries=int(limit) if limit.isdigit() else None,
        restart_count=int(count) if count and count.isdigit() else None,
        source=source,
    )
    forecast = policy_rules(
        policy,
        exit_code,
        daemon=engine_daemon(snapshot, "containerd"),
        by="containerd's restart monitor",
        what="containerd",
    )
    if forecast.verdict == YES:
        forecast.reason += " (it checks every 10 s by default)"
    return forecast


PLUGINS = (
    RuntimePlugin(CONTAINERD, RULES, enrich, forecast_restart, DiffConvention.DOCKER, FixDialect.DOCKER),
)
