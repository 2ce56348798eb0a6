"""A4 posters for notice boards: the quarter, a large QR code to the bot, a call to action in
several languages (Arabic set right to left), and the office hours.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.enums import MethodReturnValue

from bot.config import Quarter
from bot.hours.status import office_title
from bot.hours.week import format_day
from bot.i18n import N_, Catalogs, Translator, native_name

# Fonts that cover Latin, Cyrillic and Arabic; DejaVu ships with most Linux systems
# (Debian: fonts-dejavu-core). QUARTIERBOT_FONT overrides.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
)

CALL_TO_ACTION = N_(
    "Scan the code with your phone: the quarter office on Telegram. Opening hours, events and "
    "help with your concerns, in your language."
)
HOURS_HEADING = N_("Opening hours")
#: For those without Telegram (or a smartphone): the office is there all the same.
WITHOUT_TELEGRAM = N_("Without Telegram: come by during the opening hours.")
WITHOUT_TELEGRAM_CONTACT = N_(
    "Without Telegram: come by during the opening hours, or call or write: {contacts}"
)


class PosterError(Exception):
    """The poster cannot be made; the message says what to do."""


def deep_link(bot_username: str, quarter_id: str) -> str:
    """The link a poster's QR code opens: the bot, with the quarter already chosen."""
    return f"https://t.me/{bot_username.lstrip('@')}?start=q-{quarter_id}"


def find_font(override: str | None = None) -> Path:
    """A TrueType font covering every supported script."""
    candidates = [override] if override else []
    candidates += list(FONT_CANDIDATES)
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise PosterError(
        "no font with Latin, Cyrillic and Arabic letters found: install DejaVu Sans "
        "(Debian/Ubuntu: apt-get install fonts-dejavu-core) or set QUARTIERBOT_FONT to a .ttf file"
    )


def example_values(quarter: Quarter) -> list[str]:
    """Office fields still holding config.example.toml's EXAMPLE text: never to be printed."""
    office = quarter.office
    return [
        f"quarters.{quarter.id}.office.{name}"
        for name in ("name", "address", "phone", "email")
        if "EXAMPLE" in getattr(office, name)
    ]


def make_poster(
    quarter: Quarter,
    catalogs: Catalogs,
    languages: Sequence[str],
    bot_username: str,
    out: Path,
    font: Path,
) -> str:
    """Write the A4 PDF; returns the link encoded in the QR code."""
    link = deep_link(bot_username, quarter.id)
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    pdf.add_font("poster", "", str(font))
    # Shaping joins Arabic letters and orders right-to-left text correctly.
    pdf.set_text_shaping(True)
    first = catalogs.translator(languages[0])
    _title(pdf, quarter, first)
    _qr_code(pdf, link)
    _calls_to_action(pdf, catalogs, languages)
    _hours(pdf, quarter, catalogs, languages)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return link


def _title(pdf: FPDF, quarter: Quarter, t: Translator) -> None:
    """The quarter's name and its office, large, at the top."""
    pdf.set_font("poster", size=34)
    pdf.set_xy(15, 14)
    pdf.cell(180, 15, quarter.name, align="C")
    pdf.set_font("poster", size=15)
    pdf.set_xy(15, 30)
    pdf.cell(180, 8, office_title(quarter, t), align="C")


def _qr_code(pdf: FPDF, link: str) -> None:
    """A QR code big enough to scan across a hallway (8 cm), with the link under it."""
    qr = segno.make(link, error="m")
    image = io.BytesIO()
    qr.save(image, kind="png", scale=12, border=2)
    image.seek(0)
    pdf.image(image, x=65, y=42, w=80, h=80)
    pdf.set_font("poster", size=10)
    pdf.set_xy(15, 123)
    pdf.cell(180, 6, link, align="C")


def _calls_to_action(pdf: FPDF, catalogs: Catalogs, languages: Sequence[str]) -> None:
    """One short paragraph per language, each introduced by the language's own name."""
    y = 133.0
    # As large as the languages leave room for: read from a metre away on a notice board.
    size = 12.5 if len(languages) <= 4 else 11.0 if len(languages) <= 6 else 9.5
    pdf.set_font("poster", size=size)
    for code in languages:
        t = catalogs.translator(code)
        text = f"{native_name(code)}: {t._(CALL_TO_ACTION)}"
        pdf.set_xy(18, y)
        pdf.multi_cell(174, size * 0.48, text, align="R" if t.rtl else "L")
        y = pdf.get_y() + 2.2


