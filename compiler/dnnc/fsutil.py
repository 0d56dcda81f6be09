"""Every file and folder dnnc writes goes through here, so one set of rules holds for all of them.

- Outputs are atomic: a command writes into a hidden sibling (`.NAME.dnnc-XXXXXXXX`) and renames it onto
  the output only when complete; an existing output is moved aside first and deleted only after the new
  one is in place, so no failure, crash or signal leaves a half-written or missing output.
- The output path is checked before anything is written: a symlink is followed (the folder it points to is
  replaced, the link kept), and dnnc refuses to replace the current folder or one holding it, the
  filesystem root, or an input of the same command. Unwritable places are one-line DnncErrors.
- New files and folders get the usual mode: 0666 / 0777 minus the umask (mkstemp/mkdtemp would give
  0600 / 0700).
- Every temporary path is registered *before* it is created, so an interruption at any instant finds it:
  the CLI turns SIGTERM, SIGINT and SIGHUP into `Interrupted`, which unwinds through the context managers
  below, and `remove_temporaries()` deletes whatever is still registered. Renames that commit an output
  defer the signal until they are done.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from dnnc.errors import DnncError

_live: set[Path] = set()  # temporary paths that exist (or are about to): removed on interruption
_defer_depth = 0  # > 0 while an output is being committed: a signal waits until the commit is done
_pending: int | None = None  # the signal being handled (further signals are ignored while unwinding)
_raised = False
SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, n))


class Interrupted(BaseException):
    """A termination signal arrived. A BaseException (like KeyboardInterrupt), so `except Exception`
    never swallows it and every `with` block on the way out removes its temporary output."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_signal(signum: int, _frame) -> None:
    global _pending, _raised
    if _pending is not None:  # already unwinding: let the cleanup finish
        return
    _pending = signum
    if _defer_depth == 0:
        _raised = True
        raise Interrupted(signum)


def raised_signal() -> int | None:
    """The signal Interrupted was raised for, if it was: a C extension that was running then (e.g. onnxruntime
    being imported) turns the exception into one of its own, which is still the interruption."""
    return _pending if _raised else None


@contextlib.contextmanager
def signal_cleanup() -> Iterator[None]:
    """Within this block SIGTERM/SIGINT/SIGHUP raise Interrupted (the CLI wraps each command in it);
    the previous handlers come back afterwards. Only the main thread can install handlers."""
    global _pending, _raised
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in SIGNALS}
    _pending, _raised = None, False
    for s in SIGNALS:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _pending, _raised = None, False


@contextlib.contextmanager
def _deferred_signals() -> Iterator[None]:
    """Renames that commit an output run to completion; a signal that came meanwhile is raised after."""
    global _defer_depth, _raised
    _defer_depth += 1
    try:
        yield
    finally:
        _defer_depth -= 1
    if _defer_depth == 0 and _pending is not None and not _raised:
        _raised = True
        raise Interrupted(_pending)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _discard(path: Path) -> None:
    """Delete a temporary path, then forget it (in this order: an interruption in between still finds it)."""
    _remove(path)
    _live.discard(path)


def remove_temporaries() -> list[Path]:
    """Delete every temporary path still registered (after an interruption); returns them."""
    left = sorted(_live)
    for p in left:
        _discard(p)
    return left


def _create(parent: Path, prefix: str, suffix: str, make: Callable[[Path], None], what: str) -> Path:
    """A new, registered path `parent/prefix<random>suffix` made by `make` (no window where it exists
    unregistered)."""
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        _live.add(path)
        try:
            make(path)
            return path
        except FileExistsError:
            _live.discard(path)
        except OSError as exc:
            _live.discard(path)
            raise DnncError(f"{what}: cannot write in {parent} ({exc.strerror or exc})") from None
    raise DnncError(f"{what}: cannot create a temporary name in {parent}")


def _mkdir(path: Path) -> None:
    os.mkdir(path, 0o777)  # the umask applies


def _absent(path: Path) -> None:
    """Reserve a name without creating it (a rename will); FileExistsError if it is taken."""
    if os.path.lexists(path):
        raise FileExistsError(path)


