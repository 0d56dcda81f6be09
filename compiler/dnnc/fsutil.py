"""Atomic outputs: a command either writes its whole result or leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dnnc.errors import DnncError


@contextlib.contextmanager
def atomic_output_dir(target: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces `target`, on error it vanishes.

    An existing non-empty `target` is an error unless `force`.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise DnncError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise DnncError(f"{target}: output directory is not empty (use --force to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_output_file(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; it is renamed onto `target` only on success."""
    target = Path(target)
    if target.is_dir():
        raise DnncError(f"{target}: is a directory, expected a file path")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
