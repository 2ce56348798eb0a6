"""Broadcasts through the real bot process against a fake Bot API that enforces Telegram's limits.

`python -m benchmarks.broadcast` seeds a fresh database per run, starts the real bot (`python -m
bot run`, its own process and interpreter, as in production) against benchmarks/limited_api.py
(30 messages/s overall, 1/s per chat, 429 beyond) and measures from the server's side:

* pace (25/s, then 30/s): 10,000 subscribers and one due broadcast. Over a fixed window from the
  first broadcast send (start-up excluded): the achieved rate ÷ the configured one, and the 429
  answers. At 25/s ~100 other residents (not recipients) send `/help` or `/hours …` meanwhile:
  the time from the push to the bot's reply reaching the fake. At 30/s the broadcast takes all of
  Telegram's limit, so a reply could only go out as a 429: that run has no resident traffic.
* a million subscribers: the seconds from the bot's start until every recipient has its delivery
  row (the broadcast turns 'sending'), while residents write ~10 messages a second; their reply
  times. The million messages themselves are not sent (that takes 11 hours at 25/s).

`--profile DIR` runs the bot under cProfile (one .prof file per run) for diagnosis.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from benchmarks.common import RESULTS_DIR, Report, percentile
from benchmarks.limited_api import LimitedBotApi, Send
from bot.config import load_config
from bot.repositories import Repositories
from tests.fakebotapi import FakeUser

FIRST_RECIPIENT = 5_000_000
#: Residents who write meanwhile; below this id every chat is a recipient.
FIRST_RESIDENT = 9_000_000
BROADCAST_TEXT = "Straßenfest am <b>Samstag</b>!"
RESIDENT_TEXTS = ("/help", "/hours bahnhofsvorstadt")
ADMIN_ID = 900001
#: Seconds to wait for the bot's first broadcast send, or for the million rows.
START_TIMEOUT = 30.0
ROWS_TIMEOUT = 120.0
REPLY_GRACE = 3.0

CONFIG = """
[bot]
default_language = "de"
languages = ["de", "en"]
timezone = "Europe/Berlin"
database = "bot.sqlite3"

[staff]
admins = [{admin}]

[privacy]
controller = "Benchmark"
contact = "benchmark@example.org"

[[quarters]]
id = "bahnhofsvorstadt"
name = "Bahnhofsvorstadt"
prefix = "BV"
[quarters.office]
address = "Teststraße 1, 28195 Bremen"
[quarters.office.hours]
mon = "10:00-13:00, 14:00-16:00"

[[quarters]]
id = "huenertshagen"
name = "Hünertshagen"
[quarters.office]
address = "Teststraße 3, 28777 Bremen"
[quarters.office.hours]
wed = "14:00-17:00"

[broadcast]
rate_per_second = {rate}
"""


@dataclass(frozen=True)
class Mode:
    """One run: the rate, the audience and the residents writing meanwhile."""

    key: str
    label: str
    rate: float
    recipients: int
    window: float | None  # pace runs: seconds measured from the first send; None: rows only
    residents: int
    residents_spread: float  # seconds over which the residents write (fewer if it ends sooner)


@dataclass
class RunResult:
    """What the fake API saw during one run."""

    mode: Mode
    broadcast: list[Send]  # broadcast sends in the measured window, accepted or not
    others: list[Send]  # every other sendMessage (the residents' replies)
    throttled: int
    startup: float  # bot process start → first broadcast send (pace runs)
    rows_seconds: float = 0.0  # bot process start → every delivery row written (million run)
    rows: int = 0
    pushes: dict[int, float] = field(default_factory=dict)  # resident chat → push time
    bot_exit: int | None = None
    #: CPU seconds per second of the bot process and of the fake (this process) while measured.
    cpu_share: tuple[float, float] = (0.0, 0.0)

    @property
    def delivered(self) -> list[Send]:
        """Accepted broadcast sends in the window."""
        return [s for s in self.broadcast if s.accepted]

    @property
    def rate(self) -> float:
        """Achieved deliveries per second from the first to the last accepted send."""
        times = [s.at for s in self.delivered]
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def latencies(self) -> tuple[list[float], int]:
        """Seconds from each resident's push to the first accepted reply; and how many got none."""
        replies: dict[int, list[float]] = {}
        for send in self.others:
            if send.accepted:
                replies.setdefault(send.chat_id, []).append(send.at)
        found, missing = [], 0
        for chat_id, pushed in self.pushes.items():
            later = [t for t in replies.get(chat_id, []) if t >= pushed]
            if later:
                found.append(min(later) - pushed)
            else:
                missing += 1
        return found, missing