def _mkfile(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # the umask applies


def _real(path: Path, what: str) -> Path:
    """The path with every symlink resolved; a link to nothing (or a loop) is an error."""
    real = Path(os.path.realpath(path))
    if path.is_symlink() and not real.exists():
        raise DnncError(f"{what}: is a symlink to nothing (dangling or a loop)")
    return real


def _make_parent(real: Path, what: str) -> None:
    parent = real.parent
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise DnncError(f"{what}: {probe} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DnncError(f"{what}: cannot create the folder {parent} ({exc.strerror or exc})") from None


def _check_inputs(real: Path, inputs: Iterable[str | os.PathLike], what: str, folder: bool) -> None:
    for i in inputs:
        ri = Path(os.path.realpath(i))
        if ri == real or (folder and real in ri.parents):
            held = "is" if ri == real else "holds"
            raise DnncError(f"{what}: {held} the input {i}; writing there would destroy it (choose another path)")


@contextlib.contextmanager
def atomic_output_dir(target: str | os.PathLike, force: bool = False, inputs: Iterable[str | os.PathLike] = (),
                      option: str = "-o") -> Iterator[Path]:
    """Yield a new hidden sibling folder; on success it replaces `target`, on error it vanishes.

    An existing non-empty `target` is an error unless `force`. `inputs`: files the command reads, which
    the output must not replace. `option` names the path in messages.
    """
    target = Path(target)
    what = f"{option} {target}"
    real = _real(target, what)
    if real == Path(real.anchor):
        raise DnncError(f"{what}: refusing to replace the filesystem root")
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the current folder was deleted: nothing to protect there
        cwd = None
    if cwd is not None and (real == cwd or real in cwd.parents):
        raise DnncError(f"{what}: refusing to replace the current folder or one holding it (name a new folder)")
    if real.exists() and not real.is_dir():
        raise DnncError(f"{what}: exists and is not a directory")
    if real.is_dir():
        try:
            full = any(real.iterdir())
        except OSError as exc:
            raise DnncError(f"{what}: cannot read it ({exc.strerror or exc})") from None
        if full and not force:
            raise DnncError(f"{what}: output directory is not empty (use --force to replace it)")
    _check_inputs(real, inputs, what, folder=True)
    _make_parent(real, what)
    tmp = _create(real.parent, f".{real.name[:100]}.dnnc-", "", _mkdir, what)
    try:
        yield tmp
        _commit(tmp, real, what)
    except BaseException as exc:
        _discard(tmp)
        _raise_write_error(exc, tmp, what)
        raise


def check_output_file(target: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (),
                      option: str = "-o") -> Path:
    """The real path a file output will be written to, checked without writing anything: commands that
    work for minutes (train, export) call it first, so a bad -o fails before the work, not after."""
    target = Path(target)
    what = f"{option} {target}"
    real = _real(target, what)
    if real.is_dir():
        raise DnncError(f"{what}: is a directory, expected a file path")
    _check_inputs(real, inputs, what, folder=False)
    probe = real.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise DnncError(f"{what}: {probe} is a file, not a folder")
    _discard(_create(probe, ".dnnc-probe-", "", _mkdir, what))  # really writable (os.access lies to root)
    return real


@contextlib.contextmanager
def atomic_output_file(target: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (),
                       option: str = "-o") -> Iterator[Path]:
    """Yield a new hidden temporary path beside `target` (same suffix); renamed onto it only on success.

    A symlink `target` is followed: the file it points to is replaced, the link kept.
    """
    what = f"{option} {target}"
    real = check_output_file(target, inputs, option)
    _make_parent(real, what)
    tmp = _create(real.parent, f".{real.name[:100]}.dnnc-", real.suffix[:16], _mkfile, what)
    try:
        yield tmp
        _commit(tmp, real, what)
    except BaseException as exc:
        _discard(tmp)
        _raise_write_error(exc, tmp, what)
        raise


def _raise_write_error(exc: BaseException, tmp: Path, what: str) -> None:
    """A failed write into the temporary output (disk full, quota) is the user's one-line error."""
    name = getattr(exc, "filename", None) if isinstance(exc, OSError) else None
    if name is not None and (Path(name) == tmp or tmp in Path(name).parents):
        raise DnncError(f"{what}: cannot write it ({exc.strerror or exc})") from None


def _commit(tmp: Path, real: Path, what: str) -> None:
    """Rename tmp onto real. An existing folder is moved aside first and deleted once the new one is in
    place (a folder cannot be renamed over a non-empty one); a file is replaced in one rename."""
    with _deferred_signals():
        if not (real.is_dir() and not real.is_symlink()):
            try:
                os.replace(tmp, real)
            except OSError as exc:
                raise DnncError(f"{what}: cannot write it ({exc.strerror or exc})") from None
            _live.discard(tmp)
            return
        old = _create(real.parent, f".{real.name[:100]}.old-", "", _absent, what)
        try:
            os.rename(real, old)
        except OSError as exc:
            _live.discard(old)
            raise DnncError(f"{what}: cannot replace it ({exc.strerror or exc})") from None
        try:
            os.rename(tmp, real)
        except OSError as exc:
            os.rename(old, real)
            _live.discard(old)
            raise DnncError(f"{what}: cannot replace it ({exc.strerror or exc})") from None
        _live.discard(tmp)
        _discard(old)


def child_env(scratch: Path) -> dict[str, str]:
    """The environment for a tool run in a scratch folder: its own temporary files (a compiler's cc*.s)
    go there too, so they are removed with it even when the tool is killed mid-run."""
    return {**os.environ, "TMPDIR": str(scratch), "TMP": str(scratch), "TEMP": str(scratch)}


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A private working folder in the system temp dir (builds, emulator runs), removed on exit, on any
    exception and on interruption."""
    tmp = _create(Path(tempfile.gettempdir()), prefix, "", lambda p: os.mkdir(p, 0o700), "scratch folder")
    try:
        yield tmp
    finally:
        _discard(tmp)


def read_regular(path: str | os.PathLike, what: str, offset: int = 0, size: int | None = None,
                 limit: int | None = None) -> bytes:
    """Bytes of a regular file (all, or `size` from `offset`; at most `limit`). Opened non-blocking and
    checked with fstat before reading, so a FIFO or device given as an input cannot hang or flood dnnc."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise DnncError(f"{what}: cannot read it ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DnncError(f"{what}: not a regular file")
        if limit is not None and st.st_size > limit:
            raise DnncError(f"{what}: {st.st_size} bytes, more than {limit}")
        want = st.st_size - offset if size is None else size
        if offset + want > st.st_size:
            raise DnncError(f"{what}: has {st.st_size} bytes, {want} are needed from offset {offset}")
        try:
            fh.seek(offset)
            data = fh.read(want)
        except OSError as exc:
            raise DnncError(f"{what}: cannot read it ({exc.strerror or exc})") from None
    if len(data) != want:
        raise DnncError(f"{what}: changed while being read")
    return data
