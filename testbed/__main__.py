"""python -m testbed [--state-dir DIR] install|up|down|status|demo|demo-down (as root)."""

from __future__ import annotations

import argparse
import json
import sys

from .core import _sigterm_as_exit, default_state_dir

COMMANDS = {
    "install": "apt-get install what the engines need (only what is missing)",
    "up": "start containerd, dockerd, podman and lxc under the state dir (no-op if already up)",
    "down": "remove every container, stop every engine, unmount, delete the state dir (works after a crash)",
    "status": "is it up, what runs where (exit 0 if up, 1 if not)",
    "demo": "up + the article's scene: docker container `web` (nginx, TOP_SECRET=API_KEY) and a host nginx",
    "demo-down": "remove the demo's container and host process (the engines stay up)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed", description=__doc__)
    parser.add_argument(
        "--state-dir", default=None, help=f"default: $CTRLENS_TESTBED_DIR or {default_state_dir()}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help in COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        if name == "status":
            p.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    _sigterm_as_exit()

    from . import core, demo, install
    from .errors import TestbedError

    try:
        if args.command == "install":
            install.install()
        elif args.command == "up":
            tb = core.Testbed.up(args.state_dir)
            print(tb.state_dir)
        elif args.command == "down":
            core.down(args.state_dir)
        elif args.command == "status":
            info = core.status(args.state_dir)
            if args.json:
                print(json.dumps(info, indent=2))
            else:
                _print_status(info)
            return 0 if info["up"] else 1
        elif args.command == "demo":
            demo.demo_up(args.state_dir)
        elif args.command == "demo-down":
            demo.demo_down(args.state_dir)
    except TestbedError as e:
        print(f"testbed: error: {e}", file=sys.stderr)
        return 1
    return 0


def _print_status(info: dict) -> None:
    if not info["up"]:
        print(f"testbed at {info['state_dir']}: DOWN ({info.get('problem', '')})")
        for key in ("leftover_processes", "leftover_mounts"):
            if info.get(key):
                print(f"  {key.replace('_', ' ')}: {info[key]}")
        return
    print(
        f"testbed at {info['state_dir']}: UP (containerd pid {info['containerd_pid']}, "
        f"dockerd pid {info['dockerd_pid']}); shell: . {info['env']}"
    )
    for engine, names in info["running"].items():
        shown = " ".join(names[:8]) + (f" … (+{len(names) - 8})" if len(names) > 8 else "")
        print(f"  {engine:<24} {len(names):>3} running  {shown}")


if __name__ == "__main__":
    sys.exit(main())
