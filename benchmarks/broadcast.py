"""Broadcast delivery through the real HTTP stack against a fake Bot API that enforces limits.

`python -m benchmarks.broadcast` seeds 10,000 subscribed residents and one due broadcast into a
fresh database, starts the real bot (`python -m bot run`, its own process and interpreter, as in
production) against benchmarks/limited_api.py, and measures from the server's side:

* normal mode (25/s, then 30/s, one send in flight): the achieved rate over a fixed window from
  the first broadcast send (start-up excluded). 10,000 at 25/s take ~400 s, so the window's
  deliveries and the extrapolated total time are reported instead of a full run;
* paid mode (1000/s, `allow_paid_broadcast`, 50 in flight): all 10,000 (at most 45 s), and its
  rate against the configured rate; two baselines at the same 50 in flight, each a client in its
  own process: the fake's capacity (HTTP/1.1 written by hand, the least client work) and a bare
  httpx client (python-telegram-bot's HTTP stack without the bot);
* 429 answers provoked, and while the broadcast runs ~100 other residents (not recipients) send
  `/help` or `/hours …`: the time from the push to the bot's reply reaching the fake API (25/s
  and paid runs; the 30/s run leaves no room under Telegram's limit for replies).

`--profile DIR` runs the bot under cProfile (one .prof file per mode) for diagnosis.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode, urlsplit

import httpx

from benchmarks.common import RESULTS_DIR, Report, percentile
from benchmarks.limited_api import PAID_LIMIT, LimitedBotApi, Limits, Send
from bot.config import load_config
from bot.repositories import Repositories
from tests.fakebotapi import FakeUser

RECIPIENTS = 10_000
FIRST_RECIPIENT = 5_000_000
FIRST_RESIDENT = 6_000_000
BROADCAST_TEXT = "Straßenfest am <b>Samstag</b>!"
RESIDENT_TEXTS = ("/help", "/hours bahnhofsvorstadt")
ADMIN_ID = 900001
#: Seconds to wait for the bot's first broadcast send; at most this long for the paid run.
START_TIMEOUT = 30.0
PAID_MAX_SECONDS = 45.0
#: The paid run's residents write over this long (fewer if the broadcast ends sooner).
PAID_RESIDENTS_SPREAD = 15.0
REPLY_GRACE = 3.0
#: Seconds between the capacity client's connection starts.
RAMP_STEP = 0.01
CAPACITY_SECONDS = 3.0
#: What the bot uses in paid mode (`max_in_flight` default), and so the capacity client too.
PAID_IN_FLIGHT = 50

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
allow_paid_broadcast = {paid}
"""


@dataclass(frozen=True)
class Mode:
    """One run: the bot's broadcast settings and how long to measure."""

    key: str
    label: str
    rate: float
    paid: bool
    window: float | None  # measured seconds from the first send; None: until all delivered
    residents: int
    residents_spread: float  # seconds over which the residents write


@dataclass
class RunResult:
    """What the fake API saw during one run."""

    mode: Mode
    broadcast: list[Send]  # broadcast sends in the measured window, accepted or not
    others: list[Send]  # every other sendMessage (the residents' replies)
    throttled: int
    startup: float  # bot process start → first broadcast send
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
    """The bot's configuration for one mode."""
    path = directory / "config.toml"
    text = CONFIG.format(admin=ADMIN_ID, rate=mode.rate, paid=str(mode.paid).lower())
    path.write_text(text, encoding="utf-8")
    return path


