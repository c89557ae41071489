"""Read a (hand-filled) Inputs sheet back into a project file: ``lpuplan import-worksheet``.

The workbook may come from anyone, so it is read as untrusted input:

- **size first**: the file and its zip members are checked before any XML is
  parsed: at most :data:`MAX_FILE_BYTES` on disk, :data:`MAX_MEMBERS`
  members, :data:`MAX_UNCOMPRESSED_BYTES` uncompressed in all and a
  compression ratio of at most :data:`MAX_RATIO` per member (a zip bomb is
  refused without being inflated);
- **XML safely**: openpyxl parses with ``defusedxml`` when it is installed
  (``openpyxl.xml.DEFUSEDXML``; a dependency of lpuplan), which refuses DTD
  entity declarations, so a billion-laughs workbook is refused without
  expanding; if defusedxml is missing or disabled (``OPENPYXL_DEFUSEDXML``)
  nothing is read;
- **bounded reading**: only the Inputs sheet's first :data:`MAX_ROWS` rows
  and five columns are read (read-only, streaming);
- **values, never formulas**: a value cell holding a formula is refused (the
  project file takes figures, not expressions), and text stays text.

Every problem names the sheet and cell, the field, the value and the fix
(exit 2). The result is validated exactly as ``lpuplan validate`` validates a
project file, and written as TOML (``tomli_w``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from dimensioning.errors import InvalidInput
from lpuplan.workbook_inputs import FIRST_ROW, HEADER, SHEET, InputRow, WorksheetProblem, project_data

__all__ = ["WorksheetError", "read_worksheet", "worksheet_project", "project_toml", "MAX_FILE_BYTES", "MAX_ROWS"]

MAX_FILE_BYTES = 20 * 2**20
MAX_MEMBERS = 500
MAX_UNCOMPRESSED_BYTES = 200 * 2**20
MAX_RATIO = 200  # a workbook's XML compresses ~5-30x; zip bombs reach 1000x and more
MAX_ROWS = 10_000
"""Inputs rows read at most (a project with 100 buckets has about 1,500)."""


class WorksheetError(InvalidInput):
    """A workbook that cannot be read or an Inputs sheet with a bad cell (exit 2)."""


def _check_container(path: Path) -> None:
    """Refuse what is too large or not an xlsx before any XML is parsed."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise WorksheetError("FILE", str(path), "no such file; export one with `lpuplan export FILE --format xlsx`") from None
    except OSError as exc:
        raise WorksheetError("FILE", str(path), f"cannot read it ({exc})") from None
    if not path.is_file():
        raise WorksheetError("FILE", str(path), "is not a file: give an .xlsx workbook")
    if size > MAX_FILE_BYTES:
        raise WorksheetError("FILE", str(path), f"is {size:,} bytes, above the {MAX_FILE_BYTES:,} bytes an Inputs"
                             " workbook may have: export a fresh one with `lpuplan export`")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorksheetError("FILE", str(path), f"is not an .xlsx workbook (not a zip archive: {exc}); save it as"
                             " Excel 2007-365 (.xlsx)") from None
    if len(members) > MAX_MEMBERS:
        raise WorksheetError("FILE", str(path), f"holds {len(members):,} parts, above {MAX_MEMBERS}: not a workbook"
                             " lpuplan reads (refused unread)")
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 2**20 and ratio > MAX_RATIO:
            raise WorksheetError("FILE", str(path), f"part {member.filename} inflates {ratio:,.0f}x (to"
                                 f" {member.file_size:,} bytes): refused unread as a zip bomb")
    if total > MAX_UNCOMPRESSED_BYTES:
        raise WorksheetError("FILE", str(path), f"inflates to {total:,} bytes, above {MAX_UNCOMPRESSED_BYTES:,}:"
                             " refused unread")