# -- set-up -------------------------------------------------------------------------------


def write_config(directory: Path, mode: Mode) -> Path:
    """The bot's configuration for one run."""
    path = directory / "config.toml"
    path.write_text(CONFIG.format(admin=ADMIN_ID, rate=mode.rate), encoding="utf-8")
    return path


async def seed(config: Path, mode: Mode) -> None:
    """Recipients subscribed to the Bahnhofsvorstadt, other residents, and one due broadcast."""
    repos = Repositories.create(load_config(config))
    await repos.db.open()
    now = "2026-01-01T00:00:00Z"
    recipients = range(FIRST_RECIPIENT, FIRST_RECIPIENT + mode.recipients)
    others = range(FIRST_RESIDENT, FIRST_RESIDENT + mode.residents)
    await repos.db.executemany(
        "INSERT INTO residents (user_id, language, quarter_id, first_seen, last_seen) "
        "VALUES (?, ?, ?, ?, ?)",
        itertools.chain(
            ((i, "de", "bahnhofsvorstadt", now, now) for i in recipients),
            ((i, "en", "huenertshagen", now, now) for i in others),
        ),
    )
    await repos.db.executemany(
        "INSERT INTO subscriptions (user_id, quarter_id, created_at) VALUES (?, ?, ?)",
        ((i, "bahnhofsvorstadt", now) for i in recipients),
    )
    await repos.broadcasts.create(
        created_by=ADMIN_ID,
        quarters=["bahnhofsvorstadt"],
        topic_id=None,
        language=None,
        text=BROADCAST_TEXT,
        photo_file_id=None,
        scheduled_at=datetime.now(UTC),
    )
    await repos.db.close()


def start_bot(
    api: LimitedBotApi, config: Path, log: BinaryIO, profile: Path | None
) -> subprocess.Popen[bytes]:
    """`python -m bot run` against the fake API, optionally under cProfile."""
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    command += ["-m", "bot", "run", "--config", str(config)]
    env = {**api.bot_env(), "QUARTIERBOT_LOG_LEVEL": "INFO"}
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=config.parent
    )


