"""Short figures for narrow columns."""

from __future__ import annotations


def cpu_text(percent: float | None) -> str:
    if percent is None:
        return "-"
    if percent >= 999.5:
        return f"{percent:.0f}"
    return f"{percent:.1f}"


def mem_text(size: int | None) -> str:
    """1024-based, at most 6 characters: 512K, 12.3M, 1.2G."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.1f}{unit}" if value < 100 else f"{value:.0f}{unit}"
        value /= 1024
    return "-"