def read_worksheet(path: str | Path) -> list[tuple[str, InputRow]]:
    """The Inputs rows of a workbook as ``(cell of the value, row)`` (module docstring for the limits)."""
    path = Path(path)
    _check_container(path)
    import openpyxl
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:
        raise WorksheetError("FILE", str(path), "refused: defusedxml is not installed or OPENPYXL_DEFUSEDXML=False,"
                             " so the workbook's XML cannot be parsed safely; `pip install defusedxml` and unset it")
    from defusedxml import DefusedXmlException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl wraps parse errors in its own; the cause says what was refused
        defused = _cause(exc, DefusedXmlException)
        if defused is not None:
            raise WorksheetError("FILE", str(path), f"refused: its XML declares entities or a DTD"
                                 f" ({type(defused).__name__}) - an XML bomb or external entity; export a fresh"
                                 " workbook") from None
        raise WorksheetError("FILE", str(path), f"cannot read the workbook ({type(exc).__name__}: {exc}); save it as"
                             " Excel 2007-365 (.xlsx)") from None
    try:
        if SHEET not in book.sheetnames:
            raise WorksheetError("FILE", str(path), f"has no sheet named {SHEET!r} (sheets: {', '.join(book.sheetnames[:10])}):"
                                 " fill the Inputs sheet of a workbook from `lpuplan export`")
        ws = book[SHEET]
        rows: list[tuple[str, InputRow]] = []
        try:
            cells = ws.iter_rows(min_row=1, max_row=MAX_ROWS + FIRST_ROW + 1, max_col=len(HEADER))
            for r, row in enumerate(cells, start=1):
                if r == MAX_ROWS + FIRST_ROW + 1:
                    raise WorksheetError(f"{SHEET}!A{r} (rows)", f"more than {MAX_ROWS:,}",
                                         "an Inputs sheet holds one row per figure; remove the extra rows")
                values = [c.value for c in row] + [None] * (len(HEADER) - len(row))
                if r <= FIRST_ROW:
                    if r == FIRST_ROW and [str(v).strip() if v is not None else "" for v in values] != list(HEADER):
                        raise WorksheetError(f"{SHEET}!A{r} (header)", values,
                                             f"row {r} must be the header {', '.join(HEADER)} (as exported)")
                    continue
                parsed = _row(r, row, values)
                if parsed is not None:
                    rows.append(parsed)
        except WorksheetError:
            raise
        except Exception as exc:
            defused = _cause(exc, DefusedXmlException)
            what = (f"refused: the sheet's XML declares entities or a DTD ({type(defused).__name__}); export a fresh"
                    " workbook") if defused is not None else f"cannot read the sheet ({type(exc).__name__}: {exc})"
            raise WorksheetError(f"{SHEET} sheet", str(path), what) from None
    finally:
        book.close()
    if not rows:
        raise WorksheetError(f"{SHEET}!A{FIRST_ROW + 1}", None, "the Inputs sheet holds no figures: fill one row per field")
    return rows


def _cause(exc: BaseException, kind: type) -> BaseException | None:
    """``exc`` or the first exception of ``kind`` in its chain (``__cause__`` / ``__context__``)."""
    seen: set[int] = set()
    probe: BaseException | None = exc
    while probe is not None and id(probe) not in seen:
        if isinstance(probe, kind):
            return probe
        seen.add(id(probe))
        probe = probe.__cause__ or probe.__context__
    return None


def _row(r: int, row: Any, values: list[Any]) -> tuple[str, InputRow] | None:
    field, value, unit, source, note = values[: len(HEADER)]
    if field is None and value is None:
        return None  # a blank row
    if not isinstance(field, str) or not field.strip():
        raise WorksheetError(f"{SHEET}!A{r} (field)", field, "name the field (e.g. workload.lambda_peak) or clear the row")
    field = field.strip()
    cell = row[1] if len(row) > 1 else None
    if cell is not None and getattr(cell, "data_type", None) == "f":
        raise WorksheetError(f"{SHEET}!B{r} ({field})", value, "a formula: type the figure itself (the project file"
                             " takes values)")
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            value = None
    return f"{SHEET}!B{r}", InputRow(field, value, str(unit or "").strip(), str(source or "given").strip().lower(),
                                     str(note or "").strip())


def worksheet_project(path: str | Path, base_dir: Path | None = None) -> tuple[dict[str, Any], Any]:
    """(project file data, validated :class:`~lpuplan.project.Project`) from a workbook's Inputs sheet.

    Validation problems name the cell of the field (``Inputs!B7 (bucket[0].r_decode)``). Relative paths
    (a profile, a trace) resolve against ``base_dir`` (the folder of the project file to write; default: here).
    """
    from lpuplan.project import ProjectFileError, parse_project

    path = Path(path)
    rows = read_worksheet(path)
    try:
        data, cells = project_data(rows)
    except WorksheetProblem as exc:
        raise WorksheetError(f"{exc.cell} ({exc.field})", exc.value, exc.fix) from None
    try:
        project = parse_project(data, (base_dir or Path.cwd()).resolve())
    except ProjectFileError as exc:
        problems = [WorksheetError(_cell_of(p.field, cells), p.value, p.fix) for p in exc.problems]
        raise ProjectFileError(problems) from None  # type: ignore[arg-type]
    except InvalidInput as exc:
        raise WorksheetError(_cell_of(exc.field, cells), exc.value, exc.fix) from None
    return data, project


def _cell_of(field: str, cells: dict[str, str]) -> str:
    """``Inputs!B7 (bucket[0].r_decode)`` for a field with a row, else the sheet and the field."""
    probe = field
    while probe:
        if probe in cells:
            return f"{cells[probe]} ({field})"
        probe = probe.rsplit(".", 1)[0] if "." in probe else ""
    return f"{SHEET} (no row for {field}: add one)"


def project_toml(path: str | Path, base_dir: Path | None = None) -> tuple[str, Any]:
    """(TOML text of the project file, validated project) from a workbook's Inputs sheet."""
    import tomli_w

    from lpuplan import __version__

    data, project = worksheet_project(path, base_dir)
    head = (f"# project file imported by lpuplan {__version__} from the Inputs sheet of {Path(path).name}\n"
            "# (lpuplan import-worksheet); check it with `lpuplan validate`\n")
    return head + tomli_w.dumps(data), project
