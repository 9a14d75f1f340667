"""`ctrlens snapshot REF FILE` (an evidence bundle of a running container) and `ctrlens snapshot verify FILE`."""

from __future__ import annotations

import argparse
import re

from ..errors import EXIT_FINDINGS, UsageError
from ..output import OutputFormat, write_json
from ..text import safe_text
from ._base import Context

NAME = "snapshot"
ORDER = 55
HELP = "capture a running container into one evidence archive (read-only); verify an archive"
DESCRIPTION = """\
A read-only capture of a running container into one tar.gz, for incident response:

  metadata.json    the container record (runtime, image, labels, pod, restart policy, bundle, cgroup)
  processes.json   the process tree, and for each process: status, command line, environment, maps, open
                   files (fd link targets), cgroup, namespaces, capabilities (decoded)
  mounts.json      the container's mounts (its init's mountinfo) and its root filesystem
  net.json         TCP/UDP (v4, v6) connections and listening sockets, unix sockets, from the container's
                   network namespace (/proc/PID/net/*), each with the processes holding it
  diff.json        what changed in its filesystem (as `ctrlens diff -o json`) and which files were captured
  files/<path>     the content of added and changed regular files, flagged ones (new executables) first,
                   cut at --max-file-size each and --max-total-size in all
  manifest.json    SHA-256 and size of every member, the ctrlens version, the host name, UTC start/end times

Nothing in the container is written or signalled. Files are read from the writable layer without following
symlinks; symlinks, devices and FIFOs are recorded in diff.json, never opened.

Secrets: environment values are replaced by <redacted: …> markers unless --reveal, except for well-known
harmless names (PATH, HOME, HOSTNAME, *_VERSION…) holding nothing that looks secret; command-line arguments
and labels that hold a secret are redacted too. File contents are copied as they are: the archive is
created mode 0600.

The archive appears only once complete (temp file, then link/rename); an existing FILE is never replaced
unless --force.

`ctrlens snapshot verify FILE` recomputes every member's SHA-256 and compares it with the manifest.

examples:
  ctrlens snapshot web web-incident.tar.gz
  ctrlens snapshot web --output-file web.tar.gz --max-file-size 64M --max-total-size 1G --hash
  ctrlens snapshot verify web-incident.tar.gz
  tar -xzf web-incident.tar.gz -C /tmp/case42 && jq '.listening' /tmp/case42/net.json
"""
EPILOG = """\
The archive is FILE, or --output-file FILE; `-o FILE` is kept as an alias for scripts, but -o is the output
format in every other command, so `-o json` (or table, ndjson, sarif) is refused here (exit 2): the result
as JSON is --json. Sizes take K, M, G suffixes (powers of 1024). Exit codes: 0 written / verified; 1 verify found a member
that differs, is missing or was added, or the archive is damaged; 2 usage; 3 unknown REF, no such FILE, or
the container stopped; 4 FILE exists (without --force) or could not be written, or the filesystem diff
failed (the bundle is written with everything else and diff.json says why).
"""