def stop_bot(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM and wait, as systemd would."""
    process.terminate()
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=10)


# -- during the run -----------------------------------------------------------------------


def is_recipient(chat_id: int) -> bool:
    """Whether a chat is one of the broadcast's recipients."""
    return FIRST_RECIPIENT <= chat_id < FIRST_RESIDENT


def is_reply(send: Send) -> bool:
    """Whether a send is an accepted message to someone who is not a recipient."""
    return send.accepted and not is_recipient(send.chat_id)


def broadcast_sends(api: LimitedBotApi) -> list[Send]:
    """The broadcast's sendMessage calls so far (a snapshot)."""
    return [s for s in list(api.sends) if is_recipient(s.chat_id)]


def wait_until(
    condition: str,
    check: Callable[[], float | bool | None],
    process: subprocess.Popen[bytes],
    timeout: float,
) -> float:
    """Poll `check()` until it returns a time (or True: now); that time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found is True:
            return time.monotonic()
        if found:
            return float(found)
        if process.poll() is not None:
            raise RuntimeError(f"the bot exited with {process.returncode} before {condition}")
        time.sleep(0.02)
    raise RuntimeError(f"no {condition} within {timeout:g} s")


def first_broadcast_send(api: LimitedBotApi) -> float | None:
    """When the bot's first broadcast send reached the fake, if it did."""
    sends = broadcast_sends(api)
    return sends[0].at if sends else None


def rows_written(database: Path) -> bool:
    """Whether broadcast #1 has all its delivery rows (it turns 'sending' after the last one)."""
    with sqlite3.connect(database, timeout=10) as conn:
        row = conn.execute("SELECT status FROM broadcasts WHERE id = 1").fetchone()
    return row is not None and row[0] != "scheduled"


def count_rows(database: Path) -> int:
    """Delivery rows of broadcast #1."""
    with sqlite3.connect(database, timeout=10) as conn:
        row = conn.execute("SELECT count(*) FROM deliveries WHERE broadcast_id = 1").fetchone()
    return int(row[0])


def residents_write(
    api: LimitedBotApi, mode: Mode, pushes: dict[int, float], over: threading.Event
) -> threading.Thread:
    """In the background: residents (not recipients) write evenly spread, while it runs."""

    def write() -> None:
        """Push each resident's message at its planned moment; none after the end."""
        start = time.monotonic()
        step = mode.residents_spread / max(1, mode.residents)
        for n in range(mode.residents):
            if over.wait(max(0.0, start + n * step - time.monotonic())):
                return
            user = FakeUser(id=FIRST_RESIDENT + n, first_name="R", language_code="en")
            pushes[user.id] = time.monotonic()
            api.push_message(user, RESIDENT_TEXTS[n % len(RESIDENT_TEXTS)])

    thread = threading.Thread(target=write, name="residents", daemon=True)
    thread.start()
    return thread


def wait_for_replies(api: LimitedBotApi, pushes: dict[int, float], timeout: float) -> None:
    """Until every resident who wrote got an accepted reply, or `timeout` passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = {s.chat_id for s in list(api.sends) if is_reply(s)}
        if answered >= pushes.keys():
            return
        time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_mode(mode: Mode, profile_dir: Path | None) -> RunResult:
    """Seed, start the bot, measure one broadcast, stop the bot."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{mode.key}-") as tmp:
        config = write_config(Path(tmp), mode)
        asyncio.run(seed(config, mode))
        database = Path(tmp) / "bot.sqlite3"
        with LimitedBotApi() as api, (Path(tmp) / "bot.log").open("ab") as log:
            profile = profile_dir / f"bot-{mode.key}.prof" if profile_dir else None
            started = time.monotonic()
            process = start_bot(api, config, log, profile)
            pushes: dict[int, float] = {}
            over = threading.Event()
            try:
                # Pace runs measure from the first broadcast send, the million run from polling.
                if mode.window is None:
                    api.wait_polling(timeout=START_TIMEOUT)
                    first = time.monotonic()
                else:
                    first = wait_until(
                        "a send", lambda: first_broadcast_send(api), process, START_TIMEOUT
                    )
                cpu = (cpu_seconds(process.pid), time.process_time())
                writer = residents_write(api, mode, pushes, over)
                if mode.window is None:
                    end = wait_until(
                        "every delivery row", lambda: rows_written(database), process, ROWS_TIMEOUT
                    )
                else:
                    time.sleep(max(0.0, first + mode.window - time.monotonic()))
                    end = first + mode.window
                cpu = (cpu_seconds(process.pid) - cpu[0], time.process_time() - cpu[1])
                over.set()
                writer.join(timeout=REPLY_GRACE)
                wait_for_replies(api, pushes, REPLY_GRACE)
            finally:
                over.set()
                exit_code = stop_bot(process)
            sends = list(api.sends)
        rows = count_rows(database) if mode.window is None else 0
        keep_log(Path(tmp) / "bot.log", mode, exit_code)
        return RunResult(
            mode=mode,
            broadcast=[s for s in sends if is_recipient(s.chat_id) and s.at <= end],
            others=[s for s in sends if not is_recipient(s.chat_id)],
            throttled=sum(1 for s in sends if not s.accepted),
            startup=first - started,
            rows_seconds=end - started if mode.window is None else 0.0,
            rows=rows,
            pushes=pushes,
            bot_exit=exit_code,
            cpu_share=(cpu[0] / (end - first), cpu[1] / (end - first)),
        )


def keep_log(log: Path, mode: Mode, exit_code: int) -> None:
    """Copy the bot's log next to the results (for diagnosis); show its end if the bot failed."""
    text = log.read_text(encoding="utf-8", errors="replace")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"broadcast-{mode.key}.log").write_text(text, encoding="utf-8")
    if exit_code != 0:
        print(f"bot ({mode.key}) exited with {exit_code}:\n{text[-3000:]}", file=sys.stderr)


# -- the report ---------------------------------------------------------------------------


def max_in_window(sends: Sequence[Send], window: float = 1.0) -> int:
    """The most accepted sends in any sliding window."""
    times = [s.at for s in sends if s.accepted]
    best, lo = 0, 0
    for hi, at in enumerate(times):
        while times[lo] <= at - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def gaps_ms(sends: Sequence[Send]) -> dict[str, float]:
    """Percentiles of the gaps between consecutive accepted sends, in ms."""
    times = [s.at for s in sends if s.accepted]
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
    return {
        "p50": round(percentile(gaps, 0.5), 2),
        "p99": round(percentile(gaps, 0.99), 2),
        "max": round(max(gaps, default=0.0), 2),
    }


