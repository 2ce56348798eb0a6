"""Exports of residents' concerns for reports to the funding body: /export and `quartierbot export`.

One path for both formats: rows stream from the read-only connection (storage/export.py), get
their labels in the reader's language and their local times from zoneinfo, and are written one at
a time, so an export of 100,000 concerns never holds the table in memory. The file is written
under a temporary name next to its target and moved into place only when it is complete: a failed
or cancelled export never leaves a truncated report behind that looks like a finished one.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Collection, Iterator, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.concerns import quarter_name, status_label, topic_label
from bot.dateparse import parse_date, typed_date
from bot.i18n import N_, Translator, shorten

if TYPE_CHECKING:
    from bot.config import Config
    from bot.repositories import Repositories
    from storage.export import ExportRecord

EXPORT_FORMATS = ("csv", "xlsx")

EXPORT_HEADERS: tuple[str, ...] = (
    N_("Reference"),
    N_("Created at"),
    N_("Quarter"),
    N_("Topic"),
    N_("Status"),
    N_("Language"),
    N_("Anonymous"),
    N_("Text"),
    N_("Replies"),
    N_("Last status change"),
    # Last, so that sheets built on the earlier columns keep working.
    N_("Machine translation"),
    N_("Translated from"),
)

# --- what to export ------------------------------------------------------------------------------


class ExportRequestError(ValueError):
    """The export arguments cannot be used; the message is already translated."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export."""

    fmt: str = "csv"
    first_day: date | None = None
    last_day: date | None = None
    quarter_id: str | None = None


def parse_export_arguments(
    tokens: Sequence[str], quarter_ids: Collection[str], t: Translator
) -> ExportRequest:
    """`[csv|xlsx] [from YYYY-MM-DD] [to YYYY-MM-DD] [quarter id]`, words in any order."""
    fmt, first, last, quarter = "csv", None, None, None
    words = [token.strip() for token in tokens if token.strip()]
    index = 0
    while index < len(words):
        word = words[index].lower()
        if word in EXPORT_FORMATS:
            fmt = word
        elif word in ("from", "to") and index + 1 < len(words):
            day = _iso_day(words[index + 1], t)
            if word == "from":
                first = day
            else:
                last = day
            index += 1
        elif word in quarter_ids:
            quarter = word
        else:
            raise ExportRequestError(
                t._("I don't understand “{word}”.", word=words[index][:30]) + "\n" + export_usage(t)
            )
        index += 1
    if first and last and last < first:
        raise ExportRequestError(t._("The end date is before the start date."))
    return ExportRequest(fmt, first, last, quarter)


def export_usage(t: Translator) -> str:
    """How to call /export."""
    return t._("Usage: /export [csv|xlsx] [from YYYY-MM-DD] [to YYYY-MM-DD] [quarter]")


def _iso_day(text: str, t: Translator) -> date:
    """A date as staff type it (ISO, 24.12.2026, or their language's short form)."""
    day = parse_date(text, t.locale)
    if day is None:
        raise ExportRequestError(
            t._(
                "I could not read the date “{text}”. Please write it like {example}.",
                text=text[:20],
                example=typed_date(date(2026, 1, 31), t.locale),
            )
        )
    return day


# --- rows and labels -----------------------------------------------------------------------------


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
    translation: str = ""
    translated_from: str = ""


COLUMN_COUNT = len(fields(ExportRow))
_INVALID_SHEET_CHARS = frozenset("[]:*?/\\")


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


def export_labels(t: Translator) -> ExportLabels:
    """Column headers and yes/no in the reader's language (German for staff by default)."""
    return ExportLabels(
        headers=tuple(t._(header) for header in EXPORT_HEADERS),
        yes=t._("yes"),
        no=t._("no"),
        sheet_name=t._("Concerns")[:31],
    )


async def export_rows(
    records: AsyncIterable[ExportRecord], config: Config, t: Translator
) -> AsyncIterator[ExportRow]:
    """The records labelled in the reader's language."""
    async for record in records:
        yield ExportRow(
            reference=record.reference,
            created_at=record.created_at,
            quarter=quarter_name(record.quarter_id, config),
            topic=topic_label(record.topic_id, config, t),
            status=status_label(record.status, t),
            language=record.language or "",
            anonymous=record.anonymous,
            text=record.text or "",
            replies=record.replies,
            last_status_change=record.status_changed_at,
            translation=record.translation or "",
            translated_from=t.language_name(record.translated_from)
            if record.translated_from
            else "",
        )


