"""CRI-O: `crio-<id>.scope` payloads, `crio-conmon-<id>.scope` monitors; annotations in the bundle's config.json."""

from __future__ import annotations

from ..host import Host
from ..model import Container, Pod, Snapshot
from .base import CRIO, CgroupMatch, is_hex64, strip_suffix
from .context import MetaContext, owners_of
from .metafile import str_dict
from .plugin import DiffConvention, FixDialect, RuntimePlugin
from .restart_rules import UNKNOWN, RestartForecast

NAME = CRIO


def match_crio(parts: list[str], i: int) -> CgroupMatch | None:
    comp = parts[i]
    if comp.startswith("crio-conmon-"):
        cid = strip_suffix(comp[len("crio-conmon-") :], ".scope") or comp[len("crio-conmon-") :]
        return CgroupMatch(CRIO, cid, "", "crio-conmon-<id>.scope", shim=True) if is_hex64(cid) else None
    if comp.startswith("crio-"):
        cid = strip_suffix(comp[len("crio-") :], ".scope") or comp[len("crio-") :]
        if is_hex64(cid):
            return CgroupMatch(CRIO, cid, "", "crio-<id>.scope")
    return None


RULES = (match_crio,)

K8S = "io.kubernetes."


def enrich(container: Container, meta: MetaContext) -> None:
    bundles = [container.bundle] if container.bundle else []
    for root in meta.dirs.containers_storage:
        bundles.append(f"{root}/overlay-containers/{container.id}/userdata")
    for bundle in bundles:
        spec = meta.read_json(f"{bundle}/config.json", owners_of(container))
        if not isinstance(spec, dict):
            continue
        container.bundle = bundle
        container.metadata_files.append(f"{bundle}/config.json")
        annotations = str_dict(spec.get("annotations"))
        container.annotations.update(annotations)
        pod = container.pod or Pod(None, None, None)
        pod.name = annotations.get(K8S + "pod.name") or pod.name
        pod.namespace = annotations.get(K8S + "pod.namespace") or pod.namespace
        pod.uid = annotations.get(K8S + "pod.uid") or pod.uid
        pod.sandbox_id = annotations.get(K8S + "cri-o.SandboxID") or pod.sandbox_id
        container.pod = pod
        container.sandbox = annotations.get(K8S + "cri-o.ContainerType") == "sandbox"
        container.kube_container = annotations.get(K8S + "container.name") or container.kube_container
        container.image = annotations.get(K8S + "cri-o.ImageName") or container.image
        container.created = (
            annotations.get(K8S + "cri-o.Created", "")[:19] + "Z"
            if annotations.get(K8S + "cri-o.Created")
            else container.created
        )
        if container.kube_container and pod.name:
            container.name = f"{pod.name}/{container.kube_container}"
        return


def forecast_restart(
    container: Container, snapshot: Snapshot, exit_code: int | None, host: Host
) -> RestartForecast:
    return RestartForecast(
        UNKNOWN, "a CRI-O container outside a pod: only a kubelet restarts CRI-O containers"
    )


PLUGINS = (
    RuntimePlugin(CRIO, RULES, enrich, forecast_restart, DiffConvention.PODMAN, FixDialect.KUBERNETES),
)
