"""A real small filesystem for disk-full tests (tmpfs; skipped where this process may not mount one)."""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

MIB = 1 << 20


@contextlib.contextmanager
def small_disk(mount: Path, size_mib: int) -> Iterator[Path]:
    """A real filesystem of ``size_mib`` (tmpfs); skipped where this process may not mount one."""
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("cannot mount a small filesystem here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Write until the filesystem has no room left."""
    with open(path, "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * MIB)
                filler.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC
    with contextlib.suppress(OSError), open(path, "ab") as filler:
        while True:  # the last few pages
            filler.write(b"\0" * 4096)
            filler.flush()