def _created_range(request: ExportRequest, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """The request's days as [local midnight of the first, local midnight after the last)."""
    created_from = _start_of(request.first_day, tz) if request.first_day else None
    created_before = (
        _start_of(request.last_day + timedelta(days=1), tz) if request.last_day else None
    )
    return created_from, created_before


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight at the start of `day`."""
    return datetime.combine(day, time(0, 0), tzinfo=tz)


async def write_report(
    repos: Repositories,
    t: Translator,
    quarter_ids: Collection[str],
    request: ExportRequest,
    out: Path,
) -> int:
    """Write the export file of these quarters to `out`; return the number of concerns in it."""
    tz = repos.config.timezone
    created_from, created_before = _created_range(request, tz)
    records = repos.export.concerns(
        sorted(quarter_ids), created_from, created_before, repos.translation.staff_language
    )
    # aclosing: a failed export closes its read connection now, not whenever the GC runs.
    async with aclosing(records):
        rows = export_rows(records, repos.config, t)
        return await write_export(request.fmt, rows, out, export_labels(t), tz)


async def write_export(
    fmt: str, rows: AsyncIterable[ExportRow], out: Path, labels: ExportLabels, tz: ZoneInfo
) -> int:
    """Write rows in format `fmt` (one of EXPORT_FORMATS); return the number of data rows."""
    if fmt == "csv":
        return await write_csv(rows, out, labels, tz)
    if fmt == "xlsx":
        return await write_xlsx(rows, out, labels, tz)
    raise ValueError(f"unknown export format {fmt!r}; expected one of {EXPORT_FORMATS}")


# --- what both formats share ---------------------------------------------------------------------

# Characters Excel and LibreOffice would evaluate when a cell starts with them (OWASP).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(text: str) -> str:
    """Prefix text that a spreadsheet would run as a formula with `'` (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_TRIGGERS) else text


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    """Convert an aware datetime to naive wall-clock time in `tz`."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # astimezone() would silently treat a naive value as the server's local time.
        raise ValueError(f"export datetimes must be timezone-aware, got {moment!r}")
    return moment.astimezone(tz).replace(tzinfo=None)


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


def _csv_cells(row: ExportRow, labels: ExportLabels, tz: ZoneInfo) -> list[str]:
    """One row as CSV cells: text made formula-safe, times as local `YYYY-MM-DD HH:MM`."""
    return [
        safe_cell(row.reference),
        _local(row.created_at, tz).isoformat(sep=" ", timespec="minutes"),
        safe_cell(row.quarter),
        safe_cell(row.topic),
        safe_cell(row.status),
        safe_cell(row.language),
        safe_cell(labels.yes if row.anonymous else labels.no),
        safe_cell(row.text),
        str(row.replies),
        _local(row.last_status_change, tz).isoformat(sep=" ", timespec="minutes"),
        safe_cell(row.translation),
        safe_cell(row.translated_from),
    ]


async def write_csv(
    rows: AsyncIterable[ExportRow], out: Path, labels: ExportLabels, tz: ZoneInfo
) -> int:
    """Stream rows to a `;`-separated UTF-8 (BOM) CSV file; return the number of data rows."""
    count = 0
    # The BOM makes Excel detect UTF-8 (umlauts, Arabic); `;` is the separator German Excel
    # expects. errors="replace" keeps a lone surrogate in a text from aborting the export.
    with (
        _atomic_target(out) as part,
        part.open("w", encoding="utf-8-sig", errors="replace", newline="") as fh,
    ):
        writer = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        writer.writerow([safe_cell(header) for header in labels.headers])
        async for row in rows:
            writer.writerow(_csv_cells(row, labels, tz))
            count += 1
    return count


# --- XLSX ----------------------------------------------------------------------------------------

# Excel's limit is counted in UTF-16 code units, so an emoji takes two.
XLSX_CELL_LIMIT = 32_767
# Characters XML 1.0 cannot hold, plus lone surrogates, which cannot even be encoded as UTF-8.
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Excel's sheet size including the header row; XlsxWriter silently drops cells beyond it.
_XLSX_MAX_ROWS = 1_048_576
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
# Widths in characters, in ExportRow order; a longer header widens its column.
_XLSX_WIDTHS = (10, 17, 20, 20, 16, 8, 10, 80, 8, 17, 80, 12)


def _xlsx_text(text: str) -> str:
    """Make text storable in an XLSX cell: XML-safe and within Excel's length limit."""
    # XlsxWriter would store CR as `_x000D_`, which readers like openpyxl show literally;
    # Excel breaks lines on LF alone.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # XlsxWriter would write these as `_xHHHH_` escapes that Excel decodes back into the
    # invisible control character; a visible replacement character is more useful to staff.
    # (XlsxWriter itself escapes literal `_xHHHH_` text, so that needs no handling here.)
    return shorten(_XML_ILLEGAL_RE.sub("\ufffd", text), XLSX_CELL_LIMIT)


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
        sheet.write_string(r, 10, text(row.translation))
        sheet.write_string(r, 11, text(row.translated_from))

    def finish(self) -> None:
        """Set the autofilter over the header and every written row."""
        self.sheet.autofilter(0, 0, self.rows, COLUMN_COUNT - 1)


async def write_xlsx(
    rows: AsyncIterable[ExportRow], out: Path, labels: ExportLabels, tz: ZoneInfo
) -> int:
    """Stream rows to a single-sheet XLSX workbook; return the number of data rows."""
    with _atomic_target(out) as part, tempfile.TemporaryDirectory() as scratch:
        # Imported here: only an export needs XlsxWriter, so the running bot loads it on the first.
        # It ships inline annotations but no py.typed marker.
        from xlsxwriter import Workbook  # type: ignore[import-untyped]

        # constant_memory flushes each finished row to a scratch file; the private scratch
        # directory guarantees that file is removed even when the export fails midway.
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
