"""Text from containers on its way to a terminal: the helpers every layer that shows text shares (features,
faces and `output` alike), so no feature needs to import `output`."""

from __future__ import annotations


def cut(text: str, width: int) -> str:
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def safe_text(text: str) -> str:
    """No terminal control characters from container-controlled strings reach the screen."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