def add_rows(report: Report, result: RunResult) -> None:
    """The rows of one run."""
    mode = result.mode
    name = mode.label
    if mode.window is not None:
        ratio = result.rate / mode.rate
        report.add(f"{name}: achieved/configured", ratio, "ratio", "≥ 0.95", ratio >= 0.95)
        report.add(f"{name}: 429 answers", result.throttled, "count", "0", result.throttled == 0)
        report.add(f"{name}: achieved rate", result.rate, "msg/s")
        report.add(f"{name}: delivered in window", len(result.delivered), "count")
    else:
        seconds = result.rows_seconds
        report.add(f"{name}: rows written after", seconds, "s", "≤ 30", seconds <= 30)
        complete = result.rows == mode.recipients
        report.add(f"{name}: rows", result.rows, "count", f"= {mode.recipients:,}", complete)
        report.add(f"{name}: 429 answers", result.throttled, "count", "0", result.throttled == 0)
    if mode.residents:
        latencies, missing = result.latencies()
        p99 = percentile(latencies, 0.99) * 1000 if not missing else float("inf")
        report.add(f"{name}: reply p50", percentile(latencies, 0.5) * 1000, "ms")
        report.add(f"{name}: reply p99", p99, "ms", "≤ 1000", p99 <= 1000)


def run_details(result: RunResult) -> dict[str, object]:
    """Window, counts and send timing of one run for the JSON file."""
    delivered = result.delivered
    latencies, missing = result.latencies()
    span = delivered[-1].at - delivered[0].at if len(delivered) > 1 else 0.0
    return {
        "configured rate": result.mode.rate,
        "recipients": result.mode.recipients,
        "window s (first→last send)": round(span, 2),
        "window planned s": result.mode.window,
        "startup s (process start → first send, or → polling)": round(result.startup, 2),
        "rows written s (process start → all rows)": round(result.rows_seconds, 2),
        "broadcast sends accepted": len(delivered),
        "broadcast 429": sum(1 for s in result.broadcast if not s.accepted),
        "broadcast 429 by limit": dict(
            collections.Counter(s.refused for s in result.broadcast if not s.accepted)
        ),
        "reply 429": sum(1 for s in result.others if not s.accepted),
        "max accepted in any 1 s": max_in_window(delivered),
        "gap between sends ms": gaps_ms(delivered),
        "residents who wrote": len(result.pushes),
        "replies missing": missing,
        "reply ms p50/p99/max": [
            round(percentile(latencies, q) * 1000, 1) for q in (0.5, 0.99, 1.0)
        ],
        "CPU share bot / fake API (1.0 = one core)": [round(c, 2) for c in result.cpu_share],
        "bot exit status": result.bot_exit,
    }


def modes(window: float) -> list[Mode]:
    """25/s and 30/s over a fixed window, then the million recipients' rows."""
    return [
        Mode("pace25", "25/s", 25.0, 10_000, window, 100, window - 2.0),
        Mode("pace30", "30/s", 30.0, 10_000, window, 0, 0.0),
        Mode("million", "1,000,000 recipients", 25.0, 1_000_000, None, 300, 30.0),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broadcast")
    parser.add_argument("--window", type=float, default=25.0, help="pace runs' window, s")
    parser.add_argument("--profile", type=Path, help="write cProfile files of the bot here")
    parser.add_argument("--only", help="run only this one (pace25, pace30, million)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the modes; exit status from the report."""
    args = parse_args(argv)
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    report = Report("broadcast")
    started = time.monotonic()
    report.details["load average at start"] = os.getloadavg()
    for mode in modes(args.window):
        if args.only and mode.key != args.only:
            continue
        result = run_mode(mode, args.profile)
        add_rows(report, result)
        report.details[mode.key] = run_details(result)
    report.details["pace note"] = (
        f"10,000 at 25/s take ~400 s: the pace runs are measured over {args.window:g} s from the "
        "first broadcast send (start-up excluded); the 30/s run has no resident traffic "
        "(Telegram's limit leaves it no room for replies)"
    )
    report.details["limits"] = (
        "sliding 1 s windows at the fake: ≤ 30 sendMessage/s in all, ≤ 1 message/s per chat; "
        "429 retry_after=1; only accepted calls count"
    )
    report.details["load average at end"] = os.getloadavg()
    report.details["total seconds"] = round(time.monotonic() - started, 1)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
