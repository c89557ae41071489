"""A content-addressed on-disk cache for seeded simulation results.

A planner reruns ``lpuplan plan`` changing one input at a time; every pool
whose inputs did not change would run the same seeded simulation again and
get the same bytes. This cache keeps those results on disk, addressed by a
SHA-256 of everything that determines them:

- the namespace (which simulation) and its arguments, encoded canonically
  (:func:`canonical`: floats by their exact hex form, arrays by their bytes,
  value objects by their fields; anything else is not cached);
- the seed (an argument like any other);
- a fingerprint of the code: the bytes of every file (sources and data,
  not compiled caches) of the packages the caller names (``dimensioning`` for the queue simulations),
  the lpuplan version and the versions of Python, numpy and numba (numpy's
  random streams and numba's arithmetic are part of a result).

A hit therefore returns exactly what the computation would return now;
editing any file of a named package, or upgrading numpy, misses. Values are
stored with :mod:`pickle` (exact floats, arrays and tuples round-trip), in
the user's cache directory, so they are as trusted as the user's own files.

Where: ``$LPUPLAN_CACHE_DIR`` if set, else the platform's user cache
directory (``$XDG_CACHE_HOME/lpuplan``, ``~/.cache/lpuplan`` on Linux, via
platformdirs), subfolder ``results``. Opt out with ``LPUPLAN_NO_CACHE=1``
(the test suite does; a cache that cannot be written is skipped silently).
Concurrent runs are safe: each entry is written to a temporary file in the
same folder and renamed into place (atomic on POSIX and Windows), so a
reader sees a whole entry or none; an unreadable entry counts as a miss.
The folder is pruned to :data:`MAX_BYTES`, oldest entries first (checked
on one write in :data:`PRUNE_ONE_IN`).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path, PurePath
from typing import Any, Callable, TypeVar

__all__ = ["ENV_DIR", "ENV_DISABLE", "MAX_BYTES", "NotCanonical", "cache_dir", "cached", "canonical",
           "code_fingerprint", "entry_key", "lookup", "store"]

ENV_DIR = "LPUPLAN_CACHE_DIR"
ENV_DISABLE = "LPUPLAN_NO_CACHE"
MAX_BYTES = 512 * 2**20
"""Size the results folder is pruned to (bytes)."""
PRUNE_ONE_IN = 16
"""One write in this many (chosen by its key: no state) lists the folder and prunes it, so a search
writing thousands of entries does not list the folder thousands of times; the folder can exceed
:data:`MAX_BYTES` by about this many entries in between."""

_NOT_CODE = {".pyc", ".nbi", ".nbc"}  # compiled caches (numba's live beside the sources)
_FORMAT = 1  # bump when the key or entry layout changes
_ROOT = Path(__file__).resolve().parents[1]  # the folder holding the first-party packages

T = TypeVar("T")


class NotCanonical(TypeError):
    """An argument has no canonical encoding: the call is computed, not cached."""


def cache_dir() -> Path | None:
    """The results folder, or None when caching is switched off."""
    if os.environ.get(ENV_DISABLE, "") not in ("", "0"):
        return None
    base = os.environ.get(ENV_DIR)
    if not base:
        from platformdirs import user_cache_dir

        base = user_cache_dir("lpuplan", appauthor=False)
    return Path(base) / "results"


@lru_cache(maxsize=None)
def code_fingerprint(packages: tuple[str, ...]) -> str:
    """SHA-256 over the named packages' files (paths and bytes) and the versions that shape results."""
    digest = hashlib.sha256()
    versions = [f"format {_FORMAT}", f"python {sys.version_info[0]}.{sys.version_info[1]}"]
    for dist in ("lpuplan", "numpy", "numba"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} absent")
    digest.update("\n".join(versions).encode())
    for package in sorted(packages):
        folder = _ROOT / package
        if not folder.is_dir():
            raise ValueError(f"no package folder {folder}")
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in _NOT_CODE:
                continue
            digest.update(b"\0" + path.relative_to(_ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def canonical(value: Any) -> Any:
    """A nested tuple of plain values that encodes ``value`` exactly (raises :class:`NotCanonical`).

    Floats by ``float.hex`` (so 0.1 and 0.1000000000000001 differ and -0.0
    is not 0.0), numpy arrays by dtype, shape and bytes, paths by name and
    the file's bytes, dataclasses and pydantic models by their class and
    fields, mappings by sorted items.
    """
    if value is None or isinstance(value, (bool, str, bytes)):
        return value
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("float", float(value).hex())
    if isinstance(value, enum.Enum):
        return ("enum", type(value).__qualname__, canonical(value.value))
    if isinstance(value, PurePath):  # a file's name and its bytes (a trace or profile edited in place misses)
        try:
            content = hashlib.sha256(Path(value).read_bytes()).hexdigest()
        except OSError:
            content = None
        return ("path", str(value), content)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(canonical(v) for v in value))
    if isinstance(value, (dict,)):
        items = [(canonical(k), canonical(v)) for k, v in value.items()]
        return ("dict", tuple(sorted(items, key=repr)))
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted((canonical(v) for v in value), key=repr)))
    name = f"{type(value).__module__}.{type(value).__qualname__}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return ("dataclass", name, tuple((f.name, canonical(getattr(value, f.name))) for f in dataclasses.fields(value)))
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            data = numpy.ascontiguousarray(value)
            if data.dtype.hasobject:
                raise NotCanonical(f"object array {name}")
            return ("ndarray", data.dtype.str, data.shape, hashlib.sha256(data.tobytes()).hexdigest())
        if isinstance(value, numpy.generic):
            return canonical(value.item())
    fields = getattr(type(value), "model_fields", None)  # a pydantic model: its fields, not its repr
    if isinstance(fields, dict):
        return ("model", name, tuple((key, canonical(getattr(value, key))) for key in fields))
    raise NotCanonical(f"no canonical encoding for {name}")


