"""Command lines in events go through the secrets layer's argument rules first: a log is no place for a password."""

from __future__ import annotations

from .diff import Masker


def argv_masker() -> Masker:
    """`mysql -pHUNTER2` -> `mysql -p•••`; every argument after the program when the rules are unavailable."""
    from ..tui.redact import CommandRedactor

    redactor = CommandRedactor()  # a plain module (no Textual); fails closed without the secrets layer
    cache: dict[tuple[str, ...], list[str]] = {}

    def mask(argv: list[str]) -> list[str]:
        key = tuple(argv)
        masked = cache.get(key)
        if masked is None:
            if len(cache) > 4096:
                cache.clear()  # bounded: long-running watches see many distinct command lines
            masked = cache[key] = redactor.mask(list(argv))
        return list(masked)

    return mask
