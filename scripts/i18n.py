"""Catalog workflow: extract the template, update the catalogs, compile, and check them.

    python scripts/i18n.py extract   # bot/ handlers/ → locales/messages.pot
    python scripts/i18n.py update    # merge the template into every locales/<lang>/…/messages.po
    python scripts/i18n.py compile   # .po → .mo (optional: the bot reads .po directly)
    python scripts/i18n.py check     # fail on untranslated/fuzzy entries or placeholder mismatch
    python scripts/i18n.py all       # extract, update, fill-source, check
    python scripts/i18n.py fill-source   # English is the source: copy new ids into en/…/messages.po
    python scripts/i18n.py fill LANG FILE.json   # set translations from {msgid: text or [forms]}

Keywords and comment tags come from [tool.quartierbot.i18n] in pyproject.toml, so the plain
pybabel commands in the README and this script extract exactly the same messages.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def settings() -> dict[str, object]:
    """The [tool.quartierbot.i18n] table."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(data["tool"]["quartierbot"]["i18n"])


def pybabel(*args: str) -> None:
    """Run a pybabel command in-process from the repository root."""
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    """Write the template from the sources."""
    conf = settings()
    args = ["extract", "-F", "pyproject.toml", "--no-default-keywords", "--sort-by-file"]
    args += ["--project", "quartierbot", "--msgid-bugs-address", "-"]
    for keyword in conf["keywords"]:  # type: ignore[attr-defined]
        args += ["-k", keyword]
    for tag in conf["comment_tags"]:  # type: ignore[attr-defined]
        args += ["-c", tag]
    args += ["-o", str(conf["template"]), *conf["sources"]]  # type: ignore[misc]
    pybabel(*args)


def languages() -> list[str]:
    """Languages that have a catalog directory."""
    base = ROOT / str(settings()["locales_dir"])
    return sorted(p.parent.parent.name for p in base.glob("*/LC_MESSAGES/messages.po"))


def update() -> None:
    """Merge the template into every catalog (new messages appear untranslated)."""
    conf = settings()
    for lang in languages():
        pybabel(
            "update",
            "-i",
            str(conf["template"]),
            "-d",
            str(conf["locales_dir"]),
            "-l",
            lang,
            "--no-fuzzy-matching",
        )


def compile_catalogs() -> None:
    """Compile .mo files next to the .po files."""
    pybabel("compile", "-d", str(settings()["locales_dir"]), "--statistics")


def fill_source(language: str = "en") -> None:
    """The source language's catalog repeats the message ids; fill the new ones."""
    from babel.messages.pofile import write_po

    path = ROOT / str(settings()["locales_dir"]) / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    for message in catalog:
        if message.id and (message.fuzzy or not all(_forms(message.string))):
            message.string = (
                tuple(message.id) if isinstance(message.id, tuple | list) else message.id
            )
            message.flags.discard("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog, sort_by_file=True)


def fill(language: str, mapping_file: str) -> int:
    """Set translations of one catalog from a JSON object {msgid: msgstr or [plural forms]}."""
    import json

    from babel.messages.pofile import write_po

    mapping = json.loads(Path(mapping_file).read_text(encoding="utf-8"))
    path = ROOT / str(settings()["locales_dir"]) / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    filled = 0
    for message in catalog:
        key = _forms(message.id)[0] if message.id else ""
        if key in mapping:
            value = mapping[key]
            message.string = tuple(value) if isinstance(value, list) else value
            message.flags.discard("fuzzy")
            filled += 1
    with path.open("wb") as handle:
        write_po(handle, catalog, sort_by_file=True)
    print(f"{language}: {filled} messages set")
    return filled


def _forms(string: object) -> tuple[str, ...]:
    """A message's translation as a tuple of forms."""
    return tuple(string) if isinstance(string, tuple | list) else (str(string or ""),)


def check() -> int:
    """Report every problem of every catalog; non-zero exit if there is any."""
    sys.path.insert(0, str(ROOT))
    from bot.catalogcheck import check_catalog, template_ids
    from bot.menu import MENU_LAYOUT

    conf = settings()
    template = template_ids(ROOT / str(conf["template"]))
    labels = [label for row in MENU_LAYOUT for label in row]
    failures = 0
    for lang in languages():
        path = ROOT / str(conf["locales_dir"]) / lang / "LC_MESSAGES" / "messages.po"
        problems = check_catalog(path, lang, template, labels)
        for problem in problems:
            print(f"{lang}: {problem}")
        failures += bool(problems)
    return min(failures, 100)


def main(argv: list[str]) -> int:
    """Dispatch the sub-command."""
    command = argv[1] if len(argv) > 1 else "all"
    if command in ("extract", "all"):
        extract()
    if command in ("update", "all"):
        update()
    if command in ("fill-source", "all"):
        fill_source()
    if command == "compile":
        compile_catalogs()
    if command == "fill":
        fill(argv[2], argv[3])
    if command in ("check", "all"):
        return check()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
