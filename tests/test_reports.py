"""/export and `quartierbot export`: filters, German labels, local times, hostile text kept safe."""

from __future__ import annotations

import asyncio
import csv
import gettext
import io
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.export import ExportRequest, ExportRequestError, parse_export_arguments, write_report
from bot.i18n import Translator
from bot.repositories import Repositories
from storage.concerns import STATUSES
from tests.conftest import ADMIN_ID
from tests.recording import Person
from tests.test_export import HOSTILE as HOSTILE_TEXTS
from tests.test_export import expected_csv

HOSTILE = '=HYPERLINK("http://evil.example","click"); "quoted"\nمرحبا 🚲'
QUARTERS = ("bahnhofsvorstadt", "huenertshagen")
EN = Translator("en", gettext.NullTranslations(), ZoneInfo("Europe/Berlin"))


async def seed(repos: Repositories) -> None:
    """Two concerns: a hostile one in the Bahnhofsvorstadt, a plain one in Hünertshagen."""
    for user_id, quarter, prefix, text in (
        (1, "bahnhofsvorstadt", "BV", HOSTILE),
        (2, "huenertshagen", "HU", "plain"),
    ):
        await repos.residents.set_quarter(user_id, quarter)
        await repos.concerns.start_draft(user_id, quarter)
        await repos.concerns.update_draft(user_id, topic_id="housing", text=text, contact_allowed=0)
        await repos.concerns.submit(user_id, prefix, "ar")


def document(admin: Person) -> bytes:
    """The newest file the bot sent to the admin."""
    keys = [key for key in admin.request.files if key[0] == admin.user_id]
    return admin.request.files[max(keys)][1]


async def test_export_csv_from_telegram_is_safe_and_german(
    admin: Person, repos: Repositories
) -> None:
    await seed(repos)
    calls = await admin.send("/export csv")
    (sent,) = [c for c in calls if c.method == "sendDocument"]
    assert sent.params["caption"] == "2 Anliegen"
    content = document(admin)
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][:4] == ["Nummer", "Eingegangen am", "Quartier", "Thema"]
    bv = rows[1]
    assert bv[0] == "BV-0001" and bv[3] == "Wohnen" and bv[4] == "neu" and bv[6] == "ja"
    assert bv[7] == "'" + HOSTILE  # the formula prefix is neutralised, everything else intact
    entry = (await repos.audit.recent())[0]
    assert (entry.actor_id, entry.action, entry.detail["rows"]) == (ADMIN_ID, "export", 2)


async def test_export_xlsx_filters_by_quarter(
    admin: Person, repos: Repositories, tmp_path: Path
) -> None:
    await seed(repos)
    await admin.send("/export xlsx bahnhofsvorstadt")
    path = tmp_path / "out.xlsx"
    path.write_bytes(document(admin))
    sheet = load_workbook(path).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 2 and values[1][0] == "BV-0001"
    text_cell = sheet.cell(row=2, column=8)
    assert text_cell.data_type == "s" and text_cell.value == HOSTILE
    assert sheet.freeze_panes == "A2"


