"""The fast CSV export (SQLite renders labels and local times) writes what the row path writes."""

from __future__ import annotations

import csv
import io
import random
import tracemalloc
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pytest

from bot.cli import _export_translator
from bot.concerns import status_label, topic_label
from bot.config import Config, load_config
from bot.export import csv_cell, safe_cell, utc_offset_periods, write_export
from bot.i18n import Catalogs, Translator
from bot.reports import ExportRequest, export_labels, export_rows, write_concerns_report
from bot.repositories import Repositories
from storage.concerns import STATUSES
from storage.db import to_db_time
from tests.test_export import HOSTILE

BERLIN = ZoneInfo("Europe/Berlin")
REPO = Path(__file__).resolve().parent.parent
QUARTERS = ["bahnhofsvorstadt", "huenertshagen"]

_INSERT = (
    "INSERT INTO concerns (id, reference, quarter_id, number, topic_id, resident_id, language, "
    "text, contact_allowed, status, created_at, status_changed_at) "
    "VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)"
)
_REPLY = "INSERT INTO concern_events (concern_id, kind, text, created_at) VALUES (?, ?, 'x', ?)"

# Berlin's switches of 2024 happen at 01:00 UTC: one second before and at each of them.
DST_TIMES = {
    "2024-03-31T00:59:59Z": "2024-03-31 01:59",
    "2024-03-31T01:00:00Z": "2024-03-31 03:00",
    "2024-10-27T00:59:59Z": "2024-10-27 02:59",
    "2024-10-27T01:00:00Z": "2024-10-27 02:00",
    "2024-10-27T01:59:59Z": "2024-10-27 02:59",
}
# Outside the SQL table, or not as to_db_time writes times: Python converts these one by one.
ODD_TIMES = [
    "1999-12-31T23:30:00Z",
    "2089-07-01T12:00:00Z",
    "2024-07-01T12:30:00+02:00",
    "2024-03-31T02:30:00.5+01:00",
    "2024-10-27T01:00:00.000Z",
]


@pytest.fixture
async def opened(repos: Repositories) -> Any:
    """The repositories with their database open."""
    await repos.db.open()
    yield repos
    await repos.db.close()


class Stored(NamedTuple):
    """A concern row as stored (in _INSERT's order)."""

    id: int
    reference: str
    quarter: str
    number: int
    topic: str
    language: str | None
    text: str | None
    contact: int
    status: str
    created: str
    changed: str


def concern(
    i: int,
    *,
    quarter: str = "bahnhofsvorstadt",
    topic: str = "housing",
    status: str = "new",
    created: str = "2024-07-01T12:30:00Z",
    changed: str | None = None,
    text: str | None = "Text",
    language: str | None = "de",
    contact: int = 0,
) -> Stored:
    """One concern to insert."""
    reference = f"BV-{i:05d}"
    return Stored(
        i,
        reference,
        quarter,
        i,
        topic,
        language,
        text,
        contact,
        status,
        created,
        changed or created,
    )


async def insert(repos: Repositories, rows: Sequence[Stored], replies: int = 0) -> None:
    """Insert concerns, and `replies` replies (plus a note that does not count) to the first."""
    await repos.db.executemany(_INSERT, rows)
    events = [(rows[0].id, "reply", "2024-07-01T12:00:00Z")] * replies
    await repos.db.executemany(_REPLY, [*events, (rows[0].id, "note", "2024-07-01T12:00:00Z")])


def translator(repos: Repositories) -> Translator:
    """German, as for staff."""
    return repos.catalogs.translator("de")


async def both_paths(
    repos: Repositories, tmp_path: Path, request: ExportRequest, quarters: Sequence[str] = QUARTERS
) -> tuple[bytes, bytes]:
    """(fast path, row path) output for the same request."""
    config, concerns, t = repos.config, repos.concerns, translator(repos)
    fast, rows = tmp_path / "fast.csv", tmp_path / "rows.csv"
    fast_count = await write_concerns_report(config, concerns, t, quarters, request, fast)
    records = export_rows(config, concerns, t, sorted(quarters), request)
    row_count = await write_export("csv", records, rows, export_labels(t), config.timezone)
    assert fast_count == row_count
    return fast.read_bytes(), rows.read_bytes()


def leftovers(directory: Path) -> list[str]:
    """Temporary export files left in `directory`."""
    return [p.name for p in directory.iterdir() if p.name.endswith(".part")]


def read(content: bytes) -> list[list[str]]:
    """CSV cells of an export."""
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""), delimiter=";"))


# --- csv_cell ------------------------------------------------------------------------------------


