"""`quartierbot chat` driven through stdin, as a newcomer would use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


def test_chat_transcript(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "chat",
            "--config",
            str(ROOT / "config.example.toml"),
            "--lang",
            "en",
            "--database",
            str(tmp_path / "chat.sqlite3"),
            "--files",
            str(tmp_path / "files"),
        ],
        input="\n".join(SCRIPT) + "\n",
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
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