async def test_export_in_a_group_is_refused(admin: Person, repos: Repositories) -> None:
    calls = await admin.in_chat(-100500).send("/export")
    assert [c.method for c in calls] == ["sendMessage"]
    assert calls[0].params["text"] == "Bitte nutzen Sie /export im privaten Chat mit mir."


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ([], ExportRequest()),
        (["xlsx"], ExportRequest(fmt="xlsx")),
        (
            ["from", "2026-01-01", "to", "2026-06-30", "huenertshagen", "CSV"],
            ExportRequest("csv", date(2026, 1, 1), date(2026, 6, 30), "huenertshagen"),
        ),
    ],
)
def test_export_arguments(tokens: list[str], expected: ExportRequest) -> None:
    assert parse_export_arguments(tokens, QUARTERS, EN) == expected


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (["pdf"], "I don't understand “pdf”."),
        (["from", "31.2.2026"], "I could not read the date “31.2.2026”."),
        (["from", "2026-02-01", "to", "2026-01-01"], "The end date is before the start date."),
        (["atlantis"], "I don't understand “atlantis”."),
    ],
)
def test_bad_export_arguments(tokens: list[str], message: str) -> None:
    with pytest.raises(ExportRequestError) as raised:
        parse_export_arguments(tokens, QUARTERS, EN)
    assert str(raised.value).startswith(message)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`quartierbot export …` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "export", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_cli_export_for_cron(repos: Repositories, config_path: Path, tmp_path: Path) -> None:
    await repos.db.open()
    await seed(repos)
    await repos.db.close()
    out = tmp_path / "report.csv"
    result = await asyncio.to_thread(
        run_cli,
        "--config",
        str(config_path),
        "--format",
        "csv",
        "--out",
        str(out),
        "--quarter",
        "huenertshagen",
        "--from",
        "2020-01-01",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"1 concerns written to {out}"
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert [row[0] for row in rows] == ["Nummer", "HU-0001"]
    bad = await asyncio.to_thread(
        run_cli, "--config", str(config_path), "--out", str(out), "--quarter", "atlantis"
    )
    assert bad.returncode == 2 and "unknown quarter 'atlantis'" in bad.stderr
    english = tmp_path / "english.csv"
    result = await asyncio.to_thread(
        run_cli, "--config", str(config_path), "--out", str(english), "--language", "en"
    )
    assert result.returncode == 0, result.stderr
    header = english.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("Reference;Created at;Quarter;Topic")


# --- from the database to the file ---------------------------------------------------------------

_INSERT = (
    "INSERT INTO concerns (id, reference, quarter_id, number, topic_id, resident_id, language, "
    "text, contact_allowed, status, created_at, status_changed_at) "
    "VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)"
)
_EVENT = "INSERT INTO concern_events (concern_id, kind, text, created_at) VALUES (?, ?, 'x', ?)"

# Bremen's clock changes of 2024 happen at 01:00 UTC: a second before and at each of them.
DST_TIMES = {
    "2024-03-31T00:59:59Z": "2024-03-31 01:59",
    "2024-03-31T01:00:00Z": "2024-03-31 03:00",
    "2024-10-27T00:59:59Z": "2024-10-27 02:59",
    "2024-10-27T01:00:00Z": "2024-10-27 02:00",
    "2024-10-27T01:59:59Z": "2024-10-27 02:59",
    "2024-01-15T12:30:00Z": "2024-01-15 13:30",
    "2024-07-01T12:30:00Z": "2024-07-01 14:30",
}
STATUS_DE = {
    "new": "neu",
    "in_progress": "in Bearbeitung",
    "done": "erledigt",
    "rejected": "abgelehnt",
}
QUARTER_NAMES = {
    "bahnhofsvorstadt": "Bahnhofsvorstadt",
    "huenertshagen": "Hünertshagen",
    "atlantis": "atlantis",  # since removed from the config: its id stands in
}


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
    return Stored(
        i,
        f"BV-{i:05d}",
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


def leftovers(directory: Path) -> list[str]:
    """Temporary export files left in `directory`."""
    return [p.name for p in directory.iterdir() if p.name.endswith(".part")]


@pytest.fixture
async def opened(repos: Repositories) -> AsyncIterator[Repositories]:
    """The repositories with their database open."""
    await repos.db.open()
    yield repos
    await repos.db.close()


async def export_csv(
    repos: Repositories,
    out: Path,
    request: ExportRequest,
    quarters: Sequence[str] = QUARTERS,
) -> list[list[str]]:
    """Export as staff would (German) and read the CSV back, header first."""
    count = await write_report(repos, repos.catalogs.translator("de"), quarters, request, out)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    assert count == len(rows) - 1
    return rows


async def test_export_labels_local_times_and_replies(opened: Repositories, tmp_path: Path) -> None:
    times = list(DST_TIMES)
    texts: list[str | None] = [*HOSTILE_TEXTS, None]
    rows = [
        concern(
            i,
            quarter=QUARTERS[i % 2],
            topic=["housing", "removed-topic"][i % 2],
            status=STATUSES[i % len(STATUSES)],
            created=times[i % len(times)],
            changed=times[(i * 3) % len(times)],
            text=texts[i % len(texts)],
            language=[None, "ar", "=cmd"][i % 3],
            contact=i % 2,
        )
        for i in range(1, 41)
    ]
    rows.append(concern(41, quarter="atlantis"))
    await opened.db.executemany(_INSERT, rows)
    replies = [(1, "reply", "2024-07-01T13:00:00Z")] * 3
    await opened.db.executemany(_EVENT, [*replies, (1, "note", "2024-07-01T13:00:00Z")])

    header, *body = await export_csv(
        opened, tmp_path / "anliegen.csv", ExportRequest(), [*QUARTERS, "atlantis"]
    )

    assert header == [
        "Nummer",
        "Eingegangen am",
        "Quartier",
        "Thema",
        "Status",
        "Sprache",
        "Anonym",
        "Text",
        "Antworten",
        "Letzte Statusänderung",
        "Maschinelle Übersetzung",
        "Originalsprache",
    ]
    assert [cells[0] for cells in body] == [row.reference for row in rows]  # oldest first
    for row, cells in zip(rows, body, strict=True):
        assert cells[1] == DST_TIMES[row.created] and cells[9] == DST_TIMES[row.changed]
        assert cells[2] == QUARTER_NAMES[row.quarter]
        assert cells[3] == ("Wohnen" if row.topic == "housing" else "removed-topic")
        assert cells[4] == STATUS_DE[row.status]
        assert cells[5] == expected_csv(row.language or "")
        assert cells[6] == ("nein" if row.contact else "ja")
        assert cells[7] == expected_csv(row.text or "")
    assert body[0][8] == "3"  # replies only; the internal note does not count
    assert {cells[8] for cells in body[1:]} == {"0"}


async def test_export_days_are_local_days(opened: Repositories, tmp_path: Path) -> None:
    # Bremen's midnight is 23:00 UTC in winter and 22:00 UTC in summer.
    created = [
        "2024-03-30T22:59:59Z",  # 23:59:59 on 30 March: before the first day
        "2024-03-30T23:00:00Z",  # midnight starting 31 March
        "2024-10-27T22:59:59Z",  # 23:59:59 on 27 October, the last day
        "2024-10-27T23:00:00Z",  # midnight after it
    ]
    await opened.db.executemany(_INSERT, [concern(i, created=c) for i, c in enumerate(created, 1)])
    request = ExportRequest(first_day=date(2024, 3, 31), last_day=date(2024, 10, 27))

    _, *body = await export_csv(opened, tmp_path / "zeitraum.csv", request)

    assert [(cells[0], cells[1]) for cells in body] == [
        ("BV-00002", "2024-03-31 00:00"),
        ("BV-00003", "2024-10-27 23:59"),
    ]


async def test_a_failed_export_keeps_the_previous_file(
    opened: Repositories, tmp_path: Path
) -> None:
    # A time without a zone cannot be placed on Bremen's clock: fail rather than guess.
    await opened.db.executemany(_INSERT, [concern(1), concern(2, changed="2024-07-01 12:30:00")])
    out = tmp_path / "export.csv"
    out.write_bytes(b"previous report")

    with pytest.raises(ValueError, match="timezone-aware"):
        await export_csv(opened, out, ExportRequest())

    assert out.read_bytes() == b"previous report"
    assert leftovers(tmp_path) == []


async def test_export_from_the_database_streams(opened: Repositories, tmp_path: Path) -> None:
    text = "Die Straßenlaterne vor Hausnummer 12 ist seit Tagen aus; bitte prüfen. " * 6
    await opened.db.executemany(
        _INSERT, [concern(i, text=f"{i}: {text}") for i in range(1, 30_001)]
    )
    out = tmp_path / "gross.csv"

    tracemalloc.start()
    try:
        count = await write_report(
            opened, opened.catalogs.translator("de"), QUARTERS, ExportRequest(), out
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert count == 30_000
    # The file holds 13 MB; holding the rows would take several times that.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