def writer_cell(value: str) -> str:
    """What csv.writer makes of a safe_cell'd value inside a row."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerow([safe_cell(value), "x"])
    return buffer.getvalue().removesuffix(";x\r\n")


def random_texts(count: int) -> Iterator[str]:
    """Short strings full of what CSV writers must quote, escape or prefix."""
    alphabet = ";\"\r\n\t=+-@' ,a\x00ä🚲\u202e\ufeff"
    rng = random.Random(4711)
    for _ in range(count):
        yield "".join(rng.choices(alphabet, k=rng.randint(0, 8)))


@pytest.mark.parametrize("value", [*HOSTILE, "", " ", "'", '"', ";", "\r", "\n", "=", 'a"b;c'])
def test_csv_cell_matches_csv_writer(value: str) -> None:
    assert csv_cell(value) == writer_cell(value)


def test_csv_cell_matches_csv_writer_on_random_text() -> None:
    for value in random_texts(5000):
        assert csv_cell(value) == writer_cell(value), repr(value)


# --- time-zone periods ---------------------------------------------------------------------------


def offset(tz: ZoneInfo, moment: datetime) -> int:
    """zoneinfo's UTC offset in seconds."""
    value = moment.astimezone(tz).utcoffset()
    assert value is not None
    return int(value.total_seconds())


def utc(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("Europe/Berlin", utc(2010), utc(2036)),
        ("Asia/Gaza", utc(2039), utc(2043)),  # predicted Ramadan breaks: periods of a week
        # Brazil's DST week of October 2000, starting 30 minutes before it: weekly probes would
        # step right over it.
        ("America/Boa_Vista", utc(2000, 10, 8, 3, 30), utc(2001)),
        ("Australia/Adelaide", utc(2020), utc(2023)),  # +9:30/+10:30, switching at half past
        ("Australia/Lord_Howe", utc(2020), utc(2023)),  # a 30-minute DST shift
        ("America/St_Johns", utc(2020), utc(2022)),
        ("Africa/Casablanca", utc(2020), utc(2025)),
        ("UTC", utc(2020), utc(2021)),
    ],
)
def test_offset_periods_match_zoneinfo(zone: str, start: datetime, end: datetime) -> None:
    tz = ZoneInfo(zone)

    periods = utc_offset_periods(tz, start, end)

    assert periods[0][0] == start
    second = timedelta(seconds=1)
    for (begin, seconds), (after, _) in zip(periods, [*periods[1:], (end, 0)], strict=True):
        assert begin < after
        assert offset(tz, begin) == seconds == offset(tz, after - second)
        if begin != start:
            assert offset(tz, begin - second) != seconds, begin  # a real change, to the second
        moment = begin
        while moment < after:  # hourly in between: nothing was missed
            assert offset(tz, moment) == seconds, moment
            moment += timedelta(hours=1)


# --- fast path against the row path --------------------------------------------------------------


def varied_rows(config: Config) -> list[Stored]:
    """Every status and topic, hostile texts and languages, DST and odd times, a removed topic."""
    topics = [topic.id for topic in config.topics] + ["removed-topic"]
    times = [*DST_TIMES, *ODD_TIMES]
    texts: list[str | None] = [*HOSTILE, None, "Lärm " * 900]
    rows = []
    for i in range(1, 61):
        rows.append(
            concern(
                i,
                quarter=QUARTERS[i % 2],
                topic=topics[i % len(topics)],
                status=STATUSES[i % len(STATUSES)],
                created=times[i % len(times)],
                changed=times[(i * 7) % len(times)],
                text=texts[i % len(texts)],
                language=[None, "de", "ar", "=cmd", 'x"y'][i % 5],
                contact=i % 3 % 2,
            )
        )
    rows.append(concern(61, quarter="atlantis"))  # a quarter since removed from the config
    return rows


@pytest.mark.parametrize(
    "request_",
    [
        ExportRequest(),
        ExportRequest(
            first_day=datetime(2024, 3, 31).date(), last_day=datetime(2024, 10, 27).date()
        ),
    ],
)
async def test_fast_csv_is_byte_identical_to_row_csv(
    opened: Repositories, tmp_path: Path, request_: ExportRequest
) -> None:
    await insert(opened, varied_rows(opened.config), replies=3)

    fast, rows = await both_paths(opened, tmp_path, request_, [*QUARTERS, "atlantis"])

    assert fast == rows
    assert len(read(fast)) > 10


