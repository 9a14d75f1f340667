"""deploy/kubernetes renders with `kubectl kustomize`, every object validates against the Kubernetes schemas
(kubernetes-validate's, strict: an unknown field fails), the ServiceMonitor against the prometheus-operator CRD
schema vendored in tests/fixtures/schemas, and the DaemonSet asks for no more power than documented."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZE = REPO / "deploy" / "kubernetes"
DIRS = ["base", "overlays/prometheus-operator", "overlays/annotations", "overlays/watch"]
KUBE_VERSION = "1.32"  # the kubectl this project ships with; recursiveReadOnly needs 1.30+
SERVICEMONITOR_SCHEMA = (
    REPO / "tests" / "fixtures" / "schemas" / "servicemonitor-monitoring.coreos.com-v1.json"
)
CAPABILITIES = {"SYS_PTRACE", "DAC_READ_SEARCH"}  # docs/operators.md, "Capabilities per command"


def render(directory: str) -> list[dict]:
    res = subprocess.run(
        ["kubectl", "kustomize", str(KUSTOMIZE / directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return [doc for doc in yaml.safe_load_all(res.stdout) if doc]


def by_kind(objects: list[dict], kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, [o["kind"] for o in objects]
    return found[0]


def validate(obj: dict) -> None:
    if obj["apiVersion"] == "monitoring.coreos.com/v1":
        schema = json.loads(SERVICEMONITOR_SCHEMA.read_text())
        errors = [
            f"{'/'.join(map(str, e.path))}: {e.message}"
            for e in jsonschema.Draft202012Validator(schema).iter_errors(obj)
        ]
        assert not errors, errors
    else:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("directory", DIRS)
def test_every_object_validates(directory):
    objects = render(directory)
    assert objects
    for obj in objects:
        validate(obj)


def test_the_validators_reject_what_a_cluster_would():
    """The schemas are strict: a misspelt field, a bad enum or a bad duration fails (no silent pass)."""
    daemonset = by_kind(render("base"), "DaemonSet")
    bad = copy.deepcopy(daemonset)
    bad["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilites"] = {"add": ["ALL"]}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(bad)
    monitor = by_kind(render("overlays/prometheus-operator"), "ServiceMonitor")
    for mutate in (
        lambda m: m["spec"]["endpoints"][0].update(interval="15 seconds"),
        lambda m: m["spec"]["endpoints"][0].update(sheme="http"),
        lambda m: m["spec"].pop("selector"),
    ):
        bad = copy.deepcopy(monitor)
        mutate(bad)
        with pytest.raises(AssertionError):
            validate(bad)


def test_base_has_daemonset_service_and_no_servicemonitor():
    kinds = sorted(o["kind"] for o in render("base"))
    assert kinds == ["DaemonSet", "Namespace", "Service", "ServiceAccount"]
    assert all(
        o["metadata"].get("namespace") == "ctrlens" for o in render("base") if o["kind"] != "Namespace"
    )


def test_daemonset_reads_the_host_read_only_with_two_capabilities():
    daemonset = by_kind(render("base"), "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["hostPID"] is True
    assert not pod.get("hostNetwork") and not pod.get("hostIPC")
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["privileged"] is False
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert set(security["capabilities"]["add"]) == CAPABILITIES
    host_volume = next(v for v in pod["volumes"] if v.get("hostPath"))
    assert host_volume["hostPath"]["path"] == "/"
    mount = next(m for m in container["volumeMounts"] if m["name"] == host_volume["name"])
    assert mount["mountPath"] == "/host" and mount["readOnly"] is True
    assert mount["recursiveReadOnly"] == "IfPossible"
    assert container["args"][:3] == ["--host-root", "/host", "serve"]
    assert "--listen" in container["args"]
    assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]
    probes = {container["readinessProbe"]["httpGet"]["path"], container["livenessProbe"]["httpGet"]["path"]}
    assert probes == {"/readyz", "/healthz"}


def test_service_and_servicemonitor_select_the_exporter():
    objects = render("overlays/prometheus-operator")
    daemonset, service = by_kind(objects, "DaemonSet"), by_kind(objects, "Service")
    monitor = by_kind(objects, "ServiceMonitor")
    pod_labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
    port_name = monitor["spec"]["endpoints"][0]["port"]
    assert port_name in {p["name"] for p in service["spec"]["ports"]}
    container_ports = {
        p["name"]: p["containerPort"] for p in daemonset["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert container_ports[port_name] == 9648


def test_watch_overlay_runs_watch_without_a_service():
    objects = render("overlays/watch")
    assert "Service" not in {o["kind"] for o in objects}
    container = by_kind(objects, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:3] == ["--host-root", "/host", "watch"]
    assert "ports" not in container


def test_servicemonitor_keeps_the_exporters_pod_and_namespace_labels():
    endpoint = by_kind(render("overlays/prometheus-operator"), "ServiceMonitor")["spec"]["endpoints"][0]
    assert endpoint["honorLabels"] is True


def test_alert_rules_pass_promtool():
    rules = REPO / "deploy" / "prometheus" / "ctrlens-alerts.yaml"
    res = subprocess.run(
        ["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def test_annotations_overlay_marks_the_pod_for_scraping():
    pod_meta = by_kind(render("overlays/annotations"), "DaemonSet")["spec"]["template"]["metadata"]
    assert pod_meta["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9648",
        "prometheus.io/path": "/metrics",
    }
