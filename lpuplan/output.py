"""Atomic output: a failed or killed run never leaves a half-written file or set.

Three promises (DESIGN.md "Output files are written atomically"; issue 12):

- **One file** goes through :func:`write_atomic`: a temporary file beside the
  target, fsync, then ``os.replace``. The temporary file is created with mode
  ``0o666`` and the kernel applies the user's umask (0644 under umask 022), so
  the result is as readable as any file the user creates, and no process-wide
  ``os.umask`` call is needed to learn the umask.
- **A set of files** (``plan --out DIR``, ``facility --out DIR``, ``simulate
  --out DIR``) goes through :func:`output_set`: every file is written into a
  fresh folder beside ``DIR`` and the folder is swapped in at the end with one
  ``renameat2(RENAME_EXCHANGE)`` (Linux), so a reader sees the old set or the
  new set, never a mixture, whenever the run is killed. Where the exchange is
  not available the swap is two renames, and the next run restores the old
  set if a run died between them.
- **Leftovers** of killed runs (``.NAME.*.tmp`` files, ``.DIR.lpuplan-set-*``
  folders) are removed by the next run that writes there. A writer holds an
  ``flock`` on its temporary file or folder for its whole life, so a cleaner
  removes only what no live process holds: two runs never delete each
  other's work in progress.

Output paths are checked before any work starts (:func:`check_output_file`,
:func:`check_output_set`): a folder where a file is wanted, a file where a
folder is wanted, a place that cannot be written, or a folder holding files
lpuplan did not write (a set replaces the whole folder) is an
:class:`OutputPathError` naming the option, exit 2. A write that fails midway
(``ENOSPC``, ``EDQUOT``, ``EIO``) is the same error with the path and the
system's reason; the previous output stays whole.
"""

from __future__ import annotations

import contextlib
import functools
import errno
import fcntl
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Iterator

from dimensioning.errors import InvalidInput
from dimensioning.json_text import dumps_json

__all__ = [
    "OutputPathError",
    "SET_MANIFEST",
    "check_output_file",
    "check_output_set",
    "clean_leftovers",
    "dumps_json",
    "output_set",
    "write_atomic",
    "write_json",
]

SET_MANIFEST = ".lpuplan-set.json"
"""Written into every output set: the files the set holds (so a later run knows the folder is lpuplan's)."""

_SET_TAG = ".lpuplan-set-"
_OLD_TAG = ".lpuplan-old-"

# Names lpuplan's commands write at the top of an output folder, recognised in
# a folder written before sets carried a manifest.
_KNOWN_NAMES = frozenset({
    "plan.json", "dimensioning_inputs.md", "capacity_model.md", "facility",
    "summary.json", "timeseries.csv", "simulate.png",
    "facility.json", "rack_plan.csv", "budgets.csv", "failure_domains.csv", "rack_plan.xlsx", "rack_plan.png",
    "netbox", "topology.graphml",
})


class OutputPathError(InvalidInput):
    """An output path that cannot be written (checked up front, or failing while writing): exit 2."""


# ---------------------------------------------------------------------------
# checks before any work


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _probe_writable(option: str, shown: Path, folder: Path) -> None:
    """Create and remove a folder in ``folder``: the only check that is right for root, ACLs and read-only mounts."""
    if not folder.is_dir():
        raise OutputPathError(option, str(shown), f"{folder} is a file, not a folder: choose a path under a folder")
    try:
        probe = folder / f".lpuplan-probe-{os.urandom(6).hex()}"
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as exc:
        raise OutputPathError(option, str(shown), f"cannot write in {folder} ({_reason(exc)}): choose a writable place") from None


