"""CSV and XLSX export: hostile cell contents, typed XLSX columns, atomic output, streaming."""

from __future__ import annotations

import csv
import re
import tracemalloc
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.export import (
    EXPORT_FORMATS,
    XLSX_CELL_LIMIT,
    ExportLabels,
    ExportRow,
    safe_cell,
    write_csv,
    write_export,
    write_xlsx,
)

BERLIN = ZoneInfo("Europe/Berlin")
HEADERS = (
    "Nummer",
    "Eingegangen",
    "Quartier",
    "Thema",
    "Status",
    "Sprache",
    "Anonym",
    "Anliegen",
    "Antworten",
    "Letzte Statusänderung",
    "Maschinelle Übersetzung",
    "Originalsprache",
)
LABELS = ExportLabels(headers=HEADERS, yes="ja", no="nein", sheet_name="Anliegen")

SUMMER = datetime(2024, 7, 1, 12, 30, tzinfo=UTC)  # CEST: 14:30 in Bremen
WINTER = datetime(2024, 1, 15, 12, 30, tzinfo=UTC)  # CET: 13:30 in Bremen
LONG_TEXT = "Lärm " * 8_000  # 40,000 characters, over Excel's 32,767 cell limit

# Written deliberately without using safe_cell, so the tests pin the rule rather than echo it.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
DANGEROUS = [
    '=HYPERLINK("http://evil","x")',
    "=1+1",
    "+49 421 123",
    "-5",
    "@SUM(A1)",
    "\tTab vorne",
    "\rCR vorne",
    "\nLF vorne",
]
TRICKY_BUT_SAFE = [
    "Straße; Ecke Weg",
    'Er sagte "Hallo" und ""ging""',
    "Zeile 1\nZeile 2",
    "Zeile 1\r\nZeile 2\r\n",
    'مرحبا "BV-0042" ;',
    "👩‍👩‍👧 🚲 Fahrradständer fehlt",
    "",
    "Steuerzeichen \x00\x01\x08\x0b\x0c\x1f\x7f Ende",
    "  führende und folgende Leerzeichen  ",
    "a=1+1 ist kein Anfang",
    "http://example.org",
    "0042",
    "1e5",
    "TRUE",
]
HOSTILE = DANGEROUS + TRICKY_BUT_SAFE
# Reference, quarter, topic, status, language, yes/no flag, concern text.
TEXT_COLUMNS = (0, 2, 3, 4, 5, 6, 7)


def make_row(i: int, text: str, other: str, created_at: datetime = SUMMER) -> ExportRow:
    """A row with `text` as concern text and `other` in every other text column."""
    return ExportRow(
        reference=other or f"BV-{i:04d}",
        created_at=created_at,
        quarter=other,
        topic=other,
        status=other,
        language=other,
        anonymous=i % 2 == 0,
        text=text,
        replies=i,
        last_status_change=created_at + timedelta(days=1),
    )


def hostile_rows() -> list[ExportRow]:
    """Every hostile value once as concern text and once in all the short text columns."""
    rows = [make_row(i, text, "BV-0042") for i, text in enumerate(HOSTILE)]
    rows += [make_row(len(rows) + i, "ok", other) for i, other in enumerate(HOSTILE)]
    rows.append(make_row(len(rows), LONG_TEXT, "lang", created_at=WINTER))
    return rows


async def stream(rows: Iterable[ExportRow]) -> AsyncIterator[ExportRow]:
    """Yield rows like the storage layer does."""
    for row in rows:
        yield row


async def generated(count: int) -> AsyncIterator[ExportRow]:
    """Yield `count` fresh rows without keeping any of them."""
    for i in range(count):
        text = f"Anliegen {i}: Die Straßenlaterne vor Hausnummer {i % 97} ist seit Tagen aus. " * 3
        yield make_row(i, text, f"BV-{i:06d}", created_at=SUMMER + timedelta(minutes=i))


def expected_csv(value: str) -> str:
    """What a text cell must read back as from the CSV."""
    return "'" + value if value.startswith(TRIGGERS) else value


def read_csv(path: Path) -> list[list[str]]:
    """Read an export back the way the brief prescribes."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=";"))


def text_cells(row: ExportRow, labels: ExportLabels = LABELS) -> list[str]:
    """The text values of a row, in the order of TEXT_COLUMNS."""
    flag = labels.yes if row.anonymous else labels.no
    return [row.reference, row.quarter, row.topic, row.status, row.language, flag, row.text]


def expected_xlsx(value: str) -> str:
    """What a (short) text cell must read back as from the XLSX: CR→LF, XML-illegal→U+FFFD."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "\ufffd", value)


