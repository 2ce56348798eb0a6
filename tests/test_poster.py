"""`quartierbot poster`: an A4 PDF whose QR code, decoded from the rendered page, opens the bot."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp

from bot.config import load_config
from bot.hours.week import WeeklyHours
from bot.i18n import Catalogs
from bot.poster import PosterError, deep_link, find_font, make_poster

ROOT = Path(__file__).resolve().parent.parent


def test_deep_link() -> None:
    assert (
        deep_link("@quartier_bot", "alwin-lonke") == "https://t.me/quartier_bot?start=q-alwin-lonke"
    )


def test_poster_qr_code_decodes_to_the_deep_link(tmp_path: Path) -> None:
    out = tmp_path / "poster.pdf"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "poster",
            "bahnhofsvorstadt",
            "--config",
            str(ROOT / "config.example.toml"),
            "--lang",
            "de,tr,ar,uk",
            "--username",
            "quartier_test_bot",
            "--out",
            str(out),
            "--allow-example",  # the example config's addresses are placeholders
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document = pypdfium2.PdfDocument(str(out))
    assert len(document) == 1
    page = document[0]
    width, height = page.get_size()
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    image = page.render(scale=2).to_pil()
    codes = zxingcpp.read_barcodes(image)
    assert [code.text for code in codes] == [
        "https://t.me/quartier_test_bot?start=q-bahnhofsvorstadt"
    ]
    text = page.get_textpage().get_text_range()
    assert "Bahnhofsvorstadt" in text
    assert "Scannen Sie den Code" in text  # German
    assert "Kodu telefonunuzla tarayın" in text  # Turkish
    assert "Відскануйте код" in text  # Ukrainian (Cyrillic)
    # The hours as a timetable each poster language reads: its word for them, its day names.
    assert "Öffnungszeiten Mo. Mi. Fr." in text and "Çalışma saatleri Pzt Çar Cum" in text
    assert "Години роботи пн ср пт" in text
    assert "10:00–13:00 10:00–13:00 10:00–12:00" in text and "14:00–16:00" in text
    assert "Ohne Telegram" in text  # how to reach the office without it
    # Arabic is set with shaped (joined) letters; the PDF carries the Arabic text.
    assert any("\u0600" <= ch <= "\u06ff" or "\ufe70" <= ch <= "\ufeff" for ch in text)


def test_poster_refuses_unknown_quarter_and_missing_username(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "bot", "poster", "--config", str(ROOT / "config.example.toml")]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    unknown = subprocess.run(
        [*base, "atlantis", "--username", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 2 and "unknown quarter 'atlantis'" in unknown.stderr
    nameless = subprocess.run(
        [*base, "huenertshagen", "--allow-example"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**env, "PYTHONPATH": str(ROOT)},
    )
    assert nameless.returncode == 2 and "--username" in nameless.stderr


def test_missing_font_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.poster.FONT_CANDIDATES", ())
    with pytest.raises(PosterError, match="fonts-dejavu-core"):
        find_font(str(tmp_path / "nope.ttf"))


def test_a_poster_with_example_values_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "poster.pdf"
    command = [sys.executable, "-m", "bot", "poster", "bahnhofsvorstadt"]
    command += ["--config", str(ROOT / "config.example.toml"), "--username", "quartier_test_bot"]
    result = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "quarters.bahnhofsvorstadt.office.address still holds an EXAMPLE value" in result.stderr
    assert not out.exists()


def test_every_language_reads_the_hours_and_everything_stays_on_the_page(tmp_path: Path) -> None:
    config = load_config(ROOT / "config.example.toml")
    catalogs = Catalogs.load(config.languages, config.default_language, config.timezone)
    quarter = config.quarter("bahnhofsvorstadt")
    assert quarter is not None
    # A long week: every day open, some twice, one until midnight.
    week = {day: "08:00-12:00, 13:00-18:30" for day in ("mon", "tue", "wed", "thu", "fri")}
    hours = WeeklyHours.from_mapping({**week, "sat": "10:00-24:00", "sun": "09:00-11:00"})
    quarter = replace(quarter, office=replace(quarter.office, hours=hours))
    out = tmp_path / "poster.pdf"
    make_poster(quarter, catalogs, list(catalogs.offered), "quartier_test_bot", out, find_font())
    page = pypdfium2.PdfDocument(str(out))[0]
    text = page.get_textpage().get_text_range()
    for code in catalogs.offered:
        t = catalogs.translator(code)
        if not t.rtl:  # Arabic is extracted in visual order; its letters are checked below
            assert t._("Opening hours") in text, code
            assert t.weekday_abbreviated(6) in text, code
    assert "08:00–12:00" in text and "13:00–18:30" in text and "10:00–24:00" in text
    assert "Ohne Telegram" in text  # the last line, not pushed off the page
    textpage = page.get_textpage()
    width, height = page.get_size()
    boxes = [textpage.get_charbox(index) for index in range(textpage.count_chars())]
    for left, bottom, right, top in boxes:
        assert left >= 0 and right <= width and bottom >= 0 and top <= height
    # Arabic letters between the table's first row and its times: the Arabic row.
    (first_row, _), (times, _) = (
        textpage.search(needle).get_next() for needle in ("Öffnungszeiten", "08:00–12:00")
    )
    table = range(first_row, times)
    arabic = [i for i in table if "\u0600" <= textpage.get_text_range(i, 1) <= "\ufeff"]
    assert arabic and all(boxes[times][3] < boxes[i][1] < boxes[first_row][3] for i in arabic)


def test_a_long_heading_never_runs_into_the_day_names(tmp_path: Path) -> None:
    config = load_config(ROOT / "config.example.toml")
    catalogs = Catalogs.load(config.languages, config.default_language, config.timezone)
    quarter = config.quarter("huenertshagen")
    assert quarter is not None
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    week = WeeklyHours.from_mapping(dict.fromkeys(days, "10:00-13:00"))
    quarter = replace(quarter, office=replace(quarter.office, hours=week))
    out = tmp_path / "poster.pdf"
    # Few languages: the largest type, with the longest words for "Opening hours".
    make_poster(quarter, catalogs, ["ro", "pl", "de"], "quartier_test_bot", out, find_font())
    textpage = pypdfium2.PdfDocument(str(out))[0].get_textpage()
    for code in ("ro", "pl", "de"):
        t = catalogs.translator(code)
        heading, monday = t._("Opening hours"), t.weekday_abbreviated(0)
        # The table's heading is the last one: the calls to action above name the hours too.
        searcher = textpage.search(heading)
        found = list(iter(searcher.get_next, None))
        start, count = found[-1]
        heading_right = max(textpage.get_charbox(i)[2] for i in range(start, start + count))
        day, _ = textpage.search(monday, index=start + count).get_next()
        assert heading_right < textpage.get_charbox(day)[0], code
