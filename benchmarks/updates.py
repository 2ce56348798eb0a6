"""`python -m benchmarks.updates`: updates handled per second in-process, and their latency.

Our application (bot.app.build_application over a seeded SQLite file) handles pre-built Update
objects through `Application.process_update`; two peer python-telegram-bot applications are
measured in the same run, on the same event loop, with the same in-process fake Bot API:

* read peer: one MessageHandler(filters.TEXT) that reads the sender's row with one aiosqlite
  query and replies;
* write peer: the same, with one aiosqlite upsert + commit instead of the read.

Both peers use their own SQLite file with exactly our connection pragmas (storage.db.configure:
WAL, synchronous=FULL, foreign_keys, busy_timeout, secure_delete). The ratios (ours / peer)
compare handler and storage work only: no network, no JSON encoding of requests, the same canned
answers. `--scale` seeds 1,000,000 residents and 2,000,000 concerns instead of 50,000 / 100,000.
`--profile` adds a cProfile pass per mix.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import itertools
import logging
import os
import pstats
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CallbackContext, MessageHandler, filters
from telegram.request import RequestData

from benchmarks._fixtures import Person, Seed, create_repositories, seed
from benchmarks.common import RESULTS_DIR, Report, median, percentile
from bot.app import build_application
from bot.context import QuartierApplication
from bot.menu import MENU_EVENTS, MENU_HELP, MENU_HOURS, MENU_MY_CONCERNS
from bot.offline import OfflineRequest
from bot.repositories import Repositories
from storage.db import configure

BOT_ID = 5550001
TOKEN = f"{BOT_ID}:BENCH-token-abcdefghijklmnopqrstuvwxyz"
READ_UPDATES = 3000
WRITE_UPDATES = 1500
WARMUP_READ = 400
WARMUP_WRITE_UNITS = 20
PROBE_PER_KIND = 20
PROFILE_READ = 1500
PROFILE_WRITE_UNITS = 60
ROUNDS = 6
ECHO_TEXT = "Hallo! Ist das Quartiersbüro heute geöffnet?"
DESCRIPTION = "Die Straßenlaterne vor Hausnummer 12 ist seit einer Woche kaputt."

AnyApp = Application[Any, Any, Any, Any, Any, Any]
Item = tuple[str, Update]
RawItem = tuple[str, dict[str, Any]]

# -- the fake Bot API -----------------------------------------------------------------------

_NOW = int(time.time())
_MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendLocation",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
    }
)
_TRUE = b'{"ok":true,"result":true}'
_GET_ME = (
    b'{"ok":true,"result":{"id":%d,"is_bot":true,"first_name":"Quartierbot",'
    b'"username":"quartier_bench_bot","can_join_groups":true,'
    b'"can_read_all_group_messages":false,"supports_inline_queries":false}}' % BOT_ID
)
_MESSAGE = (
    '{"ok":true,"result":{"message_id":%d,"date":%d,"chat":{"id":%d,"type":"%s"},'
    '"from":{"id":%d,"is_bot":true,"first_name":"Quartierbot"}}}'
)


class CannedRequest(OfflineRequest):
    """Answers every Bot API call at once with canned JSON; keeps only a count per method.

    Overrides `do_request` itself: pre-encoded answers keep the fake's own cost (json.dumps per
    call) out of the ratio, which should compare handler and storage work only.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._ids = itertools.count(1)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """The answer Telegram would give, without recording the request."""
        api_method = url.rpartition("/")[2]
        self.calls[api_method] += 1
        if api_method in _MESSAGE_METHODS:
            return 200, self._message(request_data)
        if api_method == "getMe":
            return 200, _GET_ME
        return 200, _TRUE

    def _message(self, request_data: RequestData | None) -> bytes:
        """A sent or edited message in the addressed chat."""
        params = request_data.parameters if request_data is not None else {}
        chat_id = int(str(params.get("chat_id", 0)))
        message_id = int(str(params.get("message_id") or next(self._ids)))
        kind = "private" if chat_id > 0 else "supergroup"
        return (_MESSAGE % (message_id, _NOW, chat_id, kind, BOT_ID)).encode()


class ErrorCounter(logging.Handler):
    """Counts ERROR records (failed handlers are logged, never raised, by PTB)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Count one error."""
        self.count += 1


# -- raw updates ----------------------------------------------------------------------------

