"""/export and `quartierbot export`: filters, German headers, hostile text read back safely."""

from __future__ import annotations

import asyncio
import csv
import gettext
import io
import subprocess
import sys
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.i18n import Translator
from bot.reports import ExportRequest, ExportRequestError, parse_export_arguments
from bot.repositories import Repositories
from tests.conftest import ADMIN_ID
from tests.recording import Person

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
        (["from", "1.1.2026"], "I could not read the date “1.1.2026”."),
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
