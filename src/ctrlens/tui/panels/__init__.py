"""The detail tabs that call into other features: each degrades to a "not available" note when its feature
is missing from this build, so the TUI never depends on every feature being present."""

from .audit import AuditPanel
from .env import EnvPanel
from .files import FilesPanel

__all__ = ["AuditPanel", "EnvPanel", "FilesPanel"]