_update_ids = itertools.count(1)


def message_raw(user_id: int, language: str, text: str) -> dict[str, Any]:
    """A private-chat text message as Telegram sends it (commands with their entity)."""
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": _NOW,
        "chat": {"id": user_id, "type": "private"},
        "from": {
            "id": user_id,
            "is_bot": False,
            "first_name": "Resident",
            "language_code": language,
        },
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": next(_update_ids), "message": message}


def callback_raw(user_id: int, language: str, data: str) -> dict[str, Any]:
    """A button press under an earlier bot message in the private chat."""
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": {"id": user_id, "is_bot": False, "first_name": "R", "language_code": language},
            "chat_instance": "bench",
            "data": data,
            "message": {
                "message_id": next(_update_ids),
                "date": _NOW,
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Quartierbot"},
                "text": "…",
            },
        },
    }


# -- workloads ------------------------------------------------------------------------------

ReadBuilder = Callable[[Person, Repositories, Seed, random.Random], dict[str, Any]]


def _menu(label: str) -> ReadBuilder:
    """A reply-keyboard button press in the resident's language."""

    def build(p: Person, repos: Repositories, seed_: Seed, rng: random.Random) -> dict[str, Any]:
        """The translated label as typed text."""
        text = repos.catalogs.translator(p.language)._(label)
        return message_raw(p.user_id, p.language, text)

    return build


def _command(text: str) -> ReadBuilder:
    """A fixed command."""

    def build(p: Person, repos: Repositories, seed_: Seed, rng: random.Random) -> dict[str, Any]:
        """The command from this resident."""
        return message_raw(p.user_id, p.language, text)

    return build


def _hours_other(p: Person, repos: Repositories, seed_: Seed, rng: random.Random) -> dict[str, Any]:
    """/hours with a quarter id."""
    return message_raw(p.user_id, p.language, f"/hours {rng.choice(repos.config.quarter_ids)}")


def _hours_button(
    p: Person, repos: Repositories, seed_: Seed, rng: random.Random
) -> dict[str, Any]:
    """The quarter button under /hours."""
    return callback_raw(p.user_id, p.language, f"hours:{rng.choice(repos.config.quarter_ids)}")


def _ics_button(p: Person, repos: Repositories, seed_: Seed, rng: random.Random) -> dict[str, Any]:
    """'Add to calendar' under an event (sends an .ics document)."""
    return callback_raw(p.user_id, p.language, f"ev:ics:{rng.choice(seed_.upcoming_event_ids)}")


READ_KINDS: dict[str, ReadBuilder] = {
    "/hours": _command("/hours"),
    "/hours <quarter>": _hours_other,
    "/events": _command("/events"),
    "/help": _command("/help"),
    "/myconcerns": _command("/myconcerns"),
    "menu hours": _menu(MENU_HOURS),
    "menu events": _menu(MENU_EVENTS),
    "menu my concerns": _menu(MENU_MY_CONCERNS),
    "menu help": _menu(MENU_HELP),
    "button hours:<quarter>": _hours_button,
    "button ev:ics:<id>": _ics_button,
}


#: Read-only updates one resident sends in a row: people open the chat and tap a few buttons
#: (hours, then events, then a calendar file); a new resident starts every SESSION_UPDATES.
SESSION_UPDATES = 4


def read_mix(
    repos: Repositories,
    seed_: Seed,
    count: int,
    rng: random.Random,
    session: int = SESSION_UPDATES,
) -> list[RawItem]:
    """`count` read-only updates, the kinds in turn, in sessions of random residents.

    `session=1`: every update from another resident.
    """
    kinds = itertools.cycle(READ_KINDS.items())
    items: list[RawItem] = []
    while len(items) < count:
        person = rng.choice(seed_.readers)
        for name, build in itertools.islice(kinds, min(session, count - len(items))):
            items.append((name, build(person, repos, seed_, rng)))
    return items


def write_unit(p: Person, topic: str, quarter: str) -> list[RawItem]:
    """A whole first concern (with consent) and a /subscribe from one fresh resident."""
    uid, lang = p.user_id, p.language
    return [
        ("/concern", message_raw(uid, lang, "/concern")),
        ("button ctopic", callback_raw(uid, lang, f"ctopic:{topic}")),
        ("text description", message_raw(uid, lang, DESCRIPTION)),
        ("button ccontact:yes", callback_raw(uid, lang, "ccontact:yes")),
        ("button cconsent:yes", callback_raw(uid, lang, "cconsent:yes")),
        ("button cflow:submit", callback_raw(uid, lang, "cflow:submit")),
        ("/subscribe <quarter>", message_raw(uid, lang, f"/subscribe {quarter}")),
    ]