def utf16_len(text: str) -> int:
    """Length as Excel counts it."""
    return len(text.encode("utf-16-le")) // 2


def files_in(directory: Path) -> list[str]:
    """Names in `directory`, to show that no temporary file was left behind."""
    return sorted(p.name for p in directory.iterdir())


def open_sheet(path: Path) -> Worksheet:
    """Load the export's only worksheet (not read-only: freeze panes and filter are needed)."""
    workbook = load_workbook(path)
    assert len(workbook.worksheets) == 1
    sheet = workbook.worksheets[0]
    assert isinstance(sheet, Worksheet)
    return sheet


# --- safe_cell -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", DANGEROUS)
def test_safe_cell_prefixes_formula_triggers(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", [*TRICKY_BUT_SAFE, "'=schon zitiert", " =1+1"])
def test_safe_cell_keeps_other_text(value: str) -> None:
    assert safe_cell(value) == value


# --- CSV -----------------------------------------------------------------------------------------


async def test_csv_round_trips_hostile_cells(tmp_path: Path) -> None:
    rows = hostile_rows()
    out = tmp_path / "anliegen.csv"

    assert await write_csv(stream(rows), out, LABELS, BERLIN) == len(rows)

    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.endswith(b"\r\n")
    header, *body = read_csv(out)
    assert header == list(HEADERS)
    assert len(body) == len(rows)
    for row, cells in zip(rows, body, strict=True):
        assert len(cells) == 12
        assert [cells[c] for c in TEXT_COLUMNS] == [expected_csv(v) for v in text_cells(row)]
        assert cells[8] == str(row.replies)
    # The long text is kept whole: CSV has no cell limit.
    assert body[-1][7] == LONG_TEXT


async def test_csv_writes_local_wall_time(tmp_path: Path) -> None:
    out = tmp_path / "zeiten.csv"
    rows = [make_row(0, "Sommer", "BV-0001", SUMMER), make_row(1, "Winter", "BV-0002", WINTER)]

    await write_csv(stream(rows), out, LABELS, BERLIN)

    _, summer, winter = read_csv(out)
    assert (summer[1], summer[9]) == ("2024-07-01 14:30", "2024-07-02 14:30")
    assert (winter[1], winter[9]) == ("2024-01-15 13:30", "2024-01-16 13:30")


async def test_csv_headers_and_flags_are_made_safe(tmp_path: Path) -> None:
    labels = ExportLabels(headers=("=Nr", *HEADERS[1:]), yes="+ja", no="-nein")
    out = tmp_path / "labels.csv"

    rows = [make_row(0, "x", "BV-1"), make_row(1, "y", "BV-2")]
    await write_csv(stream(rows), out, labels, BERLIN)

    header, yes_row, no_row = read_csv(out)
    assert header[0] == "'=Nr"
    assert (yes_row[6], no_row[6]) == ("'+ja", "'-nein")


async def test_csv_with_no_rows_has_only_the_header(tmp_path: Path) -> None:
    out = tmp_path / "leer.csv"

    assert await write_csv(stream([]), out, LABELS, BERLIN) == 0

    assert read_csv(out) == [list(HEADERS)]


# --- XLSX ----------------------------------------------------------------------------------------


async def test_xlsx_keeps_hostile_text_as_plain_strings(tmp_path: Path) -> None:
    rows = hostile_rows()
    out = tmp_path / "anliegen.xlsx"

    assert await write_xlsx(stream(rows), out, LABELS, BERLIN) == len(rows)

    sheet = open_sheet(out)
    assert sheet.title == "Anliegen"
    assert sheet.max_row == len(rows) + 1
    assert [cell.value for cell in sheet[1]] == list(HEADERS)
    assert all(cell.font.b for cell in sheet[1])
    for row, cells in zip(rows, sheet.iter_rows(min_row=2), strict=True):
        assert all(cell.data_type != "f" for cell in cells)
        for column, value in zip(TEXT_COLUMNS, text_cells(row), strict=True):
            cell = cells[column]
            assert cell.data_type == "s", cell.coordinate
            if value is not LONG_TEXT:
                assert cell.value == expected_xlsx(value), cell.coordinate
        assert cells[8].value == row.replies
        assert type(cells[8].value) is int


async def test_xlsx_text_without_cr_or_control_chars_reads_back_exactly(tmp_path: Path) -> None:
    plain = [v for v in HOSTILE if "\r" not in v and expected_xlsx(v) == v]
    assert "=1+1" in plain and '=HYPERLINK("http://evil","x")' in plain
    out = tmp_path / "exakt.xlsx"

    await write_xlsx(stream(make_row(i, v, v) for i, v in enumerate(plain)), out, LABELS, BERLIN)

    sheet = open_sheet(out)
    assert [row[7].value for row in sheet.iter_rows(min_row=2)] == plain
    assert [row[2].value for row in sheet.iter_rows(min_row=2)] == plain


async def test_xlsx_truncates_overlong_text(tmp_path: Path) -> None:
    emoji = "🚲" * 20_000  # 40,000 UTF-16 units although only 20,000 characters
    out = tmp_path / "lang.xlsx"

    rows = [make_row(0, LONG_TEXT, "BV-1"), make_row(1, emoji, "BV-2")]
    await write_xlsx(stream(rows), out, LABELS, BERLIN)

    sheet = open_sheet(out)
    for original, cell in zip((LONG_TEXT, emoji), (sheet["H2"], sheet["H3"]), strict=True):
        value = cell.value
        assert isinstance(value, str)
        assert len(value) <= XLSX_CELL_LIMIT
        assert utf16_len(value) <= XLSX_CELL_LIMIT
        assert value.endswith("…")
        assert original.startswith(value[:-1])
        assert utf16_len(value) > XLSX_CELL_LIMIT - 2  # cut at the limit, not far before it


async def test_xlsx_dates_are_typed_local_datetimes(tmp_path: Path) -> None:
    out = tmp_path / "zeiten.xlsx"
    rows = [make_row(0, "Sommer", "BV-0001", SUMMER), make_row(1, "Winter", "BV-0002", WINTER)]

    await write_xlsx(stream(rows), out, LABELS, BERLIN)

    sheet = open_sheet(out)
    summer, winter = sheet["B2"], sheet["B3"]
    assert summer.value == datetime(2024, 7, 1, 14, 30)
    assert winter.value == datetime(2024, 1, 15, 13, 30)
    assert sheet["J2"].value == datetime(2024, 7, 2, 14, 30)
    assert sheet["J3"].value == datetime(2024, 1, 16, 13, 30)
    for cell in (summer, winter, sheet["J2"], sheet["J3"]):
        assert isinstance(cell.value, datetime)
        assert cell.value.tzinfo is None
        assert cell.number_format == "yyyy-mm-dd hh:mm"


async def test_xlsx_header_is_frozen_and_filtered(tmp_path: Path) -> None:
    out = tmp_path / "filter.xlsx"

    await write_xlsx(stream(make_row(i, "x", f"BV-{i}") for i in range(5)), out, LABELS, BERLIN)

    sheet = open_sheet(out)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:L6"
    assert sheet.column_dimensions["H"].width > sheet.column_dimensions["A"].width
    # "Letzte Statusänderung" must fit its column.
    assert sheet.column_dimensions["J"].width >= len(HEADERS[9])


async def test_xlsx_with_no_rows_filters_the_header_only(tmp_path: Path) -> None:
    out = tmp_path / "leer.xlsx"

    assert await write_xlsx(stream([]), out, LABELS, BERLIN) == 0

    sheet = open_sheet(out)
    assert sheet.auto_filter.ref == "A1:L1"
    assert [cell.value for cell in sheet[1]] == list(HEADERS)
    assert sheet.max_row == 1


async def test_xlsx_escapes_excel_escape_lookalikes(tmp_path: Path) -> None:
    # Excel decodes `_xHHHH_` in cell text; XlsxWriter protects literal ones as `_x005F_xHHHH_`.
    # openpyxl does not decode inline strings, so decode the way Excel does before comparing.
    out = tmp_path / "escape.xlsx"

    await write_xlsx(stream([make_row(0, "Code _x0041_ bitte", "BV-1")]), out, LABELS, BERLIN)

    stored = open_sheet(out)["H2"].value
    assert isinstance(stored, str)
    decoded = re.sub("_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m[1], 16)), stored)
    assert decoded == "Code _x0041_ bitte"


async def test_xlsx_refuses_more_rows_than_excel_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.export._XLSX_MAX_ROWS", 3)  # header + 2 rows
    out = tmp_path / "voll.xlsx"
    rows = [make_row(i, "x", f"BV-{i}") for i in range(3)]

    assert await write_xlsx(stream(rows[:2]), out, LABELS, BERLIN) == 2
    with pytest.raises(ValueError, match="at most 2 rows"):
        await write_xlsx(stream(rows), out, LABELS, BERLIN)


# --- both formats --------------------------------------------------------------------------------


async def test_lone_surrogates_do_not_abort_the_export(tmp_path: Path) -> None:
    rows = [make_row(0, "kaputt \ud800 Ende", "BV-1")]

    await write_csv(stream(rows), tmp_path / "s.csv", LABELS, BERLIN)
    await write_xlsx(stream(rows), tmp_path / "s.xlsx", LABELS, BERLIN)

    assert read_csv(tmp_path / "s.csv")[1][7] == "kaputt ? Ende"
    assert open_sheet(tmp_path / "s.xlsx")["H2"].value == "kaputt \ufffd Ende"


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
async def test_write_export_dispatches(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"export.{fmt}"

    assert await write_export(fmt, stream(hostile_rows()[:3]), out, LABELS, BERLIN) == 3

    assert out.stat().st_size > 0


async def test_write_export_rejects_unknown_format(tmp_path: Path) -> None:
    out = tmp_path / "export.ods"

    with pytest.raises(ValueError, match="ods"):
        await write_export("ods", stream([]), out, LABELS, BERLIN)

    assert not out.exists()


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
async def test_failed_export_leaves_previous_file_untouched(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"export.{fmt}"
    out.write_bytes(b"previous report")

    async def failing() -> AsyncIterator[ExportRow]:
        yield make_row(0, "erste Zeile", "BV-1")
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        await write_export(fmt, failing(), out, LABELS, BERLIN)

    assert out.read_bytes() == b"previous report"
    assert files_in(tmp_path) == [out.name]


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
async def test_naive_datetimes_are_rejected(tmp_path: Path, fmt: str) -> None:
    naive = replace(make_row(0, "x", "BV-1"), created_at=datetime(2024, 7, 1, 12, 0))
    out = tmp_path / f"export.{fmt}"

    with pytest.raises(ValueError, match="timezone-aware"):
        await write_export(fmt, stream([naive]), out, LABELS, BERLIN)

    assert files_in(tmp_path) == []


def test_labels_need_one_header_per_column() -> None:
    with pytest.raises(ValueError, match="12 headers"):
        ExportLabels(headers=HEADERS[:9], yes="ja", no="nein")


@pytest.mark.parametrize("name", ["", "x" * 32, "Anliegen/2024", "'Anliegen", "Anliegen?"])
def test_labels_reject_invalid_sheet_names(name: str) -> None:
    with pytest.raises(ValueError, match="worksheet name"):
        ExportLabels(headers=HEADERS, yes="ja", no="nein", sheet_name=name)


# --- streaming -----------------------------------------------------------------------------------

# Measured peaks are below 1 MB. Holding 100,000 CSV rows of ~250 characters would take over
# 50 MB; XlsxWriter without constant_memory peaks above 30 MB for the 20,000 XLSX rows.
PEAK_LIMIT = 10 * 1024 * 1024


async def traced_peak(fmt: str, count: int, out: Path) -> int:
    """Export `count` generated rows and return the peak traced Python memory in bytes."""
    tracemalloc.start()
    try:
        assert await write_export(fmt, generated(count), out, LABELS, BERLIN) == count
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_csv_streams_100k_rows(tmp_path: Path) -> None:
    out = tmp_path / "gross.csv"

    peak = await traced_peak("csv", 100_000, out)

    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB"
    with out.open(encoding="utf-8-sig", newline="") as fh:
        assert sum(1 for _ in csv.reader(fh, delimiter=";")) == 100_001


async def test_xlsx_streams_20k_rows(tmp_path: Path) -> None:
    # 20,000 rather than 100,000 rows: XlsxWriter under tracemalloc needs ~25 s for 100k.
    out = tmp_path / "gross.xlsx"

    peak = await traced_peak("xlsx", 20_000, out)

    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB"
    workbook = load_workbook(out, read_only=True)
    sheet = workbook.worksheets[0]
    assert sheet.max_row == 20_001
    workbook.close()