async def test_fast_csv_labels_times_and_cells(opened: Repositories, tmp_path: Path) -> None:
    rows = varied_rows(opened.config)
    await insert(opened, rows, replies=3)

    fast, _ = await both_paths(opened, tmp_path, ExportRequest(), [*QUARTERS, "atlantis"])

    header, *body = read(fast)
    assert header[:4] == ["Nummer", "Eingegangen am", "Quartier", "Thema"]
    assert len(body) == len(rows)
    t = translator(opened)
    by_reference = {cells[0]: cells for cells in body}
    for row in rows:
        cells = by_reference[row.reference]
        assert cells[3] == topic_label(row.topic, opened.config, t)
        assert cells[4] == status_label(row.status, t)
        assert cells[6] == ("nein" if row.contact else "ja")
        text, language = row.text or "", row.language or ""
        assert (cells[7], cells[5]) == (safe_cell(text), safe_cell(language))
        for stored, cell in ((row.created, cells[1]), (row.changed, cells[9])):
            local = datetime.fromisoformat(stored).astimezone(BERLIN)
            assert cell == DST_TIMES.get(stored, local.strftime("%Y-%m-%d %H:%M")), stored
    assert {cells[4] for cells in body} == {"neu", "in Bearbeitung", "erledigt", "abgelehnt"}
    assert by_reference["BV-00001"][8] == "3"  # replies only; the note does not count
    assert by_reference["BV-00061"][2] == "atlantis"
    assert by_reference["BV-00013"][3] == "Wohnen"
    assert by_reference["BV-00012"][3] == "removed-topic"


def transition_times(count: int) -> Iterator[str]:
    """Times every 7 minutes around Berlin's switches of 2010-2035, then random ones."""
    rng = random.Random(20_261_123)
    for begin, _ in utc_offset_periods(
        BERLIN, datetime(2010, 1, 1, tzinfo=UTC), datetime(2036, 1, 1, tzinfo=UTC)
    )[1:]:
        for step in range(-20, 20):
            yield to_db_time(begin + timedelta(minutes=7 * step, seconds=rng.randint(0, 59)))
    for _ in range(count):
        yield to_db_time(
            datetime(2010, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 800_000_000))
        )


async def test_every_row_time_matches_zoneinfo(opened: Repositories, tmp_path: Path) -> None:
    times = list(transition_times(1000))
    rows = [
        concern(i, created=created, changed=times[-i]) for i, created in enumerate(times, start=1)
    ]
    await insert(opened, rows)

    fast, rows_path = await both_paths(opened, tmp_path, ExportRequest())

    _, *body = read(fast)
    assert len(body) == len(rows) > 2000
    for row, cells in zip(rows, body, strict=True):
        for stored, cell in ((row.created, cells[1]), (row.changed, cells[9])):
            local = datetime.fromisoformat(stored).astimezone(BERLIN)
            assert cell == local.strftime("%Y-%m-%d %H:%M"), stored
    assert fast == rows_path


async def test_naive_stored_time_fails_like_the_row_path(
    opened: Repositories, tmp_path: Path
) -> None:
    await insert(opened, [concern(1), concern(2, changed="2024-07-01 12:30:00")])
    out = tmp_path / "export.csv"
    out.write_bytes(b"previous report")
    t = translator(opened)

    with pytest.raises(ValueError, match="timezone-aware"):
        await write_concerns_report(
            opened.config, opened.concerns, t, QUARTERS, ExportRequest(), out
        )

    assert out.read_bytes() == b"previous report"
    assert not leftovers(tmp_path)


async def test_fast_csv_streams(opened: Repositories, tmp_path: Path) -> None:
    text = "Die Straßenlaterne vor Hausnummer 12 ist seit Tagen aus; bitte prüfen. " * 6
    await insert(opened, [concern(i, text=f"{i}: {text}") for i in range(1, 30_001)])
    out = tmp_path / "gross.csv"
    t = translator(opened)

    tracemalloc.start()
    try:
        count = await write_concerns_report(
            opened.config, opened.concerns, t, QUARTERS, ExportRequest(), out
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert count == 30_000
    # The file holds 13 MB; batches of 2,000 rows keep the peak near 2 MB.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert len(read(out.read_bytes())) == 30_001


# --- the CLI's translator ------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["de", "en", "tr", "ar", "uk", "ru", "bg", "ro", "pl", "xx"])
def test_export_translator_is_the_one_all_catalogs_give(language: str) -> None:
    config = load_config(REPO / "config.example.toml")
    everything = Catalogs.load(config.languages, config.default_language, config.timezone)

    t = _export_translator(config, language)

    expected = everything.translator(language)
    assert t.language == expected.language
    assert export_labels(t) == export_labels(expected)
