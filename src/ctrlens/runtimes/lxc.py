"""LXC and LXD (liblxc): `lxc.payload.<name>` payloads, `lxc.monitor.<name>` monitors; config from `<lxcpath>/<name>/config`."""

from __future__ import annotations

from ..model import Container, RestartPolicy
from .base import LXC, CgroupMatch
from .context import MetaContext

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
            text = meta.read_text(config_path)
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
