"""LXC and LXD (liblxc): `lxc.payload.<name>` payloads, `lxc.monitor.<name>` monitors; config from `<lxcpath>/<name>/config`."""

from __future__ import annotations

from ..host import Host
from ..model import Container, RestartPolicy, Snapshot
from .base import LXC, CgroupMatch
from .context import MetaContext, owners_of
from .plugin import DiffConvention, FixDialect, RuntimePlugin
from .restart_rules import MAYBE, NO, RestartForecast

NAME = LXC


def match_lxc(parts: list[str], i: int) -> CgroupMatch | None:
    comp = parts[i]
    for prefix, shim in (("lxc.payload.", False), ("lxc.monitor.", True)):
        if comp.startswith(prefix) and len(comp) > len(prefix):
            name = comp[len(prefix) :]
            return CgroupMatch(LXC, name, "", f"{prefix}<name>", shim=shim, name=name)
    # Legacy layouts: /lxc/<name>, /lxc.payload/<name>, /lxc.monitor/<name>.
    if i > 0 and parts[i - 1] in ("lxc", "lxc.payload", "lxc.monitor"):
        return CgroupMatch(
            LXC, comp, "", f"/{parts[i - 1]}/<name>", shim=parts[i - 1] == "lxc.monitor", name=comp
        )
    return None


RULES = (match_lxc,)


# LXD keeps liblxc's generated config as lxc.conf under its own lxcpath.
LXD_PATHS = ("/var/snap/lxd/common/lxd/containers", "/var/lib/lxd/containers", "/var/lib/incus/containers")


def enrich(container: Container, meta: MetaContext) -> None:
    for lxcpath in [*meta.dirs.lxc_paths, *LXD_PATHS]:
        for config_name in ("config", "lxc.conf"):
            config_path = f"{lxcpath}/{container.id}/{config_name}"
            text = meta.read_text(config_path, owners_of(container))
            if text is not None:
                break
        else:
            continue
        if config_name == "lxc.conf":
            container.labels["manager"] = "incus" if "incus" in lxcpath else "lxd"
        container.metadata_files.append(config_path)
        container.bundle = f"{lxcpath}/{container.id}"
        settings = parse_lxc_config(text)
        container.name = container.name or settings.get("lxc.uts.name") or container.id
        container.image = settings.get("lxc.rootfs.path") or container.image
        autostart = settings.get("lxc.start.auto", "0").strip() == "1"
        container.restart_policy = RestartPolicy(
            name="lxc-autostart" if autostart else "no", source=config_path
        )
        container.labels.update({k: v for k, v in settings.items() if k.startswith("lxc.group")})
        return


def parse_lxc_config(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        settings[key.strip()] = value.strip()
    return settings


def forecast_restart(
    container: Container, snapshot: Snapshot, exit_code: int | None, host: Host
) -> RestartForecast:
    """Nothing restarts an LXC container whose init exits; a reboot inside it is a restart."""
    policy = container.restart_policy
    sources = [policy.source] if policy and policy.source else []
    autostart = policy is not None and policy.name == "lxc-autostart"
    boot = (
        "lxc.start.auto = 1: it will be started again when the host boots (lxc-autostart), not before"
        if autostart
        else "lxc.start.auto is not set"
    )
    if exit_code is None:
        # reboot(2) inside a PID namespace ends its init with SIGHUP, which liblxc takes as "restart me".
        return RestartForecast(
            MAYBE,
            "LXC starts the container again only if its init reboots (busybox init reboots on SIGTERM, "
            f"systemd on SIGINT); if it halts or exits, it stays stopped; {boot}",
            "lxc monitor",
            policy,
            sources,
        )
    return RestartForecast(
        NO, f"LXC does not restart a container whose init exits; {boot}", None, policy, sources
    )


PLUGINS = (RuntimePlugin(LXC, RULES, enrich, forecast_restart, DiffConvention.HEURISTIC, FixDialect.LXC),)