def check_output_file(option: str, path: str | os.PathLike[str]) -> Path:
    """Check before any work that ``path`` can be written as one file; returns it.

    Raises :class:`OutputPathError` naming ``option`` when ``path`` is a folder
    or its folder cannot be created or written.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputPathError(option, str(target), "is a folder: give a file name (e.g. a path inside it)")
    _probe_writable(option, target, _nearest_existing(target.absolute().parent))
    return target


def check_output_set(option: str, path: str | os.PathLike[str]) -> Path:
    """Check before any work that ``path`` can receive an output set (a folder lpuplan owns); returns it.

    Refused: a file at ``path``; an unwritable place; a folder holding files
    lpuplan did not write there (the set replaces the folder's whole content,
    so it never takes over a folder that holds anything else).
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OutputPathError(option, str(target), "is a file: give a folder (it is created if missing)")
    real = _real_target(target)
    if real.parent == real or real == Path.cwd().resolve() or real == Path.home().resolve():
        raise OutputPathError(option, str(target), "give a folder of its own for the outputs (e.g. lpuplan-out): "
                              "each run replaces the folder's whole content")
    _probe_writable(option, target, _nearest_existing(real.parent))
    foreign = _foreign_entries(real)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise OutputPathError(option, str(target), f"holds files lpuplan did not write ({shown}); each run replaces the"
                              " folder's whole content, so give a new or empty folder, or move those files out")
    return target


def _real_target(target: Path) -> Path:
    """The folder a set is swapped into: symbolic links followed, so a link to a folder stays a link."""
    return Path(os.path.realpath(target))


def _foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that no earlier lpuplan set wrote (sorted); [] when it is missing or empty."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return [folder.name]
    names = [n for n in names if not _is_leftover_name(n)]
    manifest = folder / SET_MANIFEST
    if manifest.is_file():
        try:
            listed = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
            tops = {str(entry).split("/", 1)[0] for entry in listed}
        except (OSError, ValueError, AttributeError):
            tops = set()
        return [n for n in names if n != SET_MANIFEST and n not in tops]
    return [n for n in names if n not in _KNOWN_NAMES]


def _is_leftover_name(name: str) -> bool:
    return name.startswith(".") and (name.endswith(".tmp") or name.startswith(".lpuplan-probe-"))


# ---------------------------------------------------------------------------
# one file


def _reason(exc: OSError) -> str:
    code = errno.errorcode.get(exc.errno or 0, "")
    text = exc.strerror or str(exc)
    return f"{text}, {code}" if code else text


def _write_error(option: str, path: Path, exc: OSError) -> OutputPathError:
    hint = {
        errno.ENOSPC: "free some space or choose another place",
        errno.EDQUOT: "free some space (quota) or choose another place",
        errno.EROFS: "the file system is read-only: choose another place",
        errno.EACCES: "choose a place you may write",
        errno.EPERM: "choose a place you may write",
    }.get(exc.errno or 0, "choose another place")
    return OutputPathError(option, str(path), f"cannot write it ({_reason(exc)}): {hint}; earlier outputs are unchanged")


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _remove_stale_tmp_files(folder: Path, name: str) -> None:
    """Remove ``.NAME.*.tmp`` files that no live writer holds (left by a killed run)."""
    prefix = f".{name}."
    try:
        entries = [e for e in os.listdir(folder) if e.startswith(prefix) and e.endswith(".tmp")]
    except OSError:
        return
    for entry in entries:
        path = folder / entry
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if _try_lock(fd):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        finally:
            os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, option: str = "output") -> Path:
    """Write ``data`` to ``path`` atomically; create parent folders. Returns the path.

    The file gets mode ``0o666`` minus the umask (the kernel applies it at
    creation). A failure (``ENOSPC``...) raises :class:`OutputPathError` naming
    ``option`` and the path; the earlier file, if any, is untouched.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(option, target, exc) from None
    while True:
        tmp = target.parent / f".{target.name}.{os.urandom(6).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _write_error(option, target, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # marks the file as alive for cleaners in other processes
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_error(option, target, exc) from None
        raise
    _remove_stale_tmp_files(target.parent, target.name)
    return target


def write_json(path: str | os.PathLike[str], obj: Any, *, option: str = "output") -> Path:
    """Write ``obj`` atomically as :func:`dumps_json` formats it."""
    return write_atomic(path, dumps_json(obj), option=option)


# ---------------------------------------------------------------------------
# a set of files

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@functools.lru_cache(maxsize=1)
def _libc_renameat2() -> Any:
    """libc's ``renameat2`` through ctypes, looked up on the first swap (ctypes costs a command 15 ms to load)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2  # the process's own symbols hold libc's
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    renameat2 = _libc_renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    import ctypes

    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # kernel or file system without the exchange: the caller uses two renames
    raise OSError(code, os.strerror(code), str(b))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def clean_leftovers(target: str | os.PathLike[str]) -> list[Path]:
    """Remove what killed runs left beside the set folder ``target``; returns what was removed.

    A staging folder (``.NAME.lpuplan-set-*``) no live process holds is
    removed; an old set (``.NAME.lpuplan-old-*``) is put back when ``target``
    is missing (a run died between the two renames of the fallback swap), and
    removed otherwise.
    """
    real = _real_target(Path(target))
    parent, name = real.parent, real.name
    removed: list[Path] = []
    try:
        entries = sorted(os.listdir(parent))
    except OSError:
        return removed
    for entry in entries:
        if entry.startswith(f".{name}{_OLD_TAG}"):
            path = parent / entry
            if not real.exists():
                try:
                    os.rename(path, real)  # the previous set comes back
                except OSError:
                    pass  # leave it for a later run rather than lose it
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    for entry in entries:
        if entry.startswith(f".{name}{_SET_TAG}"):
            path = parent / entry
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                if _try_lock(fd):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
            finally:
                os.close(fd)
    return removed


