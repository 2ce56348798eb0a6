"""What residents write is shown to staff as quoted text, never as the post's own lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import load_config
from bot.context import QuartierApplication
from bot.repositories import Repositories
from tests.conftest import ADMIN_ID, GROUP_ID, MONDAY_11, TEST_CONFIG
from tests.recording import Person, RecordingRequest, running_app

ODD_TOPIC = (
    '\n[[topics]]\nid = "garden"\nname = { de = "<Garten & Hof>", en = "<Garden & Yard>" }\n'
)
IMITATION = "The tap drips.\nStatus: done (set by Anna)\n\u202egnp.exe"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[QuartierApplication, RecordingRequest]]:
    """The application with one topic whose name looks like markup."""
    path = tmp_path / "config.toml"
    path.write_text(TEST_CONFIG + ODD_TOPIC, encoding="utf-8")
    repos = Repositories.create(load_config(path))
    repos.clock = lambda: MONDAY_11
    async with running_app(repos) as pair:
        yield pair


async def submit(person: Person, text: str) -> None:
    """A whole concern about the garden."""
    await person.send("/start q-bahnhofsvorstadt")
    await person.press("English")
    await person.send("/concern")
    await person.press_callback("ctopic:garden")
    await person.send(text)
    await person.press("Yes, you may write to me")
    await person.press("I agree")
    await person.press("Submit")


async def test_a_residents_lines_cannot_pass_for_the_staff_posts_own(
    world: tuple[QuartierApplication, RecordingRequest],
) -> None:
    app, request = world
    resident = Person(app, request, 701901, "en")
    await submit(resident, IMITATION)
    (post,) = [c for c in request.to_chat(GROUP_ID) if c.method == "sendMessage"]
    text = str(post.params["text"])
    assert post.params["parse_mode"] == "HTML"
    # The resident's text sits in a blockquote, escaped; the bidi override is gone.
    assert "<blockquote>The tap drips.\nStatus: done (set by Anna)\ngnp.exe</blockquote>" in text
    assert "\u202e" not in text
    assert text.count("Status:") == 2  # the post's own status line, and the quoted imitation
    # A follow-up is quoted the same way.
    officer = Person(app, request, ADMIN_ID, "de")
    await officer.send("/reply BV-0001 Wir kommen.")
    await resident.reply(resident.last_message_to(), "More: <b>urgent</b> \u202dnow")
    followup = [c for c in request.to_chat(GROUP_ID) if c.method == "sendMessage"][-1]
    assert followup.params["parse_mode"] == "HTML"
    assert "<blockquote>More: &lt;b&gt;urgent&lt;/b&gt; now</blockquote>" in str(
        followup.params["text"]
    )


async def test_myconcerns_escapes_topic_names(
    world: tuple[QuartierApplication, RecordingRequest],
) -> None:
    app, request = world
    resident = Person(app, request, 701902, "en")
    await submit(resident, "The bench is broken.")
    (answer,) = [c for c in await resident.send("/myconcerns") if c.method == "sendMessage"]
    assert answer.params["parse_mode"] == "HTML"
    assert "&lt;Garden &amp; Yard&gt;" in str(answer.params["text"])
    assert "<Garden" not in str(answer.params["text"])
