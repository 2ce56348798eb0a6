"""`python -m benchmarks.translation`: translated broadcasts (issue 18), preview time and pace.

In-process, like benchmarks/updates.py: our application (`bot.app.build_application`) on a temp
SQLite file with 10,000 residents subscribed to one quarter, their languages spread evenly over
de, tr, ar, uk, ru, bg, ro, pl and en (nine audience languages: the officer's German and eight
others); Bot API calls answered at once by `benchmarks.updates.CannedRequest`. The translation
service is a loopback fake of LibreTranslate's HTTP API (below) that answers every request after
`--delay` seconds (0.2), several at once, as a real server does.

* preview: the staff member's broadcast text goes through `Application.process_update` (the
  content step of /broadcast: `take_input` → `show_preview` → `language_versions` →
  `translate_versions`), a fresh text each run (translations may be reused by content). Its time
  against the same run's baselines: one translation request alone, and the same requests one
  after the other (what a sequential preview would take). Goal: ≤ 2 s. Then the identical text
  again in a new draft: its time and how many requests it still makes (goal: none).
* delivery: `BroadcastEngine` with `BroadcastService.send` (the real per-recipient path,
  `_text_for`) to the 10,000 residents, once with translation disabled and once with a stored
  version for every language. Paced at the configured rate over a window from the first send (as
  benchmarks/broadcast.py: 10,000 at 25/s would take 400 s), and unpaced over all 10,000 (the
  bot-side work per message, which the pacer's slot hides), twice per variant in the order
  disabled, stored, stored, disabled. Ratios: stored ÷ disabled, messages per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.request import RequestData

from benchmarks._fixtures import ADMIN_ID, BENCH_CONFIG
from benchmarks.common import Report, median
from benchmarks.updates import (
    TOKEN,
    CannedRequest,
    ErrorCounter,
    callback_raw,
    message_raw,
    start_ours,
    stop_ours,
)
from bot.app import build_application
from bot.broadcasts import BroadcastEngine, BroadcastService, Pacer, SystemClock, translate_versions
from bot.config import load_config
from bot.context import QuartierApplication
from bot.repositories import Repositories
from storage.broadcasts import Broadcast
from storage.translations import StoredTranslation, broadcast_subject
from tests.loopback import LoopbackServer, send_json

#: The officer writes German; the audience reads these nine languages (German and eight others).
STAFF_LANGUAGE = "de"
LANGUAGES = ("de", "tr", "ar", "uk", "ru", "bg", "ro", "pl", "en")
QUARTER = "bahnhofsvorstadt"
FIRST_RESIDENT = 20_000_000
#: The content step's text: bold like a real announcement (the versions must keep the tags).
HEADLINE = "Straßenfest"
#: Measured previews (each with a fresh text), after one unmeasured warm-up preview.
PREVIEW_RUNS = 5
SINGLE_RUNS = 5
SEQUENTIAL_RUNS = 2
PREVIEW_GOAL = 2.0
#: Marks a delivered machine translation (bot/broadcasts.py labels them so).
MACHINE_LABEL = "🌐"
#: Delivery without translation, and with a stored version for every language.
VARIANTS = ("disabled", "stored")


# -- the translation service ------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """One thread per request, and room for a burst of connections (the default backlog is 5:
    a preview opening nine at once could see a dropped SYN and a 1 s retransmit)."""

    daemon_threads = True
    request_queue_size = 128


@dataclass
class SlowLibreTranslate:
    """Loopback LibreTranslate: `POST /translate`, each answer after `delay` seconds.

    Every text is German (detectedLanguage "de"); the translation into X is "[X] text", tags
    kept. Counts requests, and the most that were being answered at the same moment.
    """

    delay: float = 0.2
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with fake._lock:
                    fake.requests += 1
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    if fake.delay:
                        time.sleep(fake.delay)
                    answer = fake.answer(body)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                send_json(self, 200, answer)

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.loopback = LoopbackServer(Handler, _Server)
        self.url = self.loopback.base

    @staticmethod
    def answer(body: dict[str, Any]) -> dict[str, Any]:
        """LibreTranslate's answer to one request (q a string or a list)."""
        texts = body["q"] if isinstance(body["q"], list) else [body["q"]]
        target = str(body["target"])
        translated = [t if target == STAFF_LANGUAGE else f"[{target}] {t}" for t in texts]
        detected = [{"language": STAFF_LANGUAGE, "confidence": 90.0} for _ in texts]
        if not isinstance(body["q"], list):
            return {"translatedText": translated[0], "detectedLanguage": detected[0]}
        return {"translatedText": translated, "detectedLanguage": detected}

    def reset_peak(self) -> None:
        """Start counting the most simultaneous requests afresh."""
        with self._lock:
            self.max_in_flight = self.in_flight

    def close(self) -> None:
        """Stop serving."""
        self.loopback.close()