def _size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[iI]?[bB]?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512K, 8M, 1G)")
    return int(match.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[match.group(2).lower()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = (
        "%(prog)s REF FILE [--force] [--reveal] [--max-file-size SIZE] [--max-total-size SIZE]\n"
        "       %(prog)s verify FILE [--json]"
    )
    parser.add_argument("ref", metavar="REF", help="container ID or unique prefix, name, or PID; or `verify`")
    parser.add_argument(
        "file",
        metavar="FILE",
        nargs="?",
        help="the archive to write (.tar.gz); with `verify`: the one to check",
    )
    parser.add_argument("--output-file", dest="output_file", metavar="FILE", help="the archive to write")
    parser.add_argument(
        "-o", "--output", dest="output_alias", metavar="FILE", help="the same as --output-file (not a format)"
    )
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.add_argument(
        "--reveal", action="store_true", help="keep environment values and secrets as they are"
    )
    parser.add_argument(
        "--max-file-size",
        type=_size,
        default=8 << 20,
        metavar="SIZE",
        help="bytes kept of each captured file (default 8M; the rest is cut and marked)",
    )
    parser.add_argument(
        "--max-total-size",
        type=_size,
        default=128 << 20,
        metavar="SIZE",
        help="bytes of file content in all (default 128M)",
    )
    parser.add_argument(
        "--no-files", dest="files", action="store_false", help="record the diff but copy no file content"
    )
    parser.add_argument(
        "--hash", action="store_true", help="SHA-256 of every whole added/changed file in diff.json"
    )
    parser.add_argument(
        "--like", choices=("docker", "podman"), help="diff conventions (see `ctrlens diff -h`)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.ref == "verify" and args.file is not None:
        return _verify(args, ctx)
    archive = archive_path(args)
    if archive is None:
        if args.ref == "verify":
            raise UsageError("`ctrlens snapshot verify FILE`: FILE is missing")
        raise UsageError("give the archive to write: `ctrlens snapshot REF FILE`")
    return _capture(args, ctx, archive)


def archive_path(args: argparse.Namespace) -> str | None:
    """The archive named by FILE, --output-file or the old `-o FILE`; never a format name given to -o."""
    if args.output_alias is not None and args.output_alias.lower() in {f.value for f in OutputFormat}:
        raise UsageError(
            f"-o {args.output_alias}: snapshot writes an archive, not a format; "
            "give `ctrlens snapshot REF FILE` (--json prints the result as JSON)"
        )
    given = [f for f in (args.file, args.output_file, args.output_alias) if f is not None]
    if len(given) > 1:
        raise UsageError("give the archive once: `ctrlens snapshot REF FILE`")
    return given[0] if given else None


def _capture(args: argparse.Namespace, ctx: Context, archive: str) -> int:
    from ..output.progress import Progress
    from ..snapshot import Options, take_snapshot
    from ..snapshot.bundle import check_destination

    check_destination(archive, args.force)  # fail before the capture, not after it
    from ..refs import require_container

    snapshot = ctx.scan()
    container = require_container(args.ref, ctx.resolve)
    options = Options(
        reveal=args.reveal,
        force=args.force,
        max_file_size=args.max_file_size,
        max_total_size=args.max_total_size,
        files=args.files,
        hash=args.hash,
        style=args.like,
    )
    progress = Progress(f"ctrlens snapshot {container.display_name}", ctx.err)
    try:
        report = take_snapshot(snapshot, container, ctx.host, archive, options, progress.update)
    finally:
        progress.done()
    d = report.diff_summary
    if args.json:
        write_json(
            {
                "path": report.path,
                "members": report.members,
                "bytes": report.bytes_written,
                "processes": report.processes,
                "vanished": report.vanished,
                "files_captured": report.files_captured,
                "files_skipped": report.files_skipped,
                "diff": d,
                "diff_error": report.diff_error,
                "notes": report.notes,
            },
            ctx.out,
        )
    else:
        ctx.out.write(
            f"{safe_text(report.path)}: {report.members} members, {report.bytes_written} bytes; "
            f"{report.processes} process(es), diff {d.get('added', 0)}A {d.get('changed', 0)}C "
            f"{d.get('deleted', 0)}D {d.get('modified', 0)}M ({d.get('new_executables', 0)} new executable(s)), "
            f"{report.files_captured} file(s) captured"
            + (
                f", {report.files_skipped} skipped (caps or unreadable, see diff.json)"
                if report.files_skipped
                else ""
            )
            + "\n"
        )
        for note in report.notes[:10]:
            ctx.error(f"note: {safe_text(note)}")
    if args.reveal:
        ctx.error("warning: --reveal: the archive holds secret values; keep it like a secret")
    if report.diff_error is not None:
        # Written, but without the filesystem diff: an empty diff must never pass for a clean one.
        ctx.error(f"the filesystem diff failed ({safe_text(report.diff_error)}); the bundle holds the rest")
        return 4
    return 0


def _verify(args: argparse.Namespace, ctx: Context) -> int:
    from ..snapshot import verify_bundle

    result = verify_bundle(args.file)
    if args.json:
        write_json(result.to_dict(), ctx.out)
        return 0 if result.ok else EXIT_FINDINGS
    if result.ok:
        m = result.manifest or {}
        c, h = m.get("container") or {}, m.get("host") or {}
        ctx.out.write(
            f"OK: {result.checked} members match the manifest; container {safe_text(str(c.get('name')))}"
            f" ({c.get('runtime')}, {str(c.get('id'))[:12]}) on {safe_text(str(h.get('name')))}, "
            f"captured {m.get('started_at')} .. {m.get('finished_at')} by ctrlens "
            f"{(m.get('tool') or {}).get('version')}\n"
        )
        return 0
    ctx.out.write(f"FAILED: {safe_text(args.file)}\n")
    for problem in result.problems:
        ctx.out.write(f"  {safe_text(problem)}\n")
    return EXIT_FINDINGS