def write_units(
    repos: Repositories, people: Sequence[Person], rng: random.Random
) -> list[list[RawItem]]:
    """One unit per fresh resident."""
    topics = [topic.id for topic in repos.config.topics]
    quarters = repos.config.quarter_ids
    return [write_unit(p, rng.choice(topics), rng.choice(quarters)) for p in people]


WRITE_KINDS = [kind for kind, _ in write_unit(Person(0, "de", "x"), "t", "q")]
UNIT_SIZE = len(WRITE_KINDS)


def plain_texts(
    people: Sequence[Person], count: int, kind: str, rng: random.Random
) -> list[RawItem]:
    """Plain text messages for the baselines, from existing residents."""
    return [
        (kind, message_raw(p.user_id, p.language, ECHO_TEXT))
        for p in (rng.choice(people) for _ in range(count))
    ]


def to_updates(raw: Sequence[RawItem], app: AnyApp) -> list[Item]:
    """Parse up front, bound to the application's bot (reply shortcuts need it)."""
    return [(kind, Update.de_json(data, app.bot)) for kind, data in raw]


def split_rounds(items: list[Item], rounds: int, step: int = 1) -> list[list[Item]]:
    """Split a workload into `rounds` consecutive parts, at multiples of `step` updates."""
    size = -(-len(items) // (rounds * step)) * step
    return [items[i : i + size] for i in range(0, len(items), size)]


def flatten(units: Sequence[Sequence[RawItem]]) -> list[RawItem]:
    """Units → one list of updates in order."""
    return [item for unit in units for item in unit]


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Measurement:
    """Latencies (seconds) per update and per kind, and the wall time of the loop."""

    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    #: Updates per second of each timed loop (one per round).
    per_round: list[float] = field(default_factory=list)
    #: Garbage collections during the timed loops, per generation, and their pauses.
    gc_runs: Counter[int] = field(default_factory=Counter)
    gc_seconds: float = 0.0
    gc_max_seconds: float = 0.0
    _gc_began: float = field(default=0.0, init=False, repr=False)

    def gc_callback(self, phase: str, info: dict[str, int]) -> None:
        """gc.callbacks hook: time every collection."""
        if phase == "start":
            self._gc_began = time.perf_counter()
            return
        pause = time.perf_counter() - self._gc_began
        self.gc_runs[info["generation"]] += 1
        self.gc_seconds += pause
        self.gc_max_seconds = max(self.gc_max_seconds, pause)

    @property
    def throughput(self) -> float:
        """Updates per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def run_items(
    app: AnyApp, items: Sequence[Item], into: Measurement, collect: bool = True
) -> None:
    """Feed the updates one after another, timing each `process_update`."""
    request = app.bot.request
    before = Counter(request.calls) if isinstance(request, CannedRequest) else Counter()
    if collect:
        gc.collect()
    clock = time.perf_counter
    gc.callbacks.append(into.gc_callback)
    start = clock()
    try:
        for kind, update in items:
            began = clock()
            await app.process_update(update)
            elapsed = clock() - began
            into.latencies.append(elapsed)
            into.by_kind[kind].append(elapsed)
    finally:
        elapsed_loop = clock() - start
        into.seconds += elapsed_loop
        into.per_round.append(len(items) / elapsed_loop if elapsed_loop else 0.0)
        gc.callbacks.remove(into.gc_callback)
    if isinstance(request, CannedRequest):
        into.calls.update(request.calls - before)


async def warm_up(app: AnyApp, items: Sequence[Item]) -> None:
    """Run updates without keeping their figures."""
    await run_items(app, items, Measurement())


# -- the applications -----------------------------------------------------------------------


async def start_ours(repos: Repositories) -> QuartierApplication:
    """Our application as the running bot has it after start (what post_init does, minus menus)."""
    app = build_application(repos, TOKEN, request=CannedRequest(), updates_request=CannedRequest())
    await repos.db.open()
    await app.initialize()
    return app


async def stop_ours(app: QuartierApplication, repos: Repositories) -> None:
    """Shut down like tests/recording.py."""
    await app.shutdown()
    await repos.db.close()


HandlerCallback = Callable[[Update, Any], Coroutine[Any, Any, None]]


async def start_peer(callback: HandlerCallback) -> AnyApp:
    """A plain python-telegram-bot application with one text handler."""
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .request(CannedRequest())
        .get_updates_request(CannedRequest())
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, callback))
    await app.initialize()
    return app


READ = "SELECT user_id, text, updates, last_seen FROM seen WHERE user_id = ?"
UPSERT = (
    "INSERT INTO seen (user_id, text, updates, last_seen) VALUES (?, ?, 1, ?) "
    "ON CONFLICT (user_id) DO UPDATE SET text = excluded.text, "
    "updates = seen.updates + 1, last_seen = excluded.last_seen"
)


class PeerBot:
    """A peer bot: per update one aiosqlite read (or one upsert + commit), then the reply."""

    def __init__(self, conn: aiosqlite.Connection, writes: bool) -> None:
        self.conn = conn
        self.writes = writes

    async def handle(self, update: Update, context: CallbackContext[Any, Any, Any, Any]) -> None:
        """Read or upsert the sender, reply."""
        message = update.message
        if message is None or message.from_user is None or message.text is None:
            return
        if self.writes:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            await self.conn.execute(UPSERT, (message.from_user.id, message.text, stamp))
            await self.conn.commit()
        else:
            await self.conn.execute_fetchall(READ, (message.from_user.id,))
        await message.reply_text(message.text)


async def open_peer_db(path: Path, people: Sequence[Person]) -> aiosqlite.Connection:
    """The peers' SQLite file with our pragmas and one row per resident."""
    conn = await aiosqlite.connect(path)
    await configure(conn)
    await conn.execute(
        "CREATE TABLE seen (user_id INTEGER PRIMARY KEY, text TEXT, updates INTEGER NOT NULL, "
        "last_seen TEXT NOT NULL) STRICT"
    )
    await conn.executemany(
        "INSERT INTO seen (user_id, text, updates, last_seen) VALUES (?, '', 1, '')",
        [(p.user_id,) for p in people],
    )
    await conn.commit()
    return conn


async def pragmas(conn: aiosqlite.Connection) -> dict[str, Any]:
    """The connection settings that matter for write cost."""
    result: dict[str, Any] = {}
    for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "secure_delete"):
        async with conn.execute(f"PRAGMA {name}") as cursor:
            row = await cursor.fetchone()
        result[name] = row[0] if row else None
    return result