# -- set-up -------------------------------------------------------------------------------------


def write_config(directory: Path, translation_url: str | None, rate: float) -> Path:
    """The benchmark configuration, with [translation] (or without: disabled) and [broadcast]."""
    text = BENCH_CONFIG
    if translation_url is not None:
        text += (
            f'\n[translation]\nbackend = "libretranslate"\nurl = "{translation_url}"\n'
            f'staff_language = "{STAFF_LANGUAGE}"\ntimeout_seconds = 5\n'
        )
    text += f"\n[broadcast]\nrate_per_second = {rate}\n"
    directory.mkdir(exist_ok=True)
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def seed_audience(repos: Repositories, count: int) -> None:
    """`count` residents subscribed to QUARTER, their languages in turn."""
    now = "2026-01-01T00:00:00Z"
    people = [
        (FIRST_RESIDENT + i, LANGUAGES[i % len(LANGUAGES)], QUARTER, now, now) for i in range(count)
    ]
    async with repos.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO residents (user_id, language, quarter_id, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?)",
            people,
        )
        await conn.executemany(
            "INSERT INTO subscriptions (user_id, quarter_id, created_at) VALUES (?, ?, ?)",
            [(p[0], QUARTER, now) for p in people],
        )


def headline_text(run: str) -> tuple[str, list[dict[str, Any]]]:
    """A broadcast text with a bold headline, and its entities as Telegram sends them."""
    text = f"{HEADLINE} am Samstag ab 14 Uhr auf dem Grohner Markt ({run}). Alle sind eingeladen!"
    return text, [{"type": "bold", "offset": 0, "length": len(HEADLINE)}]


def html_of(run: str) -> str:
    """The same text as the bot stores it (message.text_html)."""
    text, _ = headline_text(run)
    return f"<b>{HEADLINE}</b>" + text[len(HEADLINE) :]


# -- (a) the preview ---------------------------------------------------------------------------


@dataclass
class Preview:
    """One preview: its time, the service requests it made, what the draft holds afterwards."""

    seconds: float
    requests: int
    max_in_flight: int
    sends: int  # sendMessage calls of the preview update
    kinds: dict[str, int]  # draft versions per kind (machine, same, unavailable, …)


async def process(app: QuartierApplication, raw: dict[str, Any]) -> None:
    """One update through the whole application."""
    await app.process_update(Update.de_json(raw, app.bot))


