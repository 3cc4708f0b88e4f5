"""The client's own data-quality counters not yet in any report, kept on disk across restarts.

They belong to one installation: the file names its id, and counts saved under another id are
never loaded (nor sent), so nothing of an installation the user erased reaches the next one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from optin.contract import CLIENT_COUNTERS

from ._files import write_atomic


def save(path: Path, installation_id: str | None, counters: dict[str, int]) -> None:
    """Persist ``counters`` of ``installation_id``; no file when they are all zero (or there is no id)."""
    if installation_id is not None and any(counters.values()):
        write_atomic(path, orjson.dumps({"installation_id": installation_id, **counters}))
    else:
        path.unlink(missing_ok=True)


def load(path: Path, installation_id: str | None) -> dict[str, int] | None:
    """The counters saved for ``installation_id``; None when there are none (or only another id's)."""
    saved = _read(path)
    if installation_id is None or saved is None or saved.get("installation_id") != installation_id:
        return None
    try:
        return {name: int(saved.get(name, 0)) for name in CLIENT_COUNTERS}
    except (ValueError, TypeError):
        return None


def drop_unless(path: Path, keep: str | None) -> None:
    """Remove the file unless it holds the counters of installation ``keep``."""
    if not path.exists():
        return
    saved = _read(path)
    if keep is None or saved is None or saved.get("installation_id") != keep:
        path.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        saved = orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None