# -- profiling ------------------------------------------------------------------------------


async def profile(app: AnyApp, items: Sequence[Item], name: str) -> Path:
    """cProfile one pass; print the top functions; keep the stats file."""
    profiler = cProfile.Profile()
    profiler.enable()
    await run_items(app, items, Measurement())
    profiler.disable()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"updates-{name}.pstats"
    profiler.dump_stats(path)
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
        print(f"\n=== profile {name}: {len(items)} updates, by {order} ===")
        print(out.getvalue())
    return path


# -- the run --------------------------------------------------------------------------------


@dataclass
class Workloads:
    """Every update of the run, generated before anything is measured."""

    read: list[RawItem]
    read_warm: list[RawItem]
    write: list[RawItem]
    write_warm: list[RawItem]
    profile_read: list[RawItem]
    profile_write: list[RawItem]
    peer_read: list[RawItem]
    peer_write: list[RawItem]
    peer_warm: list[RawItem]


def make_workloads(repos: Repositories, seed_: Seed, profiling: bool) -> Workloads:
    """Read mix, writing units (one fresh resident each) and the peers' plain texts."""
    rng = random.Random(7)
    measured_units = WRITE_UPDATES // UNIT_SIZE
    fresh = iter(seed_.fresh)

    def units(n: int) -> list[RawItem]:
        """`n` writing units for the next fresh residents."""
        return flatten(write_units(repos, list(itertools.islice(fresh, n)), rng))

    people = seed_.readers + seed_.fresh
    return Workloads(
        read=read_mix(repos, seed_, READ_UPDATES, rng),
        read_warm=read_mix(repos, seed_, WARMUP_READ, rng),
        write=units(measured_units),
        write_warm=units(WARMUP_WRITE_UNITS),
        profile_read=read_mix(repos, seed_, PROFILE_READ, rng) if profiling else [],
        profile_write=units(PROFILE_WRITE_UNITS) if profiling else [],
        peer_read=plain_texts(people, READ_UPDATES, "peer read", rng),
        peer_write=plain_texts(people, measured_units * UNIT_SIZE, "peer upsert", rng),
        peer_warm=plain_texts(people, WARMUP_READ, "peer warm-up", rng),
    )