async def preview(
    app: QuartierApplication, repos: Repositories, fake: SlowLibreTranslate, run: str
) -> Preview:
    """/broadcast to the quarter, all topics, all languages; then the text, timed."""
    await process(app, message_raw(ADMIN_ID, STAFF_LANGUAGE, f"/broadcast {QUARTER}"))
    await process(app, callback_raw(ADMIN_ID, STAFF_LANGUAGE, "bct:*"))
    await process(app, callback_raw(ADMIN_ID, STAFF_LANGUAGE, "bcl:*"))
    text, entities = headline_text(run)
    raw = message_raw(ADMIN_ID, STAFF_LANGUAGE, text)
    raw["message"]["entities"] = entities
    update = Update.de_json(raw, app.bot)
    request = app.bot.request
    assert isinstance(request, CannedRequest)
    sends, requests = request.calls["sendMessage"], fake.requests
    fake.reset_peak()
    began = time.perf_counter()
    await app.process_update(update)
    seconds = time.perf_counter() - began
    draft = await repos.staff_drafts.get(ADMIN_ID)
    versions: dict[str, Any] = (draft.data.get("versions") or {}) if draft else {}
    kinds: dict[str, int] = {}
    for version in versions.values():
        kinds[version["kind"]] = kinds.get(version["kind"], 0) + 1
    # Leave the draft like "Cancel" does: the next preview starts a new one.
    await process(app, callback_raw(ADMIN_ID, STAFF_LANGUAGE, "bcf:cancel"))
    return Preview(
        seconds,
        fake.requests - requests,
        fake.max_in_flight,
        request.calls["sendMessage"] - sends,
        kinds,
    )


async def one_request(repos: Repositories, run: str, language: str) -> float:
    """One translation request through the bot's TranslationService, timed."""
    began = time.perf_counter()
    answer = await repos.translation.translate([html_of(run)], language, html=True)
    seconds = time.perf_counter() - began
    if answer is None:
        raise RuntimeError("the fake translation service did not answer")
    return seconds


async def one_after_another(repos: Repositories, run: str, languages: Sequence[str]) -> float:
    """The preview's requests made sequentially: what a preview without parallelism would take."""
    began = time.perf_counter()
    for language in languages:
        await one_request(repos, run, language)
    return time.perf_counter() - began


@dataclass
class PreviewResults:
    """Everything part (a) measured."""

    runs: list[Preview]
    single: list[float]
    sequential: list[float]
    repeat: Preview
    audience: dict[str, int]
    cold: Preview  # the first preview after start (not among the measured runs)


async def measure_previews(
    directory: Path, fake: SlowLibreTranslate, recipients: int
) -> PreviewResults:
    """Warm-up, measured previews (fresh texts), the baselines, then a repeated text."""
    repos = Repositories.create(load_config(write_config(directory, fake.url, 25.0)))
    app = await start_ours(repos)
    try:
        await seed_audience(repos, recipients)
        audience = await repos.broadcasts.recipients_by_language([QUARTER], None, None)
        cold = await preview(app, repos, fake, "warm-up")
        runs = [await preview(app, repos, fake, f"Lauf {n}") for n in range(1, PREVIEW_RUNS + 1)]
        single = [
            await one_request(repos, f"einzeln {n}", LANGUAGES[1 + n % (len(LANGUAGES) - 1)])
            for n in range(SINGLE_RUNS)
        ]
        requested = sorted(audience)  # translate_versions asks for every audience language
        sequential = [
            await one_after_another(repos, f"nacheinander {n}", requested)
            for n in range(SEQUENTIAL_RUNS)
        ]
        repeat = await preview(app, repos, fake, "Lauf 1")  # the first measured text again
    finally:
        await stop_ours(app, repos)
    return PreviewResults(runs, single, sequential, repeat, audience, cold)


# -- (b) the delivery ----------------------------------------------------------------------------


class TimedRequest(CannedRequest):
    """CannedRequest that also notes when each broadcast message went out, and if labelled."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[float] = []
        self.labelled = 0
        self.first_send = asyncio.Event()

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
        """Note the send, then answer as CannedRequest does."""
        if url.endswith("/sendMessage") and request_data is not None:
            self.sends.append(time.perf_counter())
            self.first_send.set()
            if MACHINE_LABEL in str(request_data.parameters.get("text", "")):
                self.labelled += 1
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


@dataclass
class Delivery:
    """One delivery run: messages per second between the first and last send in the window."""

    variant: str
    mode: str
    sent: int
    labelled: int
    seconds: float  # first → last send
    service_requests: int  # translation requests made while delivering (none expected)
    cpu_seconds: float  # CPU time of this process, every thread, while the broadcast ran

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per message sent."""
        return 1000 * self.cpu_seconds / self.sent if self.sent else 0.0

    @property
    def pace(self) -> float:
        """Messages per second."""
        return (self.sent - 1) / self.seconds if self.sent > 1 and self.seconds else 0.0


