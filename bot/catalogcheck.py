"""Checks a translation catalog against the template and Telegram's limits.

Used by `scripts/i18n.py check` and by the test suite, so translators and CI see the same verdict.
"""

from __future__ import annotations

import gettext
import string
from collections.abc import Iterable
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.commands import ADMIN_COMMANDS, OFFICER_COMMANDS, RESIDENT_COMMANDS

#: Bot API limits (characters after entity parsing).
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
COMMAND_DESCRIPTION_LIMIT = 256
#: Not a Bot API limit, but a button longer than this is cut off on a phone screen.
BUTTON_LIMIT = 64

COMMAND_DESCRIPTIONS = frozenset(
    description for _, description in RESIDENT_COMMANDS + OFFICER_COMMANDS + ADMIN_COMMANDS
)
# Messages sent as the caption of a document.
CAPTIONS = frozenset(
    {
        "Open the file to add “{title}” to your calendar.",
        "This is everything the bot stores about you.",
        "{count} concern",
    }
)


def placeholders(text: str) -> set[str]:
    """Named `{placeholders}` of a message (raises ValueError on stray braces)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def forms(value: object) -> tuple[str, ...]:
    """A msgid or msgstr as a tuple of its forms."""
    if isinstance(value, tuple | list):
        return tuple(str(v) for v in value)
    return (str(value or ""),)


#: CLDR plural categories in the order gettext numbers its forms (GNU gettext, Weblate, Babel).
CLDR_CATEGORY_ORDER = ("zero", "one", "two", "few", "many", "other")
#: Whole numbers the Plural-Forms rule is tried on: every residue mod 100 and mod 1000 pattern.
PLURAL_SAMPLE = range(1001)


def plural_categories(language: str) -> tuple[str, ...]:
    """CLDR's categories for whole numbers in `language`, in gettext's form order."""
    rule = Locale.parse(language).plural_form
    used = {rule(n) for n in PLURAL_SAMPLE}
    return tuple(category for category in CLDR_CATEGORY_ORDER if category in used)


def plural_problems(catalog: Catalog, language: str) -> list[str]:
    """Whether the Plural-Forms rule picks CLDR's category for n = 0…1000, whatever its spelling."""
    categories = plural_categories(language)
    if catalog.num_plurals != len(categories):
        return [
            f"Plural-Forms has nplurals={catalog.num_plurals}, CLDR has {len(categories)} "
            f"categories for whole numbers ({', '.join(categories)})"
        ]
    try:
        choose = gettext.c2py(catalog.plural_expr)
    except ValueError:
        return [f"Plural-Forms rule cannot be read: {catalog.plural_expr!r}"]
    rule = Locale.parse(language).plural_form
    wrong = [n for n in PLURAL_SAMPLE if choose(n) != categories.index(rule(n))]
    if not wrong:
        return []
    return [
        f"Plural-Forms rule {catalog.plural_expr!r} picks the wrong form for "
        f"n = {', '.join(map(str, wrong[:8]))}" + (" …" if len(wrong) > 8 else "")
    ]


def single_number_forms(language: str) -> frozenset[int]:
    """Plural forms that stand for one number only (Arabic 'two' = 2), so may omit {count}."""
    rule = Locale.parse(language).plural_form
    categories = plural_categories(language)
    members: dict[str, set[int]] = {}
    for n in PLURAL_SAMPLE:
        members.setdefault(rule(n), set()).add(n)
    return frozenset(categories.index(c) for c, numbers in members.items() if len(numbers) == 1)


def limit_for(msgid: str, button_labels: Iterable[str] = ()) -> tuple[int, str]:
    """The length limit that applies to a message, and its name."""
    if msgid in COMMAND_DESCRIPTIONS:
        return COMMAND_DESCRIPTION_LIMIT, "command description"
    if msgid in CAPTIONS:
        return CAPTION_LIMIT, "caption"
    if msgid in set(button_labels):
        return BUTTON_LIMIT, "button label"
    return MESSAGE_LIMIT, "message"


def check_catalog(
    path: Path, language: str, template: Iterable[str], button_labels: Iterable[str] = ()
) -> list[str]:
    """Every problem of one catalog; an empty list means it is complete and usable."""
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    problems = plural_problems(catalog, language)
    # "ثانيتان" (two seconds) says its number; CLDR practice leaves the digit out there.
    may_omit_count = single_number_forms(language)
    labels = frozenset(button_labels)
    seen: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        ids = forms(message.id)
        key = ids[0]
        seen.add(key)
        strings = forms(message.string)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {key!r}")
            continue
        if message.pluralizable and len(strings) != catalog.num_plurals:
            problems.append(
                f"{len(strings)} plural forms instead of {catalog.num_plurals}: {key!r}"
            )
        try:
            expected = set().union(*(placeholders(i) for i in ids))
            for index, text in enumerate(strings):
                found = placeholders(text)
                omitted_count = message.pluralizable and index in may_omit_count
                if found != expected and not (omitted_count and found == expected - {"count"}):
                    problems.append(f"placeholders differ: {key!r} → {text!r}")
        except ValueError:
            problems.append(f"stray brace: {key!r}")
            continue
        limit, kind = limit_for(key, labels)
        for text in strings:
            if len(text) > limit:
                problems.append(f"{kind} longer than {limit} characters: {key!r}")
    missing = set(template) - seen
    problems += [f"missing from the catalog (run update): {m!r}" for m in sorted(missing)]
    return problems


def template_ids(pot: Path) -> set[str]:
    """Singular message ids of the template."""
    with pot.open("rb") as handle:
        return {forms(m.id)[0] for m in read_po(handle) if m.id}
