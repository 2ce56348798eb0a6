"""The privacy notice residents read with /privacy and from the settings."""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from bot.config import PrivacySettings, TranscriptionSettings, TranslationSettings
from bot.i18n import Translator, bold

#: How residents are told who translates (the service is a processor under GDPR Art. 28).
SERVICE_NAMES = {"libretranslate": "LibreTranslate", "deepl": "DeepL (DeepL SE, Köln)"}


def privacy_notice(
    t: Translator,
    privacy: PrivacySettings,
    translation: TranslationSettings | None = None,
    transcription: TranscriptionSettings | None = None,
) -> str:
    """Who is responsible, what is stored, for how long, and the resident's rights (HTML)."""
    controller = privacy.controller or t._("the organisation that runs this bot")
    contact = privacy.contact or controller
    days = privacy.retention_days
    sections = [
        bold(t._("Privacy")),
        html.escape(t._("Responsible for this bot: {controller}", controller=controller)),
        html.escape(t._("Contact: {contact}", contact=contact)),
        "",
        bold(t._("What we store")),
        html.escape(
            t._(
                "Your Telegram user number, the language and quarter you chose, and the day "
                "you first and last used the bot. We do not store your name or phone number."
            )
        ),
        html.escape(
            t._(
                "If you report a concern: its topic, your text, photo and location, whether the "
                "quarter office may answer you, and the messages about it. Only the staff of "
                "your quarter's office see it, not your name or your Telegram account; the "
                "location only an officer who asks for it."
            )
        ),
        html.escape(
            t._(
                "If you follow a quarter's news or sign up for an event: which quarters and "
                "topics you follow, and which events you signed up for (and whether you are on "
                "a waiting list)."
            )
        ),
        html.escape(
            t._(
                "If you send a voice message about a concern, we keep only Telegram's number for "
                "it (the recording stays with Telegram) and pass it on to the quarter office "
                "like your text."
            )
        ),
        *(
            [html.escape(transcription_notice(t, transcription))]
            if transcription is not None and transcription.enabled
            else []
        ),
        html.escape(
            t._(
                "If someone tries to use staff commands without being staff, we keep their "
                "Telegram user number in our security log."
            )
        ),
        *(
            [
                html.escape(
                    t._(
                        "What you write to the office, and what it writes to you, is translated "
                        "by a machine translation service ({service}), which processes these "
                        "texts on our behalf.",
                        service=_service_name(translation),
                    )
                )
            ]
            if translation is not None and translation.enabled
            else []
        ),
        "",
        bold(t._("Why")),
        html.escape(
            t._(
                "So that the bot answers you in your language and for your quarter, and so that "
                "the quarter office can help with your concern."
            )
        ),
        html.escape(
            t._(
                "Legal basis: your consent (Art. 6(1)(a) GDPR), which you give with the buttons "
                "and can withdraw at any time with /deleteme; for health information in a "
                "concern, your explicit consent (Art. 9(2)(a) GDPR)."
            )
        ),
        "",
        bold(t._("Telegram")),
        html.escape(
            t._(
                "Every message between you and the bot passes through Telegram, a company based "
                "outside the European Union (in Dubai), under Telegram's own privacy policy "
                "(telegram.org/privacy). We have no influence on what Telegram stores."
            )
        ),
        "",
        bold(t._("How long")),
        html.escape(
            t._n(
                "We keep your profile until you delete it. {count} day after a concern is closed, "
                "we remove everything that could identify you; only topic, quarter, date and "
                "status remain for statistics.",
                "We keep your profile until you delete it. {count} days after a concern is closed, "
                "we remove everything that could identify you; only topic, quarter, date and "
                "status remain for statistics.",
                days,
                count=days,
            )
        ),
        html.escape(
            t._(
                "If you have not written to the bot for {period} and follow no quarter's news, "
                "or if you have blocked the bot, we delete your profile and everything else "
                "about you.",
                period=t.fmt_period(privacy.inactive_resident_days),
            )
        ),
        html.escape(
            t._(
                "Sign-ups for events and their reminders are deleted {events} after the event; "
                "the record of which news reached you, {news} after it was sent.",
                events=t.fmt_period(privacy.event_days),
                news=t.fmt_period(privacy.delivery_days),
            )
        ),
        html.escape(
            t._(
                "Backups of the database are kept for {period}: what you delete can stay in them "
                "that long, locked away; then it is gone from them too.",
                period=t.fmt_period(privacy.backup_days),
            )
        ),
        "",
        bold(t._("Your rights")),
        html.escape(
            t._(
                "/mydata sends you everything we store about you. /deleteme deletes it. You can "
                "also ask for corrections or object to the use of your data: write to {contact}. "
                "You can complain to the data protection authority of Bremen.",
                contact=contact,
            )
        ),
        html.escape(
            t._(
                "The data protection authority: Die Landesbeauftragte für Datenschutz und "
                "Informationsfreiheit Bremen, www.datenschutz.bremen.de."
            )
        ),
    ]
    return "\n".join(sections)


def transcription_notice(t: Translator, transcription: TranscriptionSettings) -> str:
    """Who writes out voice messages (a processor), for /privacy and the first concern."""
    return t._(
        "Voice messages are written out by a speech recognition service ({service}), which "
        "processes the recordings on our behalf. We do not keep the recordings on our server.",
        service=urlsplit(transcription.url).hostname or transcription.url,
    )


def _service_name(translation: TranslationSettings) -> str:
    """The service's name, and where a self-hosted one runs."""
    name = SERVICE_NAMES.get(translation.backend, translation.backend)
    if translation.backend == "libretranslate":
        host = urlsplit(translation.url).hostname or translation.url
        return f"{name}, {host}"
    return name
