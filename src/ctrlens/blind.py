"""Never blind and green: a command that could not read what it needed says so and exits 5 (permission).

Without root, /proc hides other users' environments and namespaces. A report built from nothing must not look
like a clean one, least of all to a CI gate: `--fail-on` that found nothing because it could read nothing is a
permission error, not a pass.
"""

from __future__ import annotations

from .errors import PermissionDenied


def require_sight(needed: int, denied: int, what: str, *, gate: bool) -> str | None:
    """Raise PermissionDenied when all `needed` items were denied, or when a `--fail-on` gate (`gate`) missed some;
    return a one-line warning when only part was denied, else None."""
    if not denied:
        return None
    hint = "run as root (or with CAP_SYS_PTRACE)"
    if denied >= needed:
        raise PermissionDenied(
            f"could read none of the {denied} {what} it needed (permission denied): {hint}"
        )
    if gate:
        raise PermissionDenied(
            f"{denied} of {needed} {what} could not be read (permission denied), so --fail-on cannot vouch "
            f"for them: {hint}"
        )
    return f"{denied} of {needed} {what} could not be read (permission denied): {hint}"