async def seed(config: Path, residents: int) -> None:
    """Recipients subscribed to the Bahnhofsvorstadt, other residents, and one due broadcast."""
    repos = Repositories.create(load_config(config))
    await repos.db.open()
    now = "2026-01-01T00:00:00Z"
    recipients = range(FIRST_RECIPIENT, FIRST_RECIPIENT + RECIPIENTS)
    others = range(FIRST_RESIDENT, FIRST_RESIDENT + residents)
    await repos.db.executemany(
        "INSERT INTO residents (user_id, language, quarter_id, first_seen, last_seen) "
        "VALUES (?, ?, ?, ?, ?)",
        [(i, "de", "bahnhofsvorstadt", now, now) for i in recipients]
        + [(i, "en", "huenertshagen", now, now) for i in others],
    )
    await repos.db.executemany(
        "INSERT INTO subscriptions (user_id, quarter_id, created_at) VALUES (?, ?, ?)",
        [(i, "bahnhofsvorstadt", now) for i in recipients],
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
    return FIRST_RECIPIENT <= chat_id < FIRST_RECIPIENT + RECIPIENTS


def is_reply(send: Send) -> bool:
    """Whether a send is an accepted message to someone who is not a recipient."""
    return send.accepted and not is_recipient(send.chat_id)


def broadcast_sends(api: LimitedBotApi) -> list[Send]:
    """The broadcast's sendMessage calls so far (a snapshot)."""
    return [s for s in list(api.sends) if is_recipient(s.chat_id)]


def first_broadcast_send(api: LimitedBotApi, process: subprocess.Popen[bytes]) -> float:
    """Wait until the bot's first broadcast send reaches the fake; its time."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        sends = broadcast_sends(api)
        if sends:
            return sends[0].at
        if process.poll() is not None:
            raise RuntimeError(f"the bot exited with {process.returncode} before broadcasting")
        time.sleep(0.02)
    raise RuntimeError("no broadcast send within the start-up timeout")


def residents_write(
    api: LimitedBotApi, mode: Mode, pushes: dict[int, float], over: threading.Event
) -> threading.Thread:
    """In the background: residents (not recipients) write evenly spread, while it runs."""

    def write() -> None:
        """Push each resident's message at its planned moment; none after the broadcast."""
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


def wait_for_end(api: LimitedBotApi, mode: Mode, first: float) -> None:
    """Until the window has passed, or (no window) until every recipient got the broadcast."""
    if mode.window is not None:
        time.sleep(max(0.0, first + mode.window - time.monotonic()))
        return
    while time.monotonic() < first + PAID_MAX_SECONDS:
        if len({s.chat_id for s in broadcast_sends(api) if s.accepted}) >= RECIPIENTS:
            return
        time.sleep(0.1)


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
        asyncio.run(seed(config, mode.residents))
        limits = Limits(paid=PAID_LIMIT if mode.paid else None)
        with LimitedBotApi(limits) as api, (Path(tmp) / "bot.log").open("ab") as log:
            profile = profile_dir / f"bot-{mode.key}.prof" if profile_dir else None
            started = time.monotonic()
            process = start_bot(api, config, log, profile)
            try:
                first = first_broadcast_send(api, process)
                cpu = (cpu_seconds(process.pid), time.process_time())
                pushes: dict[int, float] = {}
                over = threading.Event()
                writer = residents_write(api, mode, pushes, over)
                wait_for_end(api, mode, first)
                end = first + mode.window if mode.window is not None else time.monotonic()
                cpu = (cpu_seconds(process.pid) - cpu[0], time.process_time() - cpu[1])
                over.set()
                writer.join(timeout=REPLY_GRACE)
                wait_for_replies(api, pushes, REPLY_GRACE)
            finally:
                exit_code = stop_bot(process)
            sends = list(api.sends)
        keep_log(Path(tmp) / "bot.log", mode, exit_code)
        return RunResult(
            mode=mode,
            broadcast=[s for s in sends if is_recipient(s.chat_id) and s.at <= end],
            others=[s for s in sends if not is_recipient(s.chat_id)],
            throttled=sum(1 for s in sends if not s.accepted),
            startup=first - started,
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


# -- the server-capacity baselines --------------------------------------------------------


def form(chat: int) -> dict[str, str]:
    """A paid broadcast's sendMessage fields, as python-telegram-bot posts them."""
    return {
        "chat_id": str(chat),
        "text": BROADCAST_TEXT,
        "parse_mode": "HTML",
        "allow_paid_broadcast": "true",
    }


async def httpx_worker(client: httpx.AsyncClient, url: str, chat: int, step: int) -> int:
    """Bare httpx: send to distinct chats until the deadline; returns answers."""
    answered, deadline = 0, time.monotonic() + CAPACITY_SECONDS
    while time.monotonic() < deadline:
        response = await client.post(url, data=form(chat))
        response.raise_for_status()
        answered, chat = answered + 1, chat + step
    return answered


async def raw_worker(url: str, chat: int, step: int) -> int:
    """Keep-alive HTTP/1.1 written by hand on one connection: the least client work per call."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    answered, deadline = 0, time.monotonic() + CAPACITY_SECONDS
    try:
        while time.monotonic() < deadline:
            body = urlencode(form(chat)).encode()
            head = (
                f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            writer.write(head.encode() + body)
            answered, chat = answered + await read_response(reader), chat + step
    finally:
        writer.close()
    return answered


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP response; 1 if it was a 200."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(v.split(b":")[1]) for v in lines if v.lower().startswith(b"content-length"))
    await reader.readexactly(length)
    return int(lines[0].split(b" ")[1] == b"200")


async def hammer(kind: str, url: str, concurrency: int) -> int:
    """`concurrency` workers of one kind (httpx or raw); connections open one by one."""

    async def worker(n: int, client: httpx.AsyncClient) -> int:
        """One worker, started after its place in the ramp."""
        # The fake's listen backlog is small: a burst of connects would get resets.
        await asyncio.sleep(n * RAMP_STEP)
        if kind == "raw":
            return await raw_worker(url, FIRST_RECIPIENT + n, concurrency)
        return await httpx_worker(client, url, FIRST_RECIPIENT + n, concurrency)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        return sum(await asyncio.gather(*(worker(n, client) for n in range(concurrency))))


def server_capacity(kind: str, concurrency: int) -> float:
    """sendMessage answered per second by the fake to a bare client in its own process.

    Measured at the fake, after the client's connection ramp, with limits that never bind.
    """
    with LimitedBotApi(Limits(paid=10**9)) as api:
        url = f"{api.base_url}{api.token}/sendMessage"
        command = [sys.executable, "-m", "benchmarks.broadcast", "--client", kind, "--url", url]
        command += ["--concurrency", str(concurrency)]
        subprocess.run(command, check=True, timeout=CAPACITY_SECONDS + 30)
        times = [s.at for s in api.sends if s.accepted]
    steady = [t for t in times if t >= times[0] + concurrency * RAMP_STEP] if times else []
    return (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0


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


def add_mode_rows(report: Report, result: RunResult, baselines: tuple[float, float] | None) -> None:
    """The rows of one mode; `baselines` (paid mode): the fake's capacity and bare httpx's rate."""
    mode, rate = result.mode, result.rate
    name = mode.label
    capacity = baselines[0] if baselines else mode.rate
    # The goal is the configured rate, unless the fake itself cannot serve that many.
    attainable = min(mode.rate, capacity)
    ratio = rate / attainable
    label = "configured" if attainable == mode.rate else "fake API capacity"
    report.add(f"{name}: achieved/{label}", ratio, "ratio", "≥ 0.95", ratio >= 0.95)
    if baselines:
        report.add(f"{name}: achieved/bare httpx", rate / baselines[1], "ratio")
    report.add(f"{name}: 429 answers", result.throttled, "count", "0", result.throttled == 0)
    report.add(f"{name}: achieved rate", rate, "msg/s")
    delivered = len({s.chat_id for s in result.delivered})
    if mode.window is None:
        complete = delivered >= RECIPIENTS
        report.add(f"{name}: delivered", delivered, "count", f"= {RECIPIENTS:,}", complete)
    else:
        report.add(f"{name}: delivered in window", delivered, "count")
        report.add(f"{name}: extrapolated 10,000", RECIPIENTS / rate if rate else 0, "s")
    if mode.residents:
        latencies, missing = result.latencies()
        p99 = percentile(latencies, 0.99) * 1000 if not missing else float("inf")
        report.add(f"{name}: reply p50", percentile(latencies, 0.5) * 1000, "ms")
        report.add(f"{name}: reply p99", p99, "ms", "≤ 1000", p99 <= 1000)


def mode_details(result: RunResult) -> dict[str, object]:
    """Window, counts and send timing of one mode for the JSON file."""
    delivered = result.delivered
    latencies, missing = result.latencies()
    span = delivered[-1].at - delivered[0].at if len(delivered) > 1 else 0.0
    return {
        "configured rate": result.mode.rate,
        "paid": result.mode.paid,
        "window s (first→last send)": round(span, 2),
        "window planned s": result.mode.window,
        "startup s (process start → first send)": round(result.startup, 2),
        "broadcast sends accepted": len(delivered),
        "broadcast 429": sum(1 for s in result.broadcast if not s.accepted),
        "broadcast 429 by limit": dict(
            collections.Counter(s.refused for s in result.broadcast if not s.accepted)
        ),
        "reply 429": sum(1 for s in result.others if not s.accepted),
        "max accepted in any 1 s": max_in_window(delivered),
        "gap between sends ms": gaps_ms(delivered),
        "residents who wrote": len(result.pushes),
        "resident messages/s": round(result.mode.residents / result.mode.residents_spread, 2)
        if result.mode.residents
        else 0,
        "replies missing": missing,
        "reply ms p50/p99/max": [
            round(percentile(latencies, q) * 1000, 1) for q in (0.5, 0.99, 1.0)
        ],
        "CPU share bot / fake API (1.0 = one core)": [round(c, 2) for c in result.cpu_share],
        "bot exit status": result.bot_exit,
    }


def modes(window: float) -> list[Mode]:
    """Normal mode at 25/s and at 30/s over a fixed window, then paid mode to the end."""
    return [
        Mode("normal25", "normal 25/s", 25.0, False, window, 100, window - 2.0),
        Mode("normal30", "normal 30/s", 30.0, False, window, 0, 0.0),
        Mode("paid1000", "paid 1000/s", 1000.0, True, None, 100, PAID_RESIDENTS_SPREAD),
    ]


def measure_capacity(report: Report) -> tuple[float, float]:
    """The fake's capacity (raw client) and a bare httpx client's rate, just before the paid run."""
    raw = server_capacity("raw", PAID_IN_FLIGHT)
    bare = server_capacity("httpx", PAID_IN_FLIGHT)
    report.add(f"fake API capacity (raw HTTP, {PAID_IN_FLIGHT} in flight)", raw, "msg/s")
    report.add(f"bare httpx client ({PAID_IN_FLIGHT} in flight)", bare, "msg/s")
    return raw, bare


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line: the benchmark, or (internal) the bare capacity client."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broadcast")
    parser.add_argument("--window", type=float, default=25.0, help="normal-mode window, s")
    parser.add_argument("--profile", type=Path, help="write cProfile files of the bot here")
    parser.add_argument("--only", help="run only this mode (normal25, normal30, paid1000)")
    parser.add_argument("--client", choices=("raw", "httpx"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=PAID_IN_FLIGHT, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the modes and the capacity baseline; exit status from the report."""
    args = parse_args(argv)
    if args.client:
        asyncio.run(hammer(args.client, args.url, args.concurrency))
        return 0
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    report = Report("broadcast")
    started = time.monotonic()
    report.details["load average at start"] = os.getloadavg()
    for mode in modes(args.window):
        if args.only and mode.key != args.only:
            continue
        baselines = measure_capacity(report) if mode.paid else None
        result = run_mode(mode, args.profile)
        add_mode_rows(report, result, baselines)
        report.details[mode.key] = mode_details(result)
    report.details["normal-mode note"] = (
        f"10,000 at 25/s take ~400 s: normal modes are measured over {args.window:g} s from the "
        "first broadcast send (start-up excluded) and extrapolated; the 30/s run has no resident "
        "traffic (Telegram's limit leaves it no headroom for replies)"
    )
    report.details["limits"] = (
        "sliding 1 s windows at the fake: free calls ≤ 30/s (free calls only), paid calls ≤ "
        "1000/s (all calls), ≤ 1 message/s per chat; 429 retry_after=1; only accepted calls count"
    )
    report.details["baselines"] = (
        "clients in their own process against the same fake with limits that never bind: "
        "'raw HTTP' writes HTTP/1.1 by hand (what the fake can serve), 'bare httpx' is the bot's "
        "HTTP stack without python-telegram-bot and without the engine"
    )
    report.details["load average at end"] = os.getloadavg()
    report.details["total seconds"] = round(time.monotonic() - started, 1)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
