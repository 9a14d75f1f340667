"""Evidence bundles: a read-only capture of one running container, and its verification.

    from ctrlens.snapshot import Options, take_snapshot, verify_bundle
    report = take_snapshot(snapshot, container, host, "web.tar.gz", Options())   # Report: path, counts, notes
    verify_bundle("web.tar.gz").ok                                                # every SHA-256 matches

A bundle is a tar.gz: metadata.json, processes.json, mounts.json, net.json, diff.json, files/<path>, and
manifest.json (tool version, host name, UTC times, SHA-256 and size of every other member).
"""

from __future__ import annotations

from .bundle import FORMAT, MANIFEST, BundleExists, BundleWriter
from .capture import Options, Report, take_snapshot
from .verify import Verification, verify_bundle

__all__ = [
    "FORMAT",
    "MANIFEST",
    "BundleExists",
    "BundleWriter",
    "Options",
    "Report",
    "Verification",
    "take_snapshot",
    "verify_bundle",
]
