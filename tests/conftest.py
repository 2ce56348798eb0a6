"""Shared fixtures: a test configuration, repositories with a pinned clock, the offline app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.context import QuartierApplication
from bot.repositories import Repositories
from tests.recording import Person, RecordingRequest, running_app

# As `quartierbot` does at start-up (bot/cli.py): durations from Telegram come as timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "true")

ADMIN_ID = 900001
RESIDENT_ID = 700001
GROUP_ID = -100500

TEST_CONFIG = f"""
[bot]
default_language = "de"
languages = ["de", "en"]
timezone = "Europe/Berlin"
database = "bot.sqlite3"

[staff]
admins = [{ADMIN_ID}]
group_chat_id = {GROUP_ID}

[privacy]
controller = "Hans-Wendt-Stiftung, Grohner Straße 45, 28217 Bremen"
contact = "datenschutz@example.org"

[[quarters]]
id = "bahnhofsvorstadt"
name = "Bahnhofsvorstadt"
prefix = "BV"
in_name = {{ de = "in der Bahnhofsvorstadt" }}
[quarters.office]
address = "Teststraße 1, 28195 Bremen"
[quarters.office.hours]
mon = "10:00-13:00, 14:00-16:00"
wed = "10:00-13:00"

[[quarters]]
id = "huenertshagen"
name = "Hünertshagen"
[quarters.office]
address = "Teststraße 3, 28777 Bremen"
[quarters.office.hours]
wed = "14:00-17:00"
"""

#: Monday 2026-11-23, 11:00 in Bremen: the Bahnhofsvorstadt office is open until 13:00.
MONDAY_11 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """A valid configuration file in a temp dir."""
    path = tmp_path / "config.toml"
    path.write_text(TEST_CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def config(config_path: Path) -> Config:
    """The loaded test configuration."""
    return load_config(config_path)


@pytest.fixture
def repos(config: Config) -> Repositories:
    """Services over a fresh database, with the clock pinned to Monday 11:00."""
    repos = Repositories.create(config)
    repos.clock = lambda: MONDAY_11
    return repos


@pytest.fixture
async def app(repos: Repositories) -> AsyncIterator[tuple[QuartierApplication, RecordingRequest]]:
    """The real application with the recording request, over an open database."""
    async with running_app(repos) as pair:
        yield pair


@pytest.fixture
def resident(app: tuple[QuartierApplication, RecordingRequest]) -> Person:
    """An English-speaking resident who has not started the bot yet."""
    return Person(app[0], app[1], RESIDENT_ID, "en")


@pytest.fixture
def admin(app: tuple[QuartierApplication, RecordingRequest]) -> Person:
    """A staff admin with a German Telegram client."""
    return Person(app[0], app[1], ADMIN_ID, "de")