def _manifest(staging: Path) -> str:
    files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    return dumps_json({"schema": "lpuplan.output-set/1", "files": [f for f in files if f != SET_MANIFEST]})


@contextlib.contextmanager
def output_set(target: str | os.PathLike[str], *, option: str = "--out") -> Iterator[Path]:
    """Write a set of files atomically as a set: yields a fresh folder to write into.

    On normal exit the folder replaces ``target`` in one step (see the module
    docstring); on an exception it is removed and ``target`` is untouched. A
    write error inside names ``option`` and the file's final path.
    """
    shown = Path(target)
    check_output_set(option, shown)
    real = _real_target(shown)
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(option, shown, exc) from None
    clean_leftovers(real)
    staging = real.parent / f".{real.name}{_SET_TAG}{os.urandom(6).hex()}"
    try:
        os.mkdir(staging, 0o777)  # the umask applies, as for any folder the user creates
    except OSError as exc:
        raise _write_error(option, shown, exc) from None
    lock = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(lock, fcntl.LOCK_EX)  # alive: no other run's clean_leftovers removes it
    try:
        try:
            yield staging
            write_atomic(staging / SET_MANIFEST, _manifest(staging), option=option)
        except OutputPathError as exc:
            raise _rebased(exc, staging, shown) from None
        check_output_set(option, shown)  # nothing foreign arrived while the run worked
        try:
            for folder in sorted({p.parent for p in staging.rglob("*")}, key=lambda p: len(p.parts), reverse=True):
                _fsync_dir(folder)
            _commit(staging, real)
        except OSError as exc:
            raise _write_error(option, shown, exc) from None
    finally:
        os.close(lock)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _rebased(exc: OutputPathError, staging: Path, target: Path) -> OutputPathError:
    """The same error, naming the file's final path instead of the staging folder's."""
    value = str(exc.value)
    if value.startswith(str(staging)):
        value = str(target) + value[len(str(staging)):]
    return OutputPathError(exc.field, value, exc.fix)


def _commit(staging: Path, real: Path) -> None:
    """Put ``staging`` in place of ``real`` in one step; the old set ends up at ``staging`` (removed by the caller)."""
    if not real.exists():
        os.rename(staging, real)
    elif not _exchange(staging, real):
        old = real.parent / f".{real.name}{_OLD_TAG}{os.urandom(6).hex()}"
        os.rename(real, old)  # killed here: clean_leftovers of the next run puts `old` back
        os.rename(staging, real)
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(real.parent)
