"""`quartierbot chat` driven through stdin, as a newcomer would use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_CONFIG

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = [
    "/start",
    "2",  # English
    "2",  # Bahnhofsvorstadt
    "1",  # 🔔 Yes, send me news
    "m1",  # menu: 🕒 Office hours
    "/concern",
    "5",  # Safety
    "The street lamp at the school is broken.",
    "1",  # Yes, you may write to me
    "1",  # I agree
    "1",  # Submit
    "/mydata",
    "/as staff",
    "/reply BV-0001 We told the city.",
    "/as resident 1",
    "/myconcerns",
    "/quit",
]


def run_chat(
    config: Path, script: list[str], tmp_path: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """`quartierbot chat` in English on a fresh database, the script typed into its stdin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    command = [sys.executable, "-m", "bot", "chat", "--config", str(config), "--lang", "en"]
    command += ["--database", str(tmp_path / "chat.sqlite3"), *options]
    return subprocess.run(
        command,
        input="\n".join(script) + "\n",
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )


def test_chat_transcript(tmp_path: Path) -> None:
    result = run_chat(
        ROOT / "config.example.toml", SCRIPT, tmp_path, "--files", str(tmp_path / "files")
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Hello! Please choose your language." in out
    assert "[1] Deutsch  [2] English  [3] Türkçe" in out  # buttons as numbered choices
    assert "Which quarter do you live in?" in out
    assert "menu: [m1] 🕒 Office hours  [m2] 📅 Events" in out  # the menu keyboard, too
    assert "You get news from: Bahnhofsvorstadt." in out
    assert "QEK-Büro Bahnhofsvorstadt" in out and "Monday: 10:00–13:00, 14:00–16:00" in out
    assert "<b>" not in out  # formatting is rendered, not shown as markup
    assert "Your concern has the number BV-0001." in out
    saved = next((tmp_path / "files").glob("*quartierbot-my-data.json"))
    assert f"saved to {saved}" in out
    assert json.loads(saved.read_text(encoding="utf-8"))["concerns"][0]["reference"] == "BV-0001"
    # The staff reply is seen arriving at the resident's side.
    assert "bot → resident 1\n  Reply from the quarter office about your concern BV-0001" in out
    assert "BV-0001 · Safety · " in out


def ogg_opus(seconds: int) -> bytes:
    """The smallest thing the sandbox takes for an Ogg Opus voice note of this length."""
    first = b"OggS\x00\x02" + (0).to_bytes(8, "little") + bytes(13) + b"OpusHead\x01\x01"
    last = b"OggS\x00\x04" + (seconds * 48_000).to_bytes(8, "little") + bytes(13)
    return first + b"fake opus audio" + last


def test_a_newcomer_sends_a_voice_message(tmp_path: Path) -> None:
    recording = tmp_path / "note.ogg"
    recording.write_bytes(ogg_opus(42))
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")  # with a staff group
    script = [
        "/start",
        "2",  # English
        "1",  # Bahnhofsvorstadt
        "/concern",
        "5",  # Safety
        "/voice missing.ogg",
        f"/voice {recording}",
        "1",  # Continue
        "1",  # Yes, you may write to me
        "1",  # I agree
        "1",  # Submit
        "/quit",
    ]
    result = run_chat(config, script, tmp_path)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "-- cannot read missing.ogg" in out  # a typo is told, not sent
    assert "your voice message (0:42) is attached" in out
    assert "🎤 Voice message (0:42)" in out  # in the summary
    assert "Your concern has the number BV-0001." in out
    # The staff group gets the recording under the post, as a file (replaceable at any age).
    assert "bot → staff group\n  BV-0001\n  📎 saved to " in out
    assert "-BV-0001-voice.ogg" in out


def test_photos_replies_and_menus_across_personas(tmp_path: Path) -> None:
    picture = tmp_path / "lamp.jpg"
    picture.write_bytes(b"\xff\xd8\xff\xe0 a broken lamp")
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    script = [
        "/start",
        "2",  # English
        "1",  # Bahnhofsvorstadt
        "/concern",
        "5",  # Safety
        f"/photo {picture} The lamp at the school is broken.",
        "1",  # Yes, you may write to me
        "1",  # I agree
        "1",  # Submit
        "/as staff",
        "/reply BV-0001 We told the city.",
        "/as resident 1",
        "/re Thank you, it is still dark.",  # answers the office's reply, as a swipe would
        "m1",  # the resident's menu is still there after /as
        "/quit",
    ]
    result = run_chat(config, script, tmp_path)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "📷 A photo is attached." in out and "Your concern has the number BV-0001." in out
    assert "Opening hours" in out  # m1 pressed the resident's "Office hours"
    assert "Thank you. Your message was added to BV-0001." in out  # the reply joined the thread


def test_a_number_is_a_button_only_under_the_newest_message(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    script = [
        "/start",
        "2",  # English
        "1",  # Bahnhofsvorstadt
        "/concern",
        "5",  # Safety
        "'1",  # the text "1", not a button
        "/quit",
    ]
    result = run_chat(config, script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "you: '1" in result.stdout
    # Taken as the description: the next question is the contact one.
    assert "May the quarter office answer you" in result.stdout
