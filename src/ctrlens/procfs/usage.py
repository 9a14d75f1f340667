"""Resource counters of one process from `/proc/PID/stat`: bytes in, values out (the sampler does the I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class StatUsage:
    cpu_ticks: int  # utime + stime (fields 14, 15), in clock ticks
    start_ticks: int  # field 22: tells a reused PID from the process sampled before
    rss_pages: int  # field 24, the same number statm gives as `resident`


def parse_stat_usage(data: bytes) -> StatUsage:
    """CPU time, start time and resident pages from one read of `stat` (comm ends at the LAST ')')."""
    rest = data[data.rindex(b")") + 2 :].split()
    # rest[0] is field 3 (state): field N is rest[N - 3].
    return StatUsage(cpu_ticks=int(rest[11]) + int(rest[12]), start_ticks=int(rest[19]), rss_pages=int(rest[21]))