def _hours(pdf: FPDF, quarter: Quarter, catalogs: Catalogs, languages: Sequence[str]) -> None:
    """The weekly opening hours as a timetable every poster language can read, then the address
    and how to reach the office without Telegram (in the first language)."""
    first = catalogs.translator(languages[0])
    office = quarter.office
    lines = [office.address] if office.address else []
    contacts = [value for value in (office.phone, office.email) if value]
    if contacts:
        lines.append(first._(WITHOUT_TELEGRAM_CONTACT, contacts=", ".join(contacts)))
    else:
        lines.append(first._(WITHOUT_TELEGRAM))
    open_days = [day for day in range(7) if office.hours.for_weekday(day)]
    time_lines = max((len(office.hours.for_weekday(day)) for day in open_days), default=0)
    top = max(pdf.get_y() + 4, 200.0)
    # As large as the room left allows (at most 15.5 pt). The address and contact lines wrap
    # at a given size, and the size depends on the lines: counted twice, the second count at
    # the smaller size of the first can only need as many lines or fewer.
    height = 7.0
    for _ in range(2):
        pdf.set_font("poster", size=height / 0.45)
        wrapped = sum(_wrapped_lines(pdf, line, height) for line in lines)
        # 2.5 mm: the rule above the times and the gap under the table.
        height = min(7.0, (290 - top - 2.5) / (len(languages) + time_lines + wrapped))
    size = height / 0.45
    y = _timetable(pdf, catalogs, languages, quarter, open_days, top, height, size)
    pdf.set_font("poster", size=size)
    for line in lines:
        pdf.set_xy(18, y)
        # Wrapped, not cut: the address and the contact line may be longer than the page.
        pdf.multi_cell(174, height, line, align="R" if first.rtl else "L")
        y = pdf.get_y()


def _wrapped_lines(pdf: FPDF, text: str, height: float) -> int:
    """How many lines `text` takes across the page at the current font."""
    lines = pdf.multi_cell(174, height, text, dry_run=True, output=MethodReturnValue.LINES)
    return len(lines) if isinstance(lines, list) else 1


def _timetable(
    pdf: FPDF,
    catalogs: Catalogs,
    languages: Sequence[str],
    quarter: Quarter,
    open_days: list[int],
    y: float,
    height: float,
    size: float,
) -> float:
    """One row per language ("Opening hours" and the open days' names in it) over one row of
    times, which read the same in every language; returns where the table ends."""
    hours = quarter.office.hours
    # The headings' column is as wide as the longest, while each day keeps at least 19 mm.
    pdf.set_font("poster", size=size)
    longest = max(pdf.get_string_width(catalogs.translator(c)._(HOURS_HEADING)) for c in languages)
    label_width = max(30.0, min(longest + 3, 174 - 19 * len(open_days)))
    column = (174 - label_width) / max(len(open_days), 1)
    # '10:00–13:00': the 24-hour form every poster language reads, one interval a line.
    spans = {
        day: [format_day([interval]) for interval in hours.for_weekday(day)] for day in open_days
    }
    # The times must fit their column: a week of long days gets a smaller type.
    pdf.set_font("poster", size=size)
    widest = max((pdf.get_string_width(s) for day in open_days for s in spans[day]), default=0)
    times_size = size * min(1.0, (column - 2) / widest) if widest else size
    for code in languages:
        t = catalogs.translator(code)
        heading = t._(HOURS_HEADING)
        pdf.set_font("poster", size=size)
        # A long word for it ("Programul biroului") gets a smaller type, not the day's column.
        pdf.set_font(
            "poster", size=size * min(1.0, (label_width - 2) / pdf.get_string_width(heading))
        )
        pdf.set_xy(18, y)
        pdf.cell(label_width, height, heading, align="R" if t.rtl else "L")
        pdf.set_font("poster", size=size)
        if not open_days:
            pdf.cell(column, height, t._("closed"), align="L")
        for index, day in enumerate(open_days):
            pdf.set_xy(18 + label_width + index * column, y)
            pdf.cell(column, height, t.weekday_abbreviated(day), align="C")
        y += height
    if open_days:
        pdf.line(18 + label_width, y + 0.4, 192, y + 0.4)
        pdf.set_font("poster", size=times_size)
        for line in range(max(len(spans[day]) for day in open_days)):
            for index, day in enumerate(open_days):
                if line < len(spans[day]):
                    pdf.set_xy(18 + label_width + index * column, y + 0.8)
                    pdf.cell(column, height, spans[day][line], align="C")
            y += height
    return y + 1.5
