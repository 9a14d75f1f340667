"""`ctrlens watch`: container life-cycle, new processes, new findings and new executables as an NDJSON stream.

- `events`: the event types and their JSON (a stable interface for log shippers).
- `diff`: two snapshots in, start/stop/process events out (pure: tested on hand-made snapshots).
- `loop`: the poll loop and the slower detectors (`detectors`: audit findings, drift) that it runs.
- `kernel`: the kernel-mode loop: process events (`ctrlens.linux.proc_events`) for starts and stops, scans after.
"""