@dataclass
class Results:
    """What the run measured."""

    read: Measurement = field(default_factory=Measurement)
    write: Measurement = field(default_factory=Measurement)
    peer_read: Measurement = field(default_factory=Measurement)
    peer_write: Measurement = field(default_factory=Measurement)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Apps:
    """Our application and the two peers."""

    ours: QuartierApplication
    reader: AnyApp
    writer: AnyApp


async def measure_all(apps: Apps, load: Workloads) -> Results:
    """Warm up every application, then alternate the four workloads in `ROUNDS` rounds."""
    ours = apps.ours
    read, write = to_updates(load.read, ours), to_updates(load.write, ours)
    peer_reads = to_updates(load.peer_read, apps.reader)
    peer_writes = to_updates(load.peer_write, apps.writer)
    await warm_up(ours, to_updates(load.read_warm, ours))
    await warm_up(ours, to_updates(load.write_warm, ours))
    await warm_up(apps.reader, to_updates(load.peer_warm, apps.reader))
    await warm_up(apps.writer, to_updates(load.peer_warm, apps.writer))
    results = Results()
    parts = zip(
        split_rounds(peer_reads, ROUNDS),
        split_rounds(read, ROUNDS),
        split_rounds(peer_writes, ROUNDS, UNIT_SIZE),
        split_rounds(write, ROUNDS, UNIT_SIZE),
        strict=True,
    )
    for peer_read_part, read_part, peer_write_part, write_part in parts:
        await run_items(apps.reader, peer_read_part, results.peer_read)
        await run_items(ours, read_part, results.read)
        await run_items(apps.writer, peer_write_part, results.peer_write)
        await run_items(ours, write_part, results.write)
    return results


def ms(seconds: float) -> float:
    """Seconds → milliseconds."""
    return seconds * 1000


def round_ratios(ours: Measurement, baseline: Measurement) -> list[float]:
    """Throughput ratio of each round (ours / the peer run just before it)."""
    pairs = zip(ours.per_round, baseline.per_round, strict=False)
    return [round(a / b, 3) if b else 0.0 for a, b in pairs]


def kind_stats(measurement: Measurement) -> dict[str, dict[str, float]]:
    """Count, p50 and p99 (ms) per update kind."""
    return {
        kind: {
            "count": len(values),
            "p50_ms": round(ms(median(values)), 3),
            "p99_ms": round(ms(percentile(values, 0.99)), 3),
        }
        for kind, values in measurement.by_kind.items()
    }


def build_report(results: Results, errors: int, scale: bool) -> Report:
    """The table rows with their goals, and the details."""
    report = Report("updates-scale" if scale else "updates")
    read, write = results.read, results.write
    peer_read, peer_write = results.peer_read, results.peer_write
    read_ratio = read.throughput / peer_read.throughput if peer_read.throughput else 0.0
    write_ratio = write.throughput / peer_write.throughput if peer_write.throughput else 0.0
    read_p99 = ms(percentile(read.latencies, 0.99))
    write_p99 = ms(percentile(write.latencies, 0.99))
    report.add("read mix / read peer", read_ratio, "x", "≥ 0.5", read_ratio >= 0.5)
    report.add("writing mix / write peer", write_ratio, "x", "≥ 0.7", write_ratio >= 0.7)
    report.add("read mix p50 latency", ms(median(read.latencies)), "ms")
    report.add("read mix p99 latency", read_p99, "ms", "≤ 5 ms", read_p99 <= 5)
    report.add("writing mix p50 latency", ms(median(write.latencies)), "ms")
    report.add("writing mix p99 latency", write_p99, "ms", "≤ 5 ms", write_p99 <= 5)
    report.add("read mix updates/s (ours)", read.throughput, "upd/s")
    report.add("read peer updates/s", peer_read.throughput, "upd/s")
    report.add("writing mix updates/s (ours)", write.throughput, "upd/s")
    report.add("write peer updates/s", peer_write.throughput, "upd/s")
    report.add("handler errors logged", errors, "", "= 0", errors == 0)
    report.details = {
        **results.details,
        "read_mix": f"sessions of {SESSION_UPDATES} updates per random resident",
        "counts": {
            "read": len(read.latencies),
            "writing": len(write.latencies),
            "peer_read": len(peer_read.latencies),
            "peer_write": len(peer_write.latencies),
            "rounds": ROUNDS,
        },
        "ratio_per_round": {
            "read_vs_peer": round_ratios(read, peer_read),
            "writing_vs_peer": round_ratios(write, peer_write),
        },
        "per_kind": {
            "read": kind_stats(read),
            "writing": kind_stats(write),
            "peer_read": kind_stats(peer_read),
            "peer_write": kind_stats(peer_write),
        },
        "api_calls": {
            "read": dict(read.calls),
            "writing": dict(write.calls),
            "peer_read": dict(peer_read.calls),
            "peer_write": dict(peer_write.calls),
        },
        "gc_during_timed_loops": {
            name: {
                "collections": dict(m.gc_runs),
                "total_ms": round(ms(m.gc_seconds), 1),
                "max_ms": round(ms(m.gc_max_seconds), 1),
            }
            for name, m in (("read", read), ("writing", write))
        },
    }
    return report


