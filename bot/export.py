"""Streaming CSV and XLSX export of residents' concerns for reports to the funding body.

Rows arrive as an async iterator straight from the storage layer and are written one at a time,
so an export of 100,000 concerns never holds the table in memory. Reports in CSV take a faster
route to the same bytes: SQLite renders labels and local times, and write_csv_pieces only adds
the free-text cells, a batch of rows at a time. Both writers produce the file
under a temporary name next to `out` and move it into place only when it is complete: a failed
or cancelled export never leaves a truncated report behind that looks like a finished one.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import os
import re
import tempfile
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from storage.concerns import ExportPieces

# XlsxWriter ships inline annotations but no py.typed marker.

__all__ = [
    "CSV_DELIMITER",
    "CSV_LINE_END",
    "EXPORT_FORMATS",
    "XLSX_CELL_LIMIT",
    "ExportLabels",
    "ExportRow",
    "csv_cell",
    "local_minutes",
    "safe_cell",
    "utc_offset_periods",
    "write_csv",
    "write_csv_pieces",
    "write_export",
    "write_xlsx",
]


@dataclass(frozen=True)
class ExportRow:
    """One concern as it appears in an export; field order is the column order."""

    reference: str
    created_at: datetime
    quarter: str
    topic: str
    status: str
    language: str
    anonymous: bool
    text: str
    replies: int
    last_status_change: datetime


EXPORT_FORMATS = ("csv", "xlsx")

COLUMN_COUNT = len(fields(ExportRow))

# Excel's limit is counted in UTF-16 code units, so an emoji takes two.
XLSX_CELL_LIMIT = 32_767

# Characters Excel and LibreOffice would evaluate when a cell starts with them (OWASP).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")

# Characters XML 1.0 cannot hold, plus lone surrogates, which cannot even be encoded as UTF-8.
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_INVALID_SHEET_CHARS = frozenset("[]:*?/\\")

# Excel's sheet size including the header row; XlsxWriter silently drops cells beyond it.
_XLSX_MAX_ROWS = 1_048_576
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
# Widths in characters, in ExportRow order; a longer header widens its column.
_XLSX_WIDTHS = (10, 17, 20, 20, 16, 8, 10, 80, 8, 17)


@dataclass(frozen=True)
class ExportLabels:
    """Column headers and yes/no words, already translated by the caller (German for staff)."""

    headers: tuple[str, ...]
    yes: str
    no: str
    # XLSX only; Excel allows 1-31 characters, none of []:*?/\ and no leading/trailing '.
    sheet_name: str = "Export"

    def __post_init__(self) -> None:
        """Reject labels that would produce a broken file only after rows were consumed."""
        if len(self.headers) != COLUMN_COUNT:
            raise ValueError(f"expected {COLUMN_COUNT} headers, got {len(self.headers)}")
        if not _valid_sheet_name(self.sheet_name):
            raise ValueError(f"invalid worksheet name: {self.sheet_name!r}")


def _valid_sheet_name(name: str) -> bool:
    """Whether Excel accepts `name` as a worksheet name."""
    if not 0 < len(name) <= 31 or _INVALID_SHEET_CHARS & set(name):
        return False
    return not (name.startswith("'") or name.endswith("'"))


def safe_cell(text: str) -> str:
    """Prefix text that a spreadsheet would run as a formula with `'` (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_TRIGGERS) else text


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    """Convert an aware datetime to naive wall-clock time in `tz`."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # astimezone() would silently treat a naive value as the server's local time.
        raise ValueError(f"export datetimes must be timezone-aware, got {moment!r}")
    return moment.astimezone(tz).replace(tzinfo=None)


def local_minutes(moment: datetime, tz: ZoneInfo) -> str:
    """Local `YYYY-MM-DD HH:MM` of an aware datetime, as the CSV export writes it."""
    return _local(moment, tz).isoformat(sep=" ", timespec="minutes")


@contextmanager
def _atomic_target(out: Path) -> Iterator[Path]:
    """Yield a temporary path next to `out` that replaces `out` only on success."""
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(fd)
    part = Path(name)
    try:
        yield part
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)


# --- CSV -----------------------------------------------------------------------------------------


class _LocalClock:
    """UTC → local wall time, with the offset looked up once per UTC hour.

    Time-zone offsets change only at whole UTC hours (for Europe/Berlin at 01:00 UTC), so a
    100,000-row export needs a few hundred zone lookups instead of 200,000.
    """

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._offsets: dict[int, timedelta] = {}

    def text(self, moment: datetime) -> str:
        """Local `YYYY-MM-DD HH:MM`."""
        offset = moment.utcoffset()
        if offset is None:
            # astimezone() would silently treat a naive value as the server's local time.
            raise ValueError(f"export datetimes must be timezone-aware, got {moment!r}")
        utc = moment.replace(tzinfo=None) - offset
        hour = int((utc - _EPOCH).total_seconds()) // 3600
        local_offset = self._offsets.get(hour)
        if local_offset is None:
            local_offset = moment.astimezone(self.tz).utcoffset() or timedelta(0)
            self._offsets[hour] = local_offset
        return (utc + local_offset).isoformat(sep=" ", timespec="minutes")


_EPOCH = datetime(1970, 1, 1)
#: Rows encoded and written together: one file write per block instead of per row.
_CSV_BLOCK = 1000
#: The dialect of every CSV export (csv.writer's QUOTE_MINIMAL with `"` as quote character).
CSV_DELIMITER = ";"
CSV_LINE_END = "\r\n"


def _csv_row(row: ExportRow, labels: ExportLabels, clock: _LocalClock) -> list[str]:
    """Render one row as CSV cells, text cells made safe."""
    return [
        safe_cell(row.reference),
        clock.text(row.created_at),
        safe_cell(row.quarter),
        safe_cell(row.topic),
        safe_cell(row.status),
        safe_cell(row.language),
        safe_cell(labels.yes if row.anonymous else labels.no),
        safe_cell(row.text),
        str(row.replies),
        clock.text(row.last_status_change),
    ]


async def write_csv(
    rows: AsyncIterable[ExportRow], out: Path, labels: ExportLabels, tz: ZoneInfo
) -> int:
    """Stream rows to a `;`-separated UTF-8 (BOM) CSV file; return the number of data rows."""
    count = 0
    # The BOM makes Excel detect UTF-8; errors="replace" keeps lone surrogates from aborting.
    with (
        _atomic_target(out) as part,
        part.open("w", encoding="utf-8-sig", errors="replace", newline="") as fh,
    ):
        block = io.StringIO()
        writer = csv.writer(block, delimiter=CSV_DELIMITER, lineterminator=CSV_LINE_END)
        writer.writerow([safe_cell(header) for header in labels.headers])
        clock = _LocalClock(tz)
        async for row in rows:
            writer.writerow(_csv_row(row, labels, clock))
            count += 1
            if count % _CSV_BLOCK == 0:
                fh.write(block.getvalue())
                block.seek(0)
                block.truncate()
        fh.write(block.getvalue())
    return count


# --- CSV from SQLite-rendered lines -------------------------------------------------------------

#: The SQL time-zone table covers 2010 to this many years ahead; other times (there should be
#: none) are converted one by one in Python.
OFFSET_TABLE_FIRST_YEAR = 2010
OFFSET_TABLE_YEARS_AHEAD = 10
# From 2000 to 2100 no zone in tzdata keeps an offset for less than 6.9 days (checked for every
# zone; the shortest are Brazil's DST week of October 2000 and Gaza's predicted Ramadan breaks),
# so probing daily sees every change; bisection then pins it to the second.
_PROBE_SECONDS = 24 * 3600


def csv_cell(text: str) -> str:
    """One text cell exactly as write_csv writes it: made safe, then quoted like csv.writer."""
    if text.startswith(_FORMULA_TRIGGERS):
        text = "'" + text
    # csv.writer (QUOTE_MINIMAL) quotes a cell holding the delimiter, the quote or a line break.
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if CSV_DELIMITER in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def _offset_at(tz: ZoneInfo, timestamp: int) -> int:
    """UTC offset of `tz` in seconds at a POSIX timestamp."""
    offset = datetime.fromtimestamp(timestamp, tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _first_change(tz: ZoneInfo, before: int, after: int, offset: int) -> int:
    """The first second in (before, after] whose offset differs from `offset` (at `before`)."""
    while after - before > 1:
        middle = (before + after) // 2
        if _offset_at(tz, middle) == offset:
            before = middle
        else:
            after = middle
    return after


@functools.lru_cache(maxsize=8)
def utc_offset_periods(
    tz: ZoneInfo, start: datetime, end: datetime
) -> tuple[tuple[datetime, int], ...]:
    """(UTC start, offset in seconds) of each period of constant UTC offset in [start, end)."""
    first, last = int(start.timestamp()), int(end.timestamp())
    periods = [(first, _offset_at(tz, first))]
    probe = first
    while probe < last - 1:
        ahead = min(probe + _PROBE_SECONDS, last - 1)
        offset = _offset_at(tz, ahead)
        if offset != periods[-1][1]:
            periods.append((_first_change(tz, probe, ahead, periods[-1][1]), offset))
        probe = ahead
    return tuple((datetime.fromtimestamp(second, UTC), offset) for second, offset in periods)


def offset_table(tz: ZoneInfo) -> tuple[tuple[tuple[datetime, int], ...], datetime]:
    """The offset periods for SQL's time-zone table, and where they end."""
    start = datetime(OFFSET_TABLE_FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(datetime.now(UTC).year + OFFSET_TABLE_YEARS_AHEAD, 1, 1, tzinfo=UTC)
    return utc_offset_periods(tz, start, end), end


def _csv_header(labels: ExportLabels) -> str:
    """The header line."""
    return CSV_DELIMITER.join(csv_cell(header) for header in labels.headers) + CSV_LINE_END


def _csv_lines(rows: Sequence[ExportPieces]) -> str:
    """Lines from SQLite's pieces, with the free-text cells rendered here."""
    cell = csv_cell
    parts: list[str] = []
    add = parts.extend
    for reference, head, language, flag, text, tail in rows:
        add((cell(reference), head, cell(language), flag, cell(text), tail))
    return "".join(parts)


async def write_csv_pieces(
    batches: AsyncIterable[Sequence[ExportPieces]], out: Path, labels: ExportLabels
) -> int:
    """Write the same file as write_csv from ConcernRepository.export_pieces batches."""
    count = 0
    # The BOM makes Excel detect UTF-8; errors="replace" keeps lone surrogates from aborting.
    with (
        _atomic_target(out) as part,
        part.open("w", encoding="utf-8-sig", errors="replace", newline="") as fh,
    ):
        fh.write(_csv_header(labels))
        async for rows in batches:
            fh.write(_csv_lines(rows))
            count += len(rows)
    return count


# --- XLSX ----------------------------------------------------------------------------------------


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Excel's cell limit."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _truncate(text: str, limit: int) -> str:
    """Cut text to at most `limit` UTF-16 units, marking a cut with `…`."""
    # Each character is at most two units, so most texts skip the per-character count.
    if len(text) * 2 <= limit or _utf16_len(text) <= limit:
        return text
    kept: list[str] = []
    used = 1  # room for the ellipsis
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            break
        kept.append(char)
    return "".join(kept) + "…"


def _xlsx_text(text: str) -> str:
    """Make text storable in an XLSX cell: XML-safe and within Excel's length limit."""
    # XlsxWriter would store CR as `_x000D_`, which readers like openpyxl show literally;
    # Excel breaks lines on LF alone.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # XlsxWriter would write these as `_xHHHH_` escapes that Excel decodes back into the
    # invisible control character; a visible replacement character is more useful to staff.
    # (XlsxWriter itself escapes literal `_xHHHH_` text, so that needs no handling here.)
    return _truncate(_XML_ILLEGAL_RE.sub("\ufffd", text), XLSX_CELL_LIMIT)


class _Sheet:
    """One constant-memory worksheet with the export's formats and running row number."""

    def __init__(self, workbook: Any, labels: ExportLabels) -> None:
        """Create the sheet and write the header row."""
        self.labels = labels
        self.sheet = workbook.add_worksheet(labels.sheet_name)
        self.datetime_format = workbook.add_format({"num_format": _DATETIME_FORMAT})
        bold = workbook.add_format({"bold": True})
        for col, (header, width) in enumerate(zip(labels.headers, _XLSX_WIDTHS, strict=True)):
            self.sheet.set_column(col, col, max(width, len(header) + 2))
            self.sheet.write_string(0, col, _xlsx_text(header), bold)
        self.sheet.freeze_panes(1, 0)
        self.rows = 0

    def add(self, row: ExportRow, tz: ZoneInfo) -> None:
        """Append one data row with typed cells."""
        if self.rows + 1 >= _XLSX_MAX_ROWS:
            raise ValueError(f"XLSX holds at most {_XLSX_MAX_ROWS - 1} rows; use CSV")
        self.rows += 1
        r, sheet, text = self.rows, self.sheet, _xlsx_text
        # write_string everywhere, never write(): text must not turn into a formula, number or URL.
        sheet.write_string(r, 0, text(row.reference))
        sheet.write_datetime(r, 1, _local(row.created_at, tz), self.datetime_format)
        sheet.write_string(r, 2, text(row.quarter))
        sheet.write_string(r, 3, text(row.topic))
        sheet.write_string(r, 4, text(row.status))
        sheet.write_string(r, 5, text(row.language))
        sheet.write_string(r, 6, text(self.labels.yes if row.anonymous else self.labels.no))
        sheet.write_string(r, 7, text(row.text))
        sheet.write_number(r, 8, row.replies)
        sheet.write_datetime(r, 9, _local(row.last_status_change, tz), self.datetime_format)

    def finish(self) -> None:
        """Set the autofilter over the header and every written row."""
        self.sheet.autofilter(0, 0, self.rows, COLUMN_COUNT - 1)


async def write_xlsx(
    rows: AsyncIterable[ExportRow], out: Path, labels: ExportLabels, tz: ZoneInfo
) -> int:
    """Stream rows to a single-sheet XLSX workbook; return the number of data rows."""
    with _atomic_target(out) as part, tempfile.TemporaryDirectory() as scratch:
        # constant_memory flushes each finished row to a scratch file; the private scratch
        # directory guarantees that file is removed even when the export fails midway.
        # Imported here: the running bot never writes XLSX itself, so it need not load XlsxWriter.
        from xlsxwriter import Workbook  # type: ignore[import-untyped]

        workbook = Workbook(
            str(part),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
                "tmpdir": scratch,
            },
        )
        try:
            sheet = _Sheet(workbook, labels)
            async for row in rows:
                sheet.add(row, tz)
            sheet.finish()
        finally:
            # Also on failure, to release the scratch file; _atomic_target discards the result.
            # Zipping 100k rows takes seconds, so keep the event loop responsive meanwhile.
            await asyncio.to_thread(workbook.close)
    return sheet.rows


_Writer = Callable[[AsyncIterable[ExportRow], Path, ExportLabels, ZoneInfo], Awaitable[int]]
_WRITERS: dict[str, _Writer] = {"csv": write_csv, "xlsx": write_xlsx}


async def write_export(
    fmt: str, rows: AsyncIterable[ExportRow], out: Path, labels: ExportLabels, tz: ZoneInfo
) -> int:
    """Write rows in format `fmt` (one of EXPORT_FORMATS); return the number of data rows."""
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {EXPORT_FORMATS}")
    return await writer(rows, out, labels, tz)