def entry_key(namespace: str, arguments: Any, packages: tuple[str, ...]) -> str:
    """The SHA-256 hex key of one result (raises :class:`NotCanonical`)."""
    text = repr((namespace, canonical(arguments), code_fingerprint(tuple(sorted(packages)))))
    return hashlib.sha256(text.encode()).hexdigest()


def cached(namespace: str, arguments: Any, compute: Callable[[], T], *,
           packages: tuple[str, ...] = ("dimensioning",)) -> T:
    """``compute()``, or the stored result of the same call with the same code.

    ``arguments`` must hold everything ``compute`` depends on besides the
    code of ``packages`` (seed included). ``compute`` must be deterministic.
    """
    hit, value = lookup(namespace, arguments, packages=packages)
    if hit:
        return value  # type: ignore[no-any-return]
    value = compute()
    store(namespace, arguments, value, packages=packages)
    return value


def _entry(namespace: str, arguments: Any, packages: tuple[str, ...]) -> tuple[Path, Path, str] | None:
    """(results folder, entry path, key), or None when off or not cacheable."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        key = entry_key(namespace, arguments, packages)
    except NotCanonical:
        return None
    return folder, folder / key[:2] / f"{key}.pickle", key


def lookup(namespace: str, arguments: Any, *, packages: tuple[str, ...] = ("dimensioning",)) -> tuple[bool, Any]:
    """(True, the stored result) or (False, None) for a miss (see :func:`cached`)."""
    entry = _entry(namespace, arguments, packages)
    if entry is None:
        return False, None
    _, path, key = entry
    try:
        with open(path, "rb") as handle:
            stored_key, value = pickle.load(handle)
        if stored_key == key:
            return True, value
    except Exception:  # noqa: BLE001 - absent, half-written by a crashed writer, or from another format: a miss
        pass
    return False, None


def store(namespace: str, arguments: Any, value: Any, *, packages: tuple[str, ...] = ("dimensioning",)) -> None:
    """Keep ``value`` as the result of the call (see :func:`cached`); a no-op when off or not cacheable."""
    entry = _entry(namespace, arguments, packages)
    if entry is not None:
        folder, path, key = entry
        _store(folder, path, key, value)


def _store(folder: Path, path: Path, key: str, value: Any) -> None:
    """Write one entry atomically; a folder that cannot be written only costs the cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pickle")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump((key, value), out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        if int(key[:8], 16) % PRUNE_ONE_IN == 0:
            _prune(folder)
    except OSError:
        pass


def _prune(folder: Path) -> None:
    """Delete the oldest entries until the folder holds at most :data:`MAX_BYTES`."""
    entries = []
    total = 0
    for path in folder.glob("*/*.pickle"):
        try:
            stat = path.stat()
        except OSError:
            continue  # removed by a concurrent run
        entries.append((stat.st_mtime, path, stat.st_size))
        total += stat.st_size
    if total <= MAX_BYTES:
        return
    for _, path, size in sorted(entries):
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        if total <= MAX_BYTES:
            break
