"""Footprint benchmark: start time and memory of the real bot process with 50,000 residents.

`--scale`: the same with 1,000,000 residents and 2,000,000 concerns (start goal 2 s instead of 1.5).

The database is the one of the updates benchmark (`benchmarks._fixtures.seed`: 50,000 residents
with subscriptions, 100,000 concerns, events). `python -m bot run` is started against the
loopback fake Bot API (tests/fakebotapi.py) and measured from outside, as an operator would:

- start: from spawning the process until its first getUpdates long poll waits at the fake API
  (median of three starts, each against a fresh fake so no old poll is mistaken for a new one);
- RSS idle: VmRSS a few seconds after the start;
- RSS after load: VmRSS once 5,000 updates from seeded residents (/hours, /help, /events, menu
  buttons; then presses on what /events sent, which open cards from lists; then RSVP and
  calendar presses on those cards) were all handled.

Run with `python -m benchmarks.footprint`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._fixtures import Person, Seed, create_repositories, seed
from benchmarks.common import Report, median
from benchmarks.export import REPO, run_child, vm_kib
from bot.i18n import Catalogs
from bot.menu import MENU_EVENTS, MENU_HELP, MENU_HOURS
from tests.fakebotapi import FakeBotApi, FakeUser

RESIDENTS = 50_000
CONCERNS = 100_000
SCALE_RESIDENTS = 1_000_000
SCALE_CONCERNS = 2_000_000
STARTS = 3
IDLE_SECONDS = 3.0
MESSAGES = 4_000
#: Presses on what /events sent (a card, or a list whose buttons open a card), then on the
#: cards those presses opened: together 1,000, as before /events sent lists.
PRESSES = 500
CARD_PRESSES = 500
START_GOAL_SECONDS = 1.5
SCALE_START_GOAL_SECONDS = 2.0
RSS_GOAL_MIB = 80.0
RSS_AFTER_LOAD_GOAL_MIB = 100.0
LOAD_TIMEOUT_SECONDS = 75.0
STOP_TIMEOUT_SECONDS = 30.0
SEED = 20_261_124

#: What residents send in the first wave, in turn: commands and main-menu buttons.
_COMMANDS = ("/hours", "/help", "/events")
_MENU = (MENU_HOURS, MENU_EVENTS, MENU_HELP)


# --- the bot process ----------------------------------------------------------------------------


@dataclass
class Start:
    """One started bot: its process, its fake API and when it began to poll."""

    api: FakeBotApi
    proc: subprocess.Popen[bytes]
    log_path: Path
    spawned_wall: float
    seconds_to_poll: float

    def request_offsets(self) -> dict[str, float]:
        """Seconds from spawning to the arrival of each method's first request."""
        offsets: dict[str, float] = {}
        for call in self.api.calls:
            offsets.setdefault(call.method, round(call.at - self.spawned_wall, 3))
        return offsets

    def stop(self) -> int:
        """SIGTERM, wait for the exit (kill after 30 s: -9), stop the fake; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -signal.SIGKILL
        finally:
            self.api.stop()


def start_bot(config: Path, log_path: Path) -> Start:
    """Spawn `python -m bot run` against a fresh fake API; wait for its first long poll."""
    api = FakeBotApi()
    api.start()
    env = {**api.bot_env(), "QUARTIERBOT_LOG_LEVEL": "INFO"}
    argv = [sys.executable, "-m", "bot", "run", "--config", str(config)]
    with log_path.open("wb") as log:
        spawned_wall = time.time()
        spawned = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        # getUpdates blocks at the fake when nothing is queued: the poll is waiting from arrival.
        api.wait_polling(timeout=30)
    except BaseException:
        proc.kill()
        proc.wait()
        api.stop()
        raise
    return Start(api, proc, log_path, spawned_wall, time.perf_counter() - spawned)


def mib(kib: int) -> float:
    """KiB → MiB."""
    return kib / 1024


# --- the load -----------------------------------------------------------------------------------


@dataclass
class Load:
    """What was pushed and what came back."""

    messages: dict[int, str] = field(default_factory=dict)  # user id → kind of message
    callbacks: dict[str, str] = field(default_factory=dict)  # callback query id → data
    seconds: dict[str, float] = field(default_factory=dict)
    unanswered_messages: int = 0
    unanswered_callbacks: int = 0

    @property
    def updates(self) -> int:
        """Updates pushed in total."""
        return len(self.messages) + len(self.callbacks)


def message_text(index: int, person: Person, catalogs: Catalogs) -> tuple[str, str]:
    """Kind and text: every other one a command, else a menu button in the resident's language."""
    if index % 2 == 0:
        command = _COMMANDS[(index // 2) % len(_COMMANDS)]
        return command, command
    label = _MENU[(index // 2) % len(_MENU)]
    return f"menu {label}", catalogs.translator(person.language)._(label)


def push_messages(
    api: FakeBotApi, people: Sequence[Person], catalogs: Catalogs, load: Load
) -> None:
    """The first wave: one message from each of `people`."""
    for index, person in enumerate(people):
        kind, text = message_text(index, person, catalogs)
        api.push_message(FakeUser(person.user_id, "Resident", person.language), text)
        load.messages[person.user_id] = kind


def event_cards(api: FakeBotApi) -> list[dict[str, Any]]:
    """Event cards and lists the bot sent (messages with `ev:` buttons), in send order."""
    cards = []
    for call in api.calls_to("sendMessage"):
        markup = call.result.get("reply_markup") if isinstance(call.result, dict) else None
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        if any(str(b.get("callback_data", "")).startswith("ev:") for row in rows for b in row):
            cards.append(call.result)
    return cards


def opened_cards(api: FakeBotApi) -> list[dict[str, Any]]:
    """Event cards the bot made out of lists (edited messages with RSVP buttons)."""
    cards = []
    for call in api.calls_to("editMessageText"):
        markup = call.result.get("reply_markup") if isinstance(call.result, dict) else None
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        if any(str(b.get("callback_data", "")).startswith("ev:ics") for row in rows for b in row):
            cards.append(call.result)
    return cards


def button_to_press(buttons: list[str], index: int) -> str:
    """On a list: open an event. On a card: RSVP (3 of 4) or the calendar file (1 of 4)."""
    shows = [data for data in buttons if data.startswith("ev:show:")]
    if shows:
        return shows[index % len(shows)]
    wanted = ("ev:ics:",) if index % 4 == 3 else ("ev:go:", "ev:no:")
    return next(data for data in buttons if data.startswith(wanted))


def push_presses(
    api: FakeBotApi,
    people: dict[int, Person],
    count: int,
    load: Load,
    find: Callable[[FakeBotApi], list[dict[str, Any]]] = event_cards,
) -> None:
    """A wave of button presses by residents on event messages `find` returns."""
    cards = [card for card in find(api) if card["chat"]["id"] in people]
    if len(cards) < count:
        raise RuntimeError(f"only {len(cards)} event messages to press, {count} wanted")
    for index, card in enumerate(random.Random(SEED).sample(cards, count)):
        buttons = [
            b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row
        ]
        data = button_to_press(buttons, index)
        person = people[card["chat"]["id"]]
        user = FakeUser(person.user_id, "Resident", person.language)
        update_id = api.push_callback(user, card, data)
        load.callbacks[api.callback_query_id(update_id)] = data


def inbox_pending(database: Path) -> int:
    """Updates the bot stored but has not handled yet (read-only, beside the running bot)."""
    with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT count(*) FROM inbox WHERE handled_at IS NULL").fetchone()
    return int(row[0])


def wait_handled(api: FakeBotApi, database: Path, deadline: float) -> None:
    """Until every pushed update was fetched, handled and the bot was quiet for a second."""
    while True:
        api.wait_idle(timeout=max(1.0, deadline - time.monotonic()), quiet=1.0)
        if inbox_pending(database) == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not handle every update in time")


def count_unanswered(api: FakeBotApi, load: Load) -> None:
    """Messages without any reply in their chat, callbacks without answerCallbackQuery."""
    replied = {c.params.get("chat_id") for c in api.calls_to("sendMessage") if c.ok}
    answered = {c.params.get("callback_query_id") for c in api.calls_to("answerCallbackQuery")}
    load.unanswered_messages = sum(1 for uid in load.messages if uid not in replied)
    load.unanswered_callbacks = sum(1 for qid in load.callbacks if qid not in answered)


def run_load(api: FakeBotApi, database: Path, data: Seed, catalogs: Catalogs) -> Load:
    """Push the waves (messages, presses, presses on opened cards), each waited out."""
    load = Load()
    people = random.Random(SEED).sample(data.readers, MESSAGES)
    residents = {p.user_id: p for p in people}
    deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
    waves: list[tuple[str, Callable[[], None]]] = [
        ("messages", partial(push_messages, api, people, catalogs, load)),
        ("presses", partial(push_presses, api, residents, PRESSES, load)),
        ("card presses", partial(push_presses, api, residents, CARD_PRESSES, load, opened_cards)),
    ]
    for wave, push in waves:
        began = time.perf_counter()
        push()
        wait_handled(api, database, deadline)
        load.seconds[wave] = round(time.perf_counter() - began, 2)
    count_unanswered(api, load)
    return load


# --- diagnostics --------------------------------------------------------------------------------


def import_cost(work: Path) -> tuple[float, float]:
    """Wall time and peak RSS of `python -m bot --version` (interpreter plus imports)."""
    result = run_child([sys.executable, "-m", "bot", "--version"], work / "version.out", REPO)
    return result.seconds, result.peak_rss_mib


def log_errors(log_path: Path) -> int:
    """ERROR or CRITICAL lines and tracebacks in the bot's log."""
    text = log_path.read_text(encoding="utf-8", errors="replace")
    return sum(1 for line in text.splitlines() if " ERROR " in line or "Traceback" in line)


def log_started_at(log_path: Path, spawned_wall: float) -> float | None:
    """Seconds from spawning to the bot's own "starting" log line (imports, config, DB done)."""
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if "quartierbot" in line and " starting:" in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            return round(stamp.timestamp() - spawned_wall, 3)
    return None


# --- the benchmark ------------------------------------------------------------------------------


async def seed_database(work: Path, scale: bool) -> tuple[Seed, Catalogs, Path]:
    """The updates benchmark's database, brought to a steady state by one retention run."""
    repos = create_repositories(work)
    await repos.db.open()
    try:
        size = (SCALE_RESIDENTS, SCALE_CONCERNS) if scale else (RESIDENTS, CONCERNS)
        data = await seed(repos, residents=size[0], concerns=size[1])
        # A bot that has run for a while anonymised old concerns on earlier days; without this its
        # retention-at-start job would anonymise ~47,000 at once while the load is measured.
        cutoff = repos.now() - timedelta(days=repos.config.privacy.retention_days)
        data.counts["anonymised_before_start"], _ = await repos.privacy.anonymise_closed(cutoff)
    finally:
        await repos.db.close()
    return data, repos.catalogs, repos.config.database


def measure_starts(config: Path, work: Path, report: Report, goal_seconds: float) -> Start:
    """STARTS starts; all but the last are stopped again, the last one is returned running."""
    starts: list[Start] = []
    for number in range(1, STARTS + 1):
        started = start_bot(config, work / f"bot-{number}.log")
        starts.append(started)
        report.details.setdefault("starts", []).append(
            {
                "seconds_to_first_poll": round(started.seconds_to_poll, 3),
                "starting_log_line_after": log_started_at(started.log_path, started.spawned_wall),
                "first_request_of_each_method": started.request_offsets(),
            }
        )
        if number < STARTS:
            report.details.setdefault("exit_codes", []).append(started.stop())
    seconds = median([s.seconds_to_poll for s in starts])
    goal = f"<= {goal_seconds} s"
    report.add("start → first getUpdates", seconds, "s", goal, seconds <= goal_seconds)
    return starts[-1]


def rss_row(report: Report, name: str, kib: int, goal_mib: float) -> None:
    """An RSS figure with its goal."""
    value = mib(kib)
    report.add(name, value, "MiB", f"<= {goal_mib:.0f} MiB", value <= goal_mib)


def measure_load(
    bot: Start, database: Path, data: Seed, catalogs: Catalogs, report: Report
) -> None:
    """Idle RSS, the 5,000 updates, RSS after them."""
    time.sleep(IDLE_SECONDS)
    pid = bot.proc.pid
    idle = f"RSS idle ({IDLE_SECONDS:.0f} s after start)"
    rss_row(report, idle, vm_kib(pid, "VmRSS"), RSS_GOAL_MIB)
    load = run_load(bot.api, database, data, catalogs)
    after = f"RSS after {load.updates:,} updates"
    rss_row(report, after, vm_kib(pid, "VmRSS"), RSS_AFTER_LOAD_GOAL_MIB)
    report.add("peak RSS during load (VmHWM)", mib(vm_kib(pid, "VmHWM")), "MiB")
    wanted = MESSAGES + PRESSES + CARD_PRESSES
    report.add("updates handled", load.updates, "updates", f"= {wanted:,}", load.updates == wanted)
    unanswered = load.unanswered_messages + load.unanswered_callbacks
    report.add("updates without an answer", unanswered, "updates", "= 0", unanswered == 0)
    rate = load.updates / max(1e-9, sum(load.seconds.values()))
    report.add("load throughput", rate, "updates/s")
    report.details["load"] = {
        "messages": len(load.messages),
        "button_presses": len(load.callbacks),
        "seconds_per_wave": load.seconds,
        "unanswered_messages": load.unanswered_messages,
        "unanswered_callbacks": load.unanswered_callbacks,
        "message_kinds": dict(collections.Counter(load.messages.values())),
        "press_kinds": _press_kinds(load),
        "api_calls": _method_counts(bot.api),
        "fake_api_internal_errors": len(bot.api.internal_errors),
    }


def _press_kinds(load: Load) -> dict[str, int]:
    """How many presses of each event button."""
    kinds = ("ev:go", "ev:no", "ev:ics", "ev:show")
    return {kind: sum(1 for d in load.callbacks.values() if d.startswith(kind)) for kind in kinds}


def _method_counts(api: FakeBotApi) -> dict[str, int]:
    """Calls per method, most frequent first."""
    return dict(collections.Counter(c.method for c in api.calls).most_common())


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, start three times, load the last start, stop it, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--scale", action="store_true", help="1,000,000 residents and 2,000,000 concerns"
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    report = Report("footprint-scale" if args.scale else "footprint")
    goal = SCALE_START_GOAL_SECONDS if args.scale else START_GOAL_SECONDS
    with tempfile.TemporaryDirectory(prefix="quartierbot-bench-footprint-") as tmp:
        work = Path(tmp)
        data, catalogs, database = asyncio.run(seed_database(work, args.scale))
        print(f"seeded {data.counts} in {time.perf_counter() - began:.1f} s")
        bot = measure_starts(work / "config.toml", work, report, goal)
        try:
            measure_load(bot, database, data, catalogs, report)
        finally:
            stopping = time.perf_counter()
            code = bot.stop()
            report.details["stop_seconds"] = round(time.perf_counter() - stopping, 2)
        report.add("exit status after SIGTERM", code, "", "= 0", code == 0)
        seconds, peak = import_cost(work)
        report.add("python -m bot --version (imports)", seconds, "s")
        report.add("python -m bot --version peak RSS", peak, "MiB")
        report.details.update(
            seed=data.counts,
            bot_log_error_lines=sum(log_errors(log) for log in work.glob("bot-*.log")),
            database_mib=round(database.stat().st_size / 1024 / 1024, 1),
        )
    report.details["total_seconds"] = round(time.perf_counter() - began, 1)
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
