"""Per-quarter staff groups: a concern reaches only its own quarter's group."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.context import QuartierApplication
from bot.repositories import Repositories
from tests.conftest import GROUP_ID, MONDAY_11, TEST_CONFIG
from tests.recording import Person, RecordingRequest, running_app

HU_GROUP = -100777
OWN_GROUP = TEST_CONFIG.replace(
    'id = "huenertshagen"\nname = "Hünertshagen"',
    f'id = "huenertshagen"\nname = "Hünertshagen"\nstaff_group_chat_id = {HU_GROUP}',
)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[QuartierApplication, RecordingRequest]]:
    """Hünertshagen with a staff group of its own; the Bahnhofsvorstadt in the common one."""
    path = tmp_path / "config.toml"
    path.write_text(OWN_GROUP, encoding="utf-8")
    repos = Repositories.create(load_config(path))
    repos.clock = lambda: MONDAY_11
    async with running_app(repos) as pair:
        yield pair


async def submit(person: Person, poster: str, text: str) -> None:
    """A whole concern from a resident who came in through a quarter's poster."""
    await person.send(f"/start q-{poster}")
    await person.press("English")
    await person.send("/concern")
    await person.press("Health")
    await person.send(text)
    await person.press("Yes, you may write to me")
    await person.press("I agree")
    await person.press("Submit")


def posted(request: RecordingRequest, chat_id: int) -> str:
    """Everything sent into one chat, joined."""
    return "\n".join(str(c.params.get("text", "")) for c in request.to_chat(chat_id))


async def test_a_concern_reaches_only_its_quarters_staff_group(
    world: tuple[QuartierApplication, RecordingRequest],
) -> None:
    app, request = world
    await submit(Person(app, request, 703001, "en"), "huenertshagen", "HU-MARKER stairs")
    await submit(Person(app, request, 703002, "en"), "bahnhofsvorstadt", "BV-MARKER lamp")
    assert "HU-MARKER" in posted(request, HU_GROUP)
    assert "HU-MARKER" not in posted(request, GROUP_ID)
    assert "BV-MARKER" in posted(request, GROUP_ID)
    assert "BV-MARKER" not in posted(request, HU_GROUP)


def test_check_config_says_which_group_reads_which_quarters(tmp_path: Path) -> None:
    for text, shared in ((OWN_GROUP, False), (TEST_CONFIG, True)):
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "bot", "check-config", "--config", str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        if shared:
            assert f"{GROUP_ID}: bahnhofsvorstadt, huenertshagen" in result.stdout
            assert f"warning: staff group {GROUP_ID} sees the concerns of 2 quarters" in (
                result.stdout
            )
        else:
            assert f"{GROUP_ID}: bahnhofsvorstadt" in result.stdout
            assert f"{HU_GROUP}: huenertshagen" in result.stdout
            assert "warning: staff group" not in result.stdout


def test_a_staff_group_id_must_be_a_group(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(OWN_GROUP.replace(str(HU_GROUP), "12345"), encoding="utf-8")
    with pytest.raises(ConfigError, match="staff_group_chat_id"):
        load_config(path)
