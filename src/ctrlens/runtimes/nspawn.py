"""systemd-nspawn (and libvirt-lxc) machines: `/machine.slice/machine-<name>.scope[/payload|/supervisor]`."""

from __future__ import annotations

from ..host import Host
from ..model import Container, Snapshot
from .base import LIBVIRT_LXC, NSPAWN, CgroupMatch, strip_suffix, systemd_unescape
from .context import MetaContext
from .plugin import DiffConvention, FixDialect, RuntimePlugin
from .restart_rules import UNKNOWN, RestartForecast

NAME = NSPAWN


def match_machine_scope(parts: list[str], i: int) -> CgroupMatch | None:
    comp = parts[i]
    if not comp.startswith("machine-"):
        return None
    unit = strip_suffix(comp[len("machine-") :], ".scope")
    if not unit:
        return None
    name = systemd_unescape(unit)
    nxt = parts[i + 1] if i + 1 < len(parts) else None
    shim = nxt == "supervisor"
    if name.startswith("lxc-"):
        # libvirt-lxc: machine-lxc\x2d<id>\x2d<name>.scope
        return CgroupMatch(
            LIBVIRT_LXC, name, "", "machine-lxc\\x2d<id>\\x2d<name>.scope", name=name.split("-", 2)[-1]
        )
    if name.startswith("qemu-"):
        return None  # a libvirt VM's scope, not a container
    return CgroupMatch(NSPAWN, name, "", "machine-<name>.scope", shim=shim, name=name)


RULES = (match_machine_scope,)


def enrich(container: Container, meta: MetaContext) -> None:
    path = f"/run/systemd/machines/{container.id}"
    text = meta.read_text(path)
    if text is None:
        return
    container.metadata_files.append(path)
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    container.image = fields.get("ROOT") or container.image
    container.labels.update({k.lower(): v for k, v in fields.items() if k in ("CLASS", "SERVICE", "SCOPE")})


def forecast_restart(
    container: Container, snapshot: Snapshot, exit_code: int | None, host: Host
) -> RestartForecast:
    return RestartForecast(
        UNKNOWN,
        "systemd-nspawn restarts nothing itself; a machine run from systemd-nspawn@NAME.service follows that "
        "unit's Restart= setting (systemctl show -p Restart systemd-nspawn@NAME)",
    )


PLUGINS = (
    RuntimePlugin(NSPAWN, RULES, enrich, forecast_restart, DiffConvention.HEURISTIC, FixDialect.NONE),
    # libvirt-lxc machines share nspawn's machine-<name>.scope rule above; nothing else is known of them.
    RuntimePlugin(LIBVIRT_LXC, (), None, None, DiffConvention.HEURISTIC, FixDialect.NONE),
)
