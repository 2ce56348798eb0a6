"""Concern and subscription topics: the basic functions of a quarter (see DOMAIN.md)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_, Translator


@dataclass(frozen=True)
class Topic:
    """A topic id with either configured names per language or a built-in translatable name."""

    id: str
    #: (language, name) pairs from `[[topics]]` in the config; empty for the built-in topics.
    names: tuple[tuple[str, str], ...] = ()
    #: English source text of a built-in topic; translated through the catalogs.
    msgid: str = ""

    def label(self, t: Translator, default_language: str) -> str:
        """The topic's name for the reader: configured name, else the built-in translation."""
        if self.msgid:
            return t._(self.msgid)
        names = dict(self.names)
        # A configured topic may lack some languages; the default language is the honest fallback.
        return names.get(t.language) or names.get(default_language) or next(iter(names.values()))


DEFAULT_TOPICS: tuple[Topic, ...] = (
    Topic("housing", msgid=N_("Housing")),
    Topic("work", msgid=N_("Work")),
    Topic("education", msgid=N_("Education")),
    Topic("health", msgid=N_("Health")),
    Topic("safety", msgid=N_("Safety")),
    Topic("social", msgid=N_("Social support")),
    Topic("shopping", msgid=N_("Local shops and services")),
    Topic("mobility", msgid=N_("Mobility")),
    Topic("green", msgid=N_("Green and open spaces")),
    Topic("leisure", msgid=N_("Leisure and meeting")),
    Topic("neighbourhood", msgid=N_("Neighbourhood")),
    Topic("other", msgid=N_("Other")),
)


#: Topics where someone may be in danger: the emergency numbers come before anything else.
EMERGENCY_TOPICS = frozenset({"health", "safety"})


def emergency_numbers(t: Translator) -> str:
    """110 and 112, in the reader's language: the office is no emergency service."""
    return t._(
        "🚨 In an emergency, call 110 (police) or 112 (fire brigade and ambulance) at once, "
        "free of charge from any phone. The quarter office cannot send help."
    )
