"""A4 posters for notice boards: the quarter, a large QR code to the bot, a call to action in
several languages (Arabic set right to left), and the office hours.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import segno
from fpdf import FPDF

from bot.config import Quarter
from bot.hours.status import office_title, render_week
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
    _hours(pdf, quarter, first)
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


def _hours(pdf: FPDF, quarter: Quarter, t: Translator) -> None:
    """The weekly opening hours and the address at the bottom."""
    pdf.set_font("poster", size=12.5)
    y = max(pdf.get_y() + 4, 222.0)
    lines = [t._(HOURS_HEADING), *render_week(quarter.office.hours, t)]
    office = quarter.office
    if office.address:
        lines.append(office.address)
    contacts = [value for value in (office.phone, office.email) if value]
    if contacts:
        lines.append(t._(WITHOUT_TELEGRAM_CONTACT, contacts=", ".join(contacts)))
    else:
        lines.append(t._(WITHOUT_TELEGRAM))
    height = 5.4
    if y + height * len(lines) > 290:
        y = 290 - height * len(lines)
    for line in lines:
        pdf.set_xy(18, y)
        # Wrapped, not cut: the address and the contact line may be longer than the page.
        pdf.multi_cell(174, height, line, align="R" if t.rtl else "L")
        y = pdf.get_y()
