"""The `quartierbot` command as a user runs it: exit codes, one-line errors, no secrets."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import Database
from storage.migrations import SCHEMA_VERSION
from tests.conftest import TEST_CONFIG
from tests.fakebotapi import FakeBotApi

ROOT = Path(__file__).resolve().parent.parent
SECRET = "4242:SECRET-token-never-to-be-printed"


def quartierbot(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess with a clean environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "QUARTIERBOT_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_without_token_prints_one_line_hint_and_exits_2(tmp_path: Path) -> None:
    result = quartierbot("run", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "TELEGRAM_BOT_TOKEN" in lines[0] and "@BotFather" in lines[0]
    assert "Traceback" not in result.stderr


def test_check_config_on_the_example_passes() -> None:
    result = quartierbot("check-config", "--config", "config.example.toml")
    assert result.returncode == 0, result.stderr
    assert "alwin-lonke — Alwin-Lonke-Quartier" in result.stdout
    assert "bahnhofsvorstadt — Bahnhofsvorstadt (reference prefix BV" in result.stdout
    assert "languages: de, en" in result.stdout
    assert "database: " in result.stdout
    # What must not go live: example addresses, contacts and the example admin id.
    assert (
        "warning: quarters.bahnhofsvorstadt.office.address is still an example value "
        "(shown in /hours and the poster); replace it"
    ) in result.stdout
    assert "warning: privacy.contact is still an example value" in result.stdout
    assert "warning: staff.admins holds the example id 123456789" in result.stdout


def test_check_config_without_example_values_warns_of_nothing(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    real = TEST_CONFIG.replace("datenschutz@example.org", "datenschutz@hans-wendt-stiftung.de")
    config.write_text(real, encoding="utf-8")
    result = quartierbot("check-config", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "example value" not in result.stdout and "example id" not in result.stdout


def test_check_config_uses_the_environment_variable(tmp_path: Path) -> None:
    example = ROOT / "config.example.toml"
    result = quartierbot("check-config", env={"QUARTIERBOT_CONFIG": str(example)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_invalid_config_exits_2_naming_key_and_problem(tmp_path: Path) -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('wed = "10:00-13:00"', 'wed = "25:00-26:00"'), encoding="utf-8")
    for command in ("check-config", "run"):
        result = quartierbot(command, "--config", str(bad), env={"TELEGRAM_BOT_TOKEN": SECRET})
        assert result.returncode == 2
        assert "quarters.bahnhofsvorstadt.office.hours" in result.stderr  # by id, not index
        assert "25:00-26:00" in result.stderr
        assert "Traceback" not in result.stderr


def test_missing_default_config_is_explained(tmp_path: Path) -> None:
    result = quartierbot("run", env={"TELEGRAM_BOT_TOKEN": SECRET}, cwd=tmp_path)
    assert result.returncode == 2
    assert "config.toml" in result.stderr and "cannot read" in result.stderr


def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    with sqlite3.connect(tmp_path / "quartierbot.sqlite3") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    result = quartierbot("run", "--config", str(config), env={"TELEGRAM_BOT_TOKEN": SECRET})
    assert result.returncode == 2
    assert "upgrade quartierbot" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["run", "poster"])
def test_a_base_url_without_bot_is_refused_without_printing_the_token(
    tmp_path: Path, command: str
) -> None:
    # Before, python-telegram-bot appended the token to "…:9" and httpx printed it as a port.
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    extra = ["bahnhofsvorstadt", "--allow-example"] if command == "poster" else []
    result = quartierbot(
        command,
        "--config",
        str(config),
        *extra,
        env={"TELEGRAM_BOT_TOKEN": SECRET, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "TELEGRAM_API_BASE_URL must end in /bot" in result.stderr
    assert SECRET.split(":")[1] not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_unreachable_api_exits_1_and_never_prints_the_token(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = quartierbot(
        "run",
        "--config",
        str(config),
        env={"TELEGRAM_BOT_TOKEN": SECRET, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot"},
    )
    assert result.returncode == 1
    assert "cannot reach Telegram" in result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert SECRET.split(":")[1] not in result.stderr + result.stdout


def test_version() -> None:
    result = quartierbot("--version")
    assert result.returncode == 0 and result.stdout.startswith("quartierbot ")


def test_backup_makes_a_consistent_copy(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    database = tmp_path / "quartierbot.sqlite3"
    missing = quartierbot("backup", "--config", str(config), "--out", str(tmp_path / "b.sqlite3"))
    assert missing.returncode == 2 and "no database" in missing.stderr
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (42)")
    holder = sqlite3.connect(database)  # another open connection, as the running bot has
    try:
        out = tmp_path / "backups" / "copy.sqlite3"
        result = quartierbot("backup", "--config", str(config), "--out", str(out))
        assert result.returncode == 0, result.stderr
    finally:
        holder.close()
    with sqlite3.connect(out) as copy:
        assert copy.execute("SELECT x FROM t").fetchone() == (42,)
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_backups_are_private_and_rotated(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    database = tmp_path / "quartierbot.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE t (x)")
    folder = tmp_path / "backups"
    folder.mkdir()
    for day in (1, 2, 3):
        old = folder / f"quartierbot-2026-12-0{day}.sqlite3"
        old.write_bytes(b"old")
        os.utime(old, (1_700_000_000 + day, 1_700_000_000 + day))
    unrelated = folder / "notes.sqlite3"
    unrelated.write_bytes(b"keep me")
    out = folder / "quartierbot-2026-12-04.sqlite3"
    old_umask = os.umask(0o022)
    try:
        result = quartierbot("backup", "--config", str(config), "--out", str(out), "--keep", "2")
    finally:
        os.umask(old_umask)
    assert result.returncode == 0, result.stderr
    # Readable by the owner only, although the umask would allow 0644.
    assert out.stat().st_mode & 0o777 == 0o600
    # The newest two named like it stay; other files in the folder are not touched.
    left = sorted(p.name for p in folder.iterdir())
    assert left == ["notes.sqlite3", "quartierbot-2026-12-03.sqlite3", out.name]


def test_run_refuses_a_damaged_database(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    database = tmp_path / "quartierbot.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE filler (x)")
        conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,) for _ in range(200)])
    raw = bytearray(database.read_bytes())
    raw[4096 * 2 : 4096 * 2 + 200] = b"\xff" * 200  # scribble over a b-tree page
    database.write_bytes(bytes(raw))
    # The check runs while the bot starts (it reads the whole file): the bot stops at once.
    with FakeBotApi() as api:
        env = {key: api.bot_env()[key] for key in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL")}
        result = quartierbot("run", "--config", str(config), env=env)
    assert result.returncode == 2
    assert "damaged" in result.stderr or "malformed" in result.stderr
    assert "Traceback" not in result.stderr


def test_webhook_url_must_be_https(tmp_path: Path) -> None:
    result = quartierbot(
        "run",
        "--config",
        str(ROOT / "config.example.toml"),
        "--webhook-url",
        "http://x.org/hook",
        env={"TELEGRAM_BOT_TOKEN": SECRET},
    )
    assert result.returncode == 2 and "https://" in result.stderr


def test_json_log_lines_without_the_token(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = quartierbot(
        "run",
        "--config",
        str(config),
        env={
            "TELEGRAM_BOT_TOKEN": SECRET,
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
            "QUARTIERBOT_LOG_FORMAT": "json",
        },
    )
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any("starting: quarters alwin-lonke" in e["message"] for e in events)
    assert all({"time", "level", "logger", "message"} <= set(e) for e in events)
    assert SECRET not in result.stderr


def test_export_without_a_database_refuses_and_creates_none(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    result = quartierbot("export", "--config", str(config), "--out", str(tmp_path / "out.csv"))
    assert result.returncode == 2
    assert "no database at" in result.stderr and "Nothing was written" in result.stderr
    assert not (tmp_path / "bot.sqlite3").exists() and not (tmp_path / "out.csv").exists()


async def test_a_new_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    database = Database(tmp_path / "bot.sqlite3")
    await database.open()
    await database.execute("CREATE TABLE probe (x INTEGER)")  # the WAL exists now
    try:
        modes = await asyncio.to_thread(file_modes, tmp_path)
    finally:
        await database.close()
    assert set(modes) == {"bot.sqlite3", "bot.sqlite3-wal", "bot.sqlite3-shm"}
    assert set(modes.values()) == {0o600}


def file_modes(directory: Path) -> dict[str, int]:
    """Permission bits of the database files in a directory."""
    return {p.name: p.stat().st_mode & 0o777 for p in directory.glob("bot.sqlite3*")}
