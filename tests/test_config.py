"""Configuration loading: the contract keys, defaults, and refusal of invalid files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, default_config_path, load_config
from bot.topics import DEFAULT_TOPICS
from tests.conftest import TEST_CONFIG

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    """Write a config file and return its path."""
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid_and_describes_the_three_qek_quarters() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.quarter_ids == ("alwin-lonke", "bahnhofsvorstadt", "huenertshagen")
    assert config.default_language == "de"
    assert config.timezone.key == "Europe/Berlin"
    assert config.database == ROOT / "quartierbot.sqlite3"
    for quarter in config.quarters:
        assert "EXAMPLE" in quarter.office.address


def test_contract_keys_are_read(config_path: Path) -> None:
    config = load_config(config_path)
    assert config.staff.admins == frozenset({900001})
    assert config.staff.group_chat_id == -100500
    assert config.languages == ("de", "en")
    bv = config.quarter("bahnhofsvorstadt")
    assert bv is not None and bv.prefix == "BV" and bv.office.address.startswith("Teststraße")
    assert [len(bv.office.hours.for_weekday(d)) for d in range(7)] == [2, 0, 1, 0, 0, 0, 0]
    hu = config.quarter("huenertshagen")
    assert hu is not None and hu.prefix == "HU"
    assert config.topics == DEFAULT_TOPICS
    # Relative database paths are relative to the config file, not the working directory.
    assert config.database == config_path.parent / "bot.sqlite3"


def test_config_path_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUARTIERBOT_CONFIG", raising=False)
    assert default_config_path() == Path("config.toml")
    monkeypatch.setenv("QUARTIERBOT_CONFIG", "/etc/quartierbot.toml")
    assert default_config_path() == Path("/etc/quartierbot.toml")


def test_topics_can_be_overridden(tmp_path: Path) -> None:
    text = TEST_CONFIG + '\n[[topics]]\nid = "noise"\nname = { de = "Lärm", en = "Noise" }\n'
    config = load_config(write(tmp_path, text))
    assert [t.id for t in config.topics] == ["noise"]
    assert dict(config.topics[0].names) == {"de": "Lärm", "en": "Noise"}


BAD_CONFIGS = [
    ("bad toml", "[bot\n", "", "not valid TOML"),
    (
        "bad hours",
        TEST_CONFIG.replace('wed = "10:00-13:00"', 'wed = "25:00-26:00"'),
        "quarters.bahnhofsvorstadt.office.hours",
        "25:00-26:00",
    ),
    (
        "overlapping hours",
        TEST_CONFIG.replace('wed = "10:00-13:00"', 'wed = "10:00-13:00, 12:00-14:00"'),
        "quarters.bahnhofsvorstadt.office.hours",
        "overlaps",
    ),
    (
        "unknown weekday",
        TEST_CONFIG.replace('wed = "10:00-13:00"', 'mittwoch = "10:00-13:00"'),
        "quarters.bahnhofsvorstadt.office.hours",
        "mittwoch",
    ),
    (
        "unknown default language",
        TEST_CONFIG.replace('default_language = "de"', 'default_language = "xx"'),
        "bot.default_language",
        "unknown language 'xx'",
    ),
    (
        "unknown language in list",
        TEST_CONFIG.replace('languages = ["de", "en"]', 'languages = ["de", "klingon"]'),
        "bot.languages",
        "unknown language 'klingon'",
    ),
    (
        "unknown quarter referenced by an officer",
        TEST_CONFIG.replace(
            "[privacy]", '[[staff.officers]]\nuser_id = 5\nquarters = ["atlantis"]\n\n[privacy]'
        ),
        "staff.officers[0].quarters",
        "unknown quarter id 'atlantis'",
    ),
    (
        "duplicate quarter",
        TEST_CONFIG.replace('id = "huenertshagen"', 'id = "bahnhofsvorstadt"'),
        "quarters[1].id",
        "duplicate",
    ),
    (
        "bad quarter id",
        TEST_CONFIG.replace('id = "huenertshagen"', 'id = "Hünertshagen!"'),
        "quarters[1].id",
        "lower-case",
    ),
    (
        "unknown time zone",
        TEST_CONFIG.replace('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"'),
        "bot.timezone",
        "unknown time zone",
    ),
    (
        "admin id not a number",
        TEST_CONFIG.replace("admins = [900001]", 'admins = ["boss"]'),
        "staff.admins[0]",
        "integer",
    ),
    (
        "positive group id",
        TEST_CONFIG.replace("group_chat_id = -100500", "group_chat_id = 42"),
        "staff.group_chat_id",
        "negative",
    ),
    ("no quarters", '[bot]\ndefault_language = "de"\n', "quarters", "at least one"),
    (
        "typo in a key",
        TEST_CONFIG.replace("[staff]", "[staff]\nadmin = [1]"),
        "staff.admin",
        "unknown key",
    ),
    (
        "topic language unknown",
        TEST_CONFIG + '\n[[topics]]\nid = "noise"\nname = { xx = "?" }\n',
        "topics[0].name.xx",
        "unknown language",
    ),
    (
        "retention out of range",
        TEST_CONFIG.replace("[privacy]", "[privacy]\nretention_days = 0"),
        "privacy.retention_days",
        "between",
    ),
    (
        "staff language not offered",
        TEST_CONFIG + '\n[translation]\nstaff_language = "tr"\n',
        "translation.staff_language",
        "not one of [bot].languages",
    ),
    (
        "transcription backend unknown",
        TEST_CONFIG + '\n[transcription]\nbackend = "whisper"\n',
        "transcription.backend",
        "use one of none, openai",
    ),
    (
        "transcription url without scheme",
        TEST_CONFIG + '\n[transcription]\nurl = "127.0.0.1:8000/v1"\n',
        "transcription.url",
        "http",
    ),
    (
        "transcription limit not a number",
        TEST_CONFIG + '\n[transcription]\nmax_seconds = "3 minutes"\n',
        "transcription.max_seconds",
        "integer",
    ),
    (
        "transcription limit out of range",
        TEST_CONFIG + "\n[transcription]\nmax_seconds = 0\n",
        "transcription.max_seconds",
        "between 1 and 3600",
    ),
    (
        "in_name in an unknown language",
        TEST_CONFIG.replace("in_name = { de =", "in_name = { xx ="),
        "quarters.bahnhofsvorstadt.in_name.xx",
        "unknown language 'xx'",
    ),
    (
        "in_name empty",
        TEST_CONFIG.replace('"in der Bahnhofsvorstadt"', '" "'),
        "quarters.bahnhofsvorstadt.in_name.de",
        "1 to 80 characters",
    ),
    (
        "in_name not a table",
        TEST_CONFIG.replace('in_name = { de = "in der Bahnhofsvorstadt" }', 'in_name = "in der"'),
        "quarters.bahnhofsvorstadt.in_name",
        "must be a table",
    ),
    (
        "transcription key unknown",
        TEST_CONFIG + "\n[transcription]\napi_key = 'x'\n",
        "transcription.api_key",
        "unknown key",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "problem"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_invalid_config_names_key_and_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    assert raised.value.key.startswith(key)
    assert problem in str(raised.value)
    assert str(tmp_path / "config.toml") in str(raised.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
