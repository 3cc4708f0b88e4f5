"""Durable, private file writes: temp file, fsync, rename, folder fsync; files 0600, folders 0700."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

TMP_PREFIX: Final = ".tmp-"  # leftovers of interrupted writes carry this prefix and are removed at start


def private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a directory for fsync; NTFS journals the rename
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content."""
    private_dir(path.parent)
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def remove_leftovers(folder: Path, older_than_s: float | None = None) -> int:
    """Remove temp files of interrupted writes; with ``older_than_s``, only those at least that old (a write
    by another process, the `optin` command say, may be under way in the same folder)."""
    removed = 0
    if folder.is_dir():
        cutoff = None if older_than_s is None else time.time() - older_than_s
        for leftover in folder.glob(TMP_PREFIX + "*"):
            try:
                if cutoff is None or leftover.stat().st_mtime <= cutoff:
                    leftover.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
    return removed
