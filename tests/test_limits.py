"""Fair limits per resident: beyond them a polite answer in their language, nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import KNOWN_LANGUAGES, load_config
from bot.context import QuartierApplication
from bot.repositories import Repositories
from tests.conftest import ADMIN_ID, MONDAY_11, TEST_CONFIG
from tests.recording import Person, RecordingRequest, running_app, texts

LIMITED = (
    TEST_CONFIG.replace('languages = ["de", "en"]', f"languages = {list(KNOWN_LANGUAGES)}")
    + "\n[limits]\nconcerns_per_day = 1\nfollowups_per_hour = 1\n"
)


@pytest.fixture
async def world(
    tmp_path: Path,
) -> AsyncIterator[tuple[QuartierApplication, RecordingRequest, Repositories]]:
    """The application in every language, with limits of one concern and one follow-up."""
    path = tmp_path / "config.toml"
    path.write_text(LIMITED, encoding="utf-8")
    repos = Repositories.create(load_config(path))
    repos.clock = lambda: MONDAY_11
    async with running_app(repos) as (app, request):
        yield app, request, repos


async def submit_one(person: Person, language: str) -> None:
    """Onboard in `language` and send one whole concern, by button data."""
    await person.send("/start q-bahnhofsvorstadt")
    await person.press_callback(f"lang:{language}")
    await person.send("/concern")
    await person.press_callback("ctopic:housing")
    await person.send("Schimmel im Bad")
    await person.press_callback("ccontact:yes")
    await person.press_callback("cconsent:yes")
    await person.press_callback("cflow:submit")


async def count(repos: Repositories, sql: str) -> int:
    """One number from the database."""
    row = await repos.db.fetchone(sql)
    return int(row[0]) if row else -1


@pytest.mark.parametrize("language", KNOWN_LANGUAGES)
async def test_a_resident_over_the_limits_is_answered_in_their_language_and_nothing_is_stored(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], language: str
) -> None:
    app, request, repos = world
    person = Person(app, request, 742000 + KNOWN_LANGUAGES.index(language), language)
    await submit_one(person, language)
    assert await count(repos, "SELECT count(*) FROM concerns") == 1
    t = repos.catalogs.translator(language)
    concern_limit = t._n(
        "You have sent {count} concern in the last 24 hours, the most we can take from one "
        "person in a day. Please send the next one tomorrow, or contact the quarter office "
        "directly (/hours).",
        "You have sent {count} concerns in the last 24 hours, the most we can take from one "
        "person in a day. Please send the next one tomorrow, or contact the quarter office "
        "directly (/hours).",
        1,
        count=1,
    )
    assert language == "en" or not concern_limit.startswith("You have sent")

    # A second concern: refused before the resident writes anything, no draft kept.
    assert texts(await person.send("/concern")) == [concern_limit]
    assert await count(repos, "SELECT count(*) FROM concern_drafts") == 0

    # Staff answer; the resident's first follow-up is taken, the second is not.
    officer = Person(app, request, ADMIN_ID, "de")
    await officer.send("/reply BV-0001 Wir kommen vorbei.")
    relayed = person.last_message_to()
    await person.reply(relayed, "Danke, ab 10 Uhr bin ich da.")
    calls = await person.reply(relayed, "Und noch etwas.")
    followup_limit = t._n(
        "You have sent {count} message about your concerns in the last hour. Please wait a "
        "little before you send more; the office reads everything you have sent.",
        "You have sent {count} messages about your concerns in the last hour. Please wait a "
        "little before you send more; the office reads everything you have sent.",
        1,
        count=1,
    )
    assert texts(calls) == [followup_limit]
    stored = "SELECT count(*) FROM concern_events WHERE kind = 'resident'"
    assert await count(repos, stored) == 1
    # Nothing reached the staff group for the refused message either.
    group_texts = [
        c.params.get("text", "") for c in request.calls if c.params.get("chat_id") == -100500
    ]
    assert not any("Und noch etwas." in str(text) for text in group_texts)
