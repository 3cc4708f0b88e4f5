"""Durable, private file writes: temp file, fsync, rename, folder fsync; files 0600, folders 0700."""

from __future__ import annotations

import os
import time
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

TMP_PREFIX: Final = ".tmp-"  # leftovers of interrupted writes carry this prefix and are removed at start


def private_dir(path: Path) -> Path:
    """Make ``path`` and every missing folder above it 0700 from the start (`mkdir(parents=True)` would
    create the parents with the umask's mode, often 0755: readable by everyone)."""
    missing = []
    folder = path
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(mode=0o700, exist_ok=True)
        os.chmod(made, 0o700)  # the umask may have taken bits mkdir's mode asked for
    path.mkdir(mode=0o700, exist_ok=True)  # raises when a file stands where the folder should be
    os.chmod(path, 0o700)
    return path


def writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (or, where it does not exist yet, could be, below its
    nearest existing parent). Creates nothing."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


def fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a directory for fsync; NTFS journals the rename
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, before_replace: Callable[[], None] | None = None) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content.

    ``before_replace`` runs once the new content is synced, just before the rename (a crash-test seam).
    """
    private_dir(path.parent)
    tmp = path.with_name(f"{TMP_PREFIX}{os.urandom(16).hex()}")  # random, unique: no `uuid` at start-up
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def remove_leftovers(folder: Path, min_age_s: float = 0.0) -> int:
    """Remove temp files of interrupted writes; only those older than ``min_age_s`` where another
    process may be writing right now (a younger one may be its write in progress)."""
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))  # one directory read, no pattern to compile: this runs at every start
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX):
            continue
        try:
            if min_age_s and now - entry.stat().st_mtime < min_age_s:
                continue
        except FileNotFoundError:
            continue
        Path(entry.path).unlink(missing_ok=True)
        removed += 1
    return removed