async def store_versions(repos: Repositories, broadcast_id: int, text: str) -> int:
    """Versions for every audience language, stored as "Send now" stores them (handlers/create)."""
    stored = 0
    for language, version in (await translate_versions(repos, text, LANGUAGES)).items():
        if version.text and version.kind == "machine":
            translation = StoredTranslation(version.text, version.source_language)
            await repos.translations.put(broadcast_subject(broadcast_id), language, translation)
            stored += 1
    return stored


async def new_broadcast(repos: Repositories, run: str) -> Broadcast:
    """A broadcast to the quarter; with the service configured, its versions stored."""
    text = html_of(run)
    broadcast = await repos.broadcasts.create(
        created_by=ADMIN_ID,
        quarters=[QUARTER],
        topic_id=None,
        language=None,
        text=text,
        photo_file_id=None,
    )
    if repos.translation.enabled:
        stored = await store_versions(repos, broadcast.id, text)
        if stored != len(LANGUAGES) - 1:
            raise RuntimeError(f"{stored} versions stored, expected {len(LANGUAGES) - 1}")
    return broadcast


async def deliver(
    repos: Repositories,
    service: BroadcastService,
    request: TimedRequest,
    fake: SlowLibreTranslate,
    variant: str,
    rate: float | None,
    window: float,
) -> Delivery:
    """A new broadcast to every resident; paced over `window` s, or unpaced to the end."""
    broadcast = await new_broadcast(repos, f"{variant}, {'paced' if rate else 'unpaced'}")
    clock = SystemClock()
    # Unpaced: a pacer far faster than the work, so the work alone sets the pace.
    pacer = Pacer(rate or 1_000_000.0, clock)
    engine = BroadcastEngine(repos.broadcasts, service.send, clock, pacer, max_in_flight=1)
    request.sends.clear()
    request.labelled = 0
    request.first_send.clear()
    requests = fake.requests
    cpu = time.process_time()
    task = asyncio.create_task(engine.run(broadcast.id))
    if rate:
        first = asyncio.ensure_future(request.first_send.wait())
        await asyncio.wait([first, task], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        first.cancel()
        if not request.sends:
            task.cancel()
            raise RuntimeError(f"{variant}: no broadcast message within 30 s")
        await asyncio.sleep(max(0.0, request.sends[0] + window - time.perf_counter()))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        end = request.sends[0] + window
        sends = [at for at in request.sends if at <= end]
    else:
        await task
        sends = list(request.sends)
    cpu = time.process_time() - cpu
    return Delivery(
        variant,
        f"{rate:g}/s" if rate else "unpaced",
        len(sends),
        request.labelled,
        sends[-1] - sends[0] if len(sends) > 1 else 0.0,
        fake.requests - requests,
        cpu,
    )


@dataclass
class Setup:
    """One variant's bot: its own database, application and broadcast service."""

    variant: str
    repos: Repositories
    app: QuartierApplication
    service: BroadcastService
    request: TimedRequest


async def set_up(directory: Path, fake: SlowLibreTranslate, variant: str, rate: float) -> Setup:
    """Variant disabled: no [translation]; stored: the service configured, versions stored."""
    url = fake.url if variant == "stored" else None
    repos = Repositories.create(load_config(write_config(directory, url, rate)))
    request = TimedRequest()
    app = await start_ours_with(repos, request)
    return Setup(variant, repos, app, BroadcastService(repos, app.bot), request)


async def text_lookups(setup: Setup, recipients: int) -> float:
    """Milliseconds per recipient of `BroadcastService._text_for` alone (its two lookups)."""
    broadcast = await new_broadcast(setup.repos, f"{setup.variant}, lookups")
    chats = range(FIRST_RESIDENT, FIRST_RESIDENT + recipients)
    began = time.perf_counter()
    for chat_id in chats:
        await setup.service._text_for(chat_id, broadcast)
    return 1000 * (time.perf_counter() - began) / recipients


async def measure_deliveries(
    work: Path, fake: SlowLibreTranslate, recipients: int, rate: float, window: float
) -> tuple[list[Delivery], dict[str, float]]:
    """Paced runs (one per variant), then unpaced runs in the order A B B A (drift cancels), then
    the per-recipient text lookups alone (A B B A); the latter in ms per recipient per variant."""
    setups: dict[str, Setup] = {}
    lookups: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    try:
        for variant in VARIANTS:
            setups[variant] = await set_up(work / variant, fake, variant, rate)
            await seed_audience(setups[variant].repos, recipients)
        runs: list[Delivery] = []
        plan = [(v, rate) for v in VARIANTS] + [(v, None) for v in (*VARIANTS, *VARIANTS[::-1])]
        for variant, paced in plan:
            s = setups[variant]
            runs.append(await deliver(s.repos, s.service, s.request, fake, variant, paced, window))
            if paced is None and runs[-1].sent != recipients:
                raise RuntimeError(f"{variant}: {runs[-1].sent} of {recipients} delivered")
        for variant in (*VARIANTS, *VARIANTS[::-1]):
            lookups[variant].append(await text_lookups(setups[variant], recipients))
    finally:
        for s in setups.values():
            await stop_ours(s.app, s.repos)
    return runs, {variant: statistics.fmean(ms) for variant, ms in lookups.items()}


async def start_ours_with(repos: Repositories, request: CannedRequest) -> QuartierApplication:
    """start_ours with our own request object (to see the sends)."""
    app = build_application(repos, TOKEN, request=request, updates_request=CannedRequest())
    await repos.db.open()
    await app.initialize()
    return app


# -- the run ----------------------------------------------------------------------------------


async def run(
    work: Path, delay: float, recipients: int, rate: float, window: float
) -> tuple[PreviewResults, list[Delivery], dict[str, float], int]:
    """Both parts; the handler errors logged meanwhile."""
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    fake = SlowLibreTranslate(delay=delay)
    try:
        previews = await measure_previews(work / "preview", fake, recipients)
        fake.delay = 0.0  # delivery: the versions are stored before, the service is not asked
        deliveries, lookups = await measure_deliveries(work, fake, recipients, rate, window)
    finally:
        fake.close()
        logging.getLogger().removeHandler(errors)
    return previews, deliveries, lookups, errors.count


def report_previews(report: Report, results: PreviewResults, delay: float) -> None:
    """Part (a): the rows and details."""
    times = [p.seconds for p in results.runs]
    worst, typical = max(times), median(times)
    single = median(results.single)
    sequential = median(results.sequential)
    languages = len(results.audience)
    report.add(
        f"preview, {languages} audience languages: worst of {len(times)}",
        worst,
        "s",
        f"≤ {PREVIEW_GOAL:g}",
        worst <= PREVIEW_GOAL,
    )
    report.add("preview: median", typical, "s")
    report.add("one request alone (median)", single, "s")
    report.add(f"{languages} requests one after another", sequential, "s")
    report.add("preview ÷ one request", typical / single, "ratio")
    report.add("preview ÷ one after another", typical / sequential, "ratio")
    made = min(p.kinds.get("machine", 0) for p in results.runs)
    expected = languages - 1
    report.add("preview: machine versions", made, "count", f"= {expected}", made == expected)
    report.add("preview: service requests", max(p.requests for p in results.runs), "count")
    report.add(
        "preview: requests at once (max)", max(p.max_in_flight for p in results.runs), "count"
    )
    repeat = results.repeat
    report.add("same text again: time", repeat.seconds, "s")
    report.add("same text again: requests", repeat.requests, "count", "0", repeat.requests == 0)
    report.details["preview"] = {
        "service delay s": delay,
        "audience (residents per language)": results.audience,
        "preview s": [round(t, 3) for t in times],
        "requests per preview": [p.requests for p in results.runs],
        "requests at once per preview": [p.max_in_flight for p in results.runs],
        "sendMessage calls per preview (text, one per version, the count)": [
            p.sends for p in results.runs
        ],
        "draft versions by kind": results.runs[0].kinds,
        "first preview after start (unmeasured warm-up) s": round(results.cold.seconds, 3),
        "one request s": [round(t, 3) for t in results.single],
        "one after another s": [round(t, 3) for t in results.sequential],
        "nominal sequential s (8 × delay)": round(8 * delay, 3),
        "same text again": {
            "s": round(repeat.seconds, 3),
            "requests": repeat.requests,
            "draft versions by kind": repeat.kinds,
        },
    }


def report_deliveries(
    report: Report, deliveries: list[Delivery], lookups: dict[str, float]
) -> None:
    """Part (b): the rows and details."""

    def runs(variant: str, paced: bool) -> list[Delivery]:
        """The variant's runs: one paced, or two unpaced."""
        return [d for d in deliveries if d.variant == variant and (d.mode != "unpaced") == paced]

    def pace(variant: str, paced: bool) -> float:
        """The variant's pace: the mean of its runs."""
        return statistics.fmean(d.pace for d in runs(variant, paced))

    for paced in (True, False):
        mode = next(d.mode for d in deliveries if (d.mode != "unpaced") == paced)
        off, on = pace("disabled", paced), pace("stored", paced)
        ratio = on / off
        goal = ("≥ 0.95", ratio >= 0.95) if paced else ("", None)
        report.add(f"{mode}: stored ÷ disabled pace", ratio, "ratio", *goal)
        report.add(f"{mode}: pace, disabled", off, "msg/s")
        report.add(f"{mode}: pace, stored", on, "msg/s")
    cpu_off = statistics.fmean(d.cpu_ms for d in runs("disabled", False))
    cpu_on = statistics.fmean(d.cpu_ms for d in runs("stored", False))
    report.add("unpaced: stored ÷ disabled CPU per message", cpu_on / cpu_off, "ratio")
    report.add("unpaced: CPU per message, disabled", cpu_off, "ms")
    report.add("unpaced: CPU per message, stored", cpu_on, "ms")
    for variant in VARIANTS:
        share = lookups[variant] / statistics.fmean(1000 / d.pace for d in runs(variant, False))
        report.add(f"_text_for per recipient, {variant}", lookups[variant], "ms")
        report.add(f"_text_for ÷ unpaced message, {variant}", share, "ratio")
    asked = sum(d.service_requests for d in deliveries)
    report.add("delivery: service requests", asked, "count", "0", asked == 0)
    report.details["delivery (in the order run)"] = [
        {
            "variant": d.variant,
            "mode": d.mode,
            "sent": d.sent,
            "machine translations among them": d.labelled,
            "first → last send s": round(d.seconds, 3),
            "msg/s": round(d.pace, 2),
            "ms per message": round(1000 / d.pace, 3) if d.pace else None,
            "CPU ms per message (whole run, all threads)": round(d.cpu_ms, 3),
            "service requests": d.service_requests,
        }
        for d in deliveries
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.translation")
    parser.add_argument("--delay", type=float, default=0.2, help="service answer delay, s")
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=25.0, help="configured broadcast rate")
    parser.add_argument("--window", type=float, default=10.0, help="paced runs' window, s")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run both parts; exit status from the report."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    report = Report("translation")
    started = time.monotonic()
    report.details["load average at start"] = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-translation-") as tmp:
        previews, deliveries, lookups, errors = asyncio.run(
            run(Path(tmp), args.delay, args.recipients, args.rate, args.window)
        )
    report_previews(report, previews, args.delay)
    report_deliveries(report, deliveries, lookups)
    report.add("handler errors logged", errors, "count", "0", errors == 0)
    report.details["paced note"] = (
        f"{args.recipients:,} at {args.rate:g}/s take {args.recipients / args.rate:.0f} s: the "
        f"paced runs are measured over {args.window:g} s from the first send; the unpaced runs "
        "deliver all of them with a pacer far faster than the work"
    )
    report.details["load average at end"] = os.getloadavg()
    report.details["total seconds"] = round(time.monotonic() - started, 1)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