async def check_writes(repos: Repositories, seed_: Seed, expected_units: int) -> dict[str, int]:
    """Concerns created by the writing mixes, and drafts left over (should be none)."""
    concerns = await repos.db.fetchone("SELECT count(*) FROM concerns")
    drafts = await repos.db.fetchone("SELECT count(*) FROM concern_drafts")
    created = int(concerns[0]) - seed_.counts["concerns"] if concerns else -1
    return {
        "concerns_created": created,
        "concerns_expected": expected_units,
        "drafts_left": int(drafts[0]) if drafts else -1,
    }


async def run(directory: Path, profiling: bool, scale: bool) -> tuple[Results, int]:
    """Seed, build the three applications, measure, optionally profile; return the figures."""
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    repos = create_repositories(directory)
    began = time.perf_counter()
    await repos.db.open()
    size = {"residents": 1_000_000, "concerns": 2_000_000} if scale else {}
    seed_ = await seed(repos, **size)
    seed_seconds = time.perf_counter() - began
    ours = await start_ours(repos)
    load = make_workloads(repos, seed_, profiling)
    peer_conn = await open_peer_db(directory / "peer.sqlite3", seed_.readers + seed_.fresh)
    apps = Apps(
        ours=ours,
        reader=await start_peer(PeerBot(peer_conn, writes=False).handle),
        writer=await start_peer(PeerBot(peer_conn, writes=True).handle),
    )
    try:
        results = await measure_all(apps, load)
        if profiling:
            await profile(ours, to_updates(load.profile_read, ours), "read")
            await profile(ours, to_updates(load.profile_write, ours), "write")
        units = (len(load.write) + len(load.write_warm) + len(load.profile_write)) // UNIT_SIZE
        results.details = {
            "seed": {**seed_.counts, "seconds": round(seed_seconds, 1)},
            "written": await check_writes(repos, seed_, units),
            "pragmas": {"ours": await pragmas(repos.db.conn), "peers": await pragmas(peer_conn)},
            "database_dir": str(directory),
        }
    finally:
        for app in (apps.reader, apps.writer):
            await app.shutdown()
        await peer_conn.close()
        await stop_ours(ours, repos)
        logging.getLogger().removeHandler(errors)
    return results, errors.count


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON; non-zero if a goal was missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profile", action="store_true", help="add a cProfile pass per mix")
    parser.add_argument(
        "--scale", action="store_true", help="1,000,000 residents and 2,000,000 concerns"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # as `quartierbot` does at start-up
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="quartierbot-bench-") as tmp:
        results, errors = asyncio.run(run(Path(tmp), args.profile, args.scale))
    report = build_report(results, errors, args.scale)
    report.details["total_seconds"] = round(time.perf_counter() - started, 1)
    # Other processes on the machine skew every figure; the ratios less so (same run).
    report.details["load_average_1min"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    report.details["fairness"] = (
        "same CannedRequest class (no network, no request encoding) for all three bots; the "
        "peers use our exact pragmas via storage.db.configure, one statement per update"
    )
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
