"""Export benchmark: `quartierbot export` of 100,000 concerns as CSV and as XLSX.

Seeds a database created by the app's own migrations with 100,000 concerns (realistic text
lengths, hostile characters, threads with replies), then runs `python -m bot export --format csv`
and `--format xlsx` as child processes, one at a time, in rounds. Each run is timed and its peak
RSS taken from VmHWM, sampled while it runs (wait4's ru_maxrss is kept for comparison, but it also
counts the parent's pages the child held between fork and exec).

Goals (issue 15): CSV ≤ 10 s, XLSX ≤ 20 s, peak RSS ≤ 150 MiB each; every concern in each file.

Run with `python -m benchmarks.export`.
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Report, median
from bot.config import load_config
from bot.repositories import Repositories
from bot.topics import DEFAULT_TOPICS
from storage.concerns import format_reference
from storage.db import to_db_time

CONCERNS = 100_000
RUNS = 3
#: Stop repeating runs when another round would end after this many seconds (limit: 120).
BUDGET_SECONDS = 95.0
REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO / "config.example.toml"
SEED = 20_261_123
MIB = 1024 * 1024
HWM_SAMPLE_SECONDS = 0.002

CSV_SECONDS_GOAL = 10.0
XLSX_SECONDS_GOAL = 20.0
RSS_GOAL_MIB = 150.0

_WORD_TEXT = (
    "Hallo ich wohne seit Jahren in der Straße und möchte melden dass die Beleuchtung am "
    "Spielplatz kaputt ist Müll liegt neben den Containern Nachbarn Lärm nachts Hausverwaltung "
    "reagiert nicht Heizung Schimmel Wohnung Miete Bus Haltestelle Radweg Bank Park Baum Jugend "
    "Treffpunkt Sprachkurs Kita Platz Arzt Termin Sicherheit Ecke dunkel bitte helfen Sie uns "
    "danke Grüße merhaba mahalle sorun привіт будинок проблема мусор شكرا الحي مشكلة Müllabfuhr "
    "😀 👍 🏠 ♿ €50 §3 10:00 28195 Bremen-Mitte Grohner Straße"
)
_WORDS = tuple(_WORD_TEXT.split())
#: Things residents paste that break naive CSV/XLSX writers (formulas, quotes, XML-illegal, RTL).
_HOSTILE = (
    '=HYPERLINK("http://evil.example","klick")',
    "+49 421 123456",
    "-1; DROP TABLE concerns; --",
    "@SUM(A1:A9)",
    "\tTab am Anfang",
    'Er sagte "Hallo; Welt" und ging',
    "Zeile eins\r\nZeile zwei\rZeile drei\nZeile vier",
    "Steuerzeichen \x0b\x0c\x1f und \ufffe\uffff",
    "_x000D_ ist kein Zeilenumbruch",
    "\u202eRTL-Override\u202c und \u2068isoliert\u2069",
    "\ufeffBOM mitten im Text",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 außerhalb der BMP 🧑‍🤝‍🧑",
)
_TOPICS = tuple(topic.id for topic in DEFAULT_TOPICS)  # the configs use the built-in topics
_LANGUAGES = ("de", "de", "de", "en", "tr", "ar", "uk", "ru", "bg", "ro", "pl")
_STATUSES = ("new", "in_progress", "done", "done", "done", "rejected")

_CONCERN_INSERT = (
    "INSERT INTO concerns (id, reference, quarter_id, number, topic_id, resident_id, language, "
    "text, photo_file_id, latitude, longitude, contact_allowed, status, created_at, "
    "status_changed_at, closed_at, anonymised_at, posted_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_EVENT_INSERT = (
    "INSERT INTO concern_events (concern_id, kind, author_id, text, status, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_COUNTER_INSERT = "INSERT INTO concern_counters (quarter_id, last_number) VALUES (?, ?)"


# --- configuration and seed data ----------------------------------------------------------------


def write_config(directory: Path, database: str) -> Path:
    """The production-shaped example configuration (9 languages, 3 quarters), own database."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text, found = re.subn(r'(?m)^database = ".*"', f'database = "{database}"', text)
    if found != 1:
        raise RuntimeError(f"no database line in {EXAMPLE_CONFIG}")
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class SeedStats:
    """What was put into the database."""

    concerns: int = 0
    events: int = 0
    replies: int = 0
    hostile: int = 0
    anonymised: int = 0
    text_chars: int = 0
    max_text_chars: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _text_length(rng: random.Random) -> int:
    """A concern length in characters: mostly short, some long, a few at Telegram's limit."""
    bucket = rng.random()
    if bucket < 0.6:
        return rng.randint(20, 200)
    if bucket < 0.9:
        return rng.randint(200, 1000)
    if bucket < 0.99:
        return rng.randint(1000, 4000)
    return 4096


def _text(rng: random.Random, length: int) -> tuple[str, bool]:
    """Resident text of about `length` characters; True if it carries hostile content."""
    body = " ".join(rng.choices(_WORDS, k=length // 6 + 1))[:length]
    if rng.random() >= 0.08:
        return body, False
    snippet = rng.choice(_HOSTILE)
    return (snippet + " " + body if rng.random() < 0.5 else body + " " + snippet), True


def _concern_rows(
    rng: random.Random, quarters: Sequence[tuple[str, str]], stats: SeedStats
) -> Iterator[tuple[Any, ...]]:
    """Rows for the concerns table, ids 1..CONCERNS, spread over two years."""
    now = datetime.now(UTC).replace(microsecond=0)
    numbers = dict.fromkeys((q for q, _ in quarters), 0)
    for concern_id in range(1, CONCERNS + 1):
        quarter_id, prefix = rng.choice(quarters)
        numbers[quarter_id] += 1
        created = now - timedelta(seconds=rng.randint(3600, 730 * 86400))
        changed = created + timedelta(seconds=rng.randint(0, 30 * 86400))
        status = rng.choice(_STATUSES)
        closed = to_db_time(changed) if status in ("done", "rejected") else None
        anonymised = closed is not None and rng.random() < 0.1
        text, hostile = _text(rng, _text_length(rng))
        stats.hostile += hostile
        stats.anonymised += anonymised
        stats.text_chars += 0 if anonymised else len(text)
        stats.max_text_chars = max(stats.max_text_chars, len(text))
        yield (
            concern_id,
            format_reference(prefix, numbers[quarter_id]),
            quarter_id,
            numbers[quarter_id],
            rng.choice(_TOPICS),
            None if anonymised else 10_000_000 + rng.randint(1, 50_000),
            rng.choice(_LANGUAGES),
            None if anonymised else text,
            f"AgACAgIAAxk{concern_id:012d}" if rng.random() < 0.15 else None,
            53.07 + rng.random() / 50 if rng.random() < 0.1 else None,
            8.80 + rng.random() / 50 if rng.random() < 0.1 else None,
            int(rng.random() < 0.7),
            status,
            to_db_time(created),
            to_db_time(changed),
            closed,
            to_db_time(changed + timedelta(days=365)) if anonymised else None,
            to_db_time(created + timedelta(seconds=5)),
        )
    stats.extra["numbers_per_quarter"] = numbers


def _event_rows(rng: random.Random, stats: SeedStats) -> Iterator[tuple[Any, ...]]:
    """Threads for about 40% of concerns: resident follow-ups, staff replies, notes, statuses."""
    kinds = ("reply", "reply", "reply", "resident", "note", "status")
    created = to_db_time(datetime.now(UTC) - timedelta(days=30))
    for concern_id in range(1, CONCERNS + 1):
        if rng.random() >= 0.4:
            continue
        for _ in range(rng.randint(1, 5)):
            kind = rng.choice(kinds)
            stats.events += 1
            stats.replies += kind == "reply"
            text = None if kind == "status" else _text(rng, rng.randint(10, 300))[0]
            status = "in_progress" if kind == "status" else None
            yield (concern_id, kind, 900_001, text, status, created)


async def seed(config_path: Path) -> SeedStats:
    """Create the database with the app's migrations and fill it with executemany."""
    config = load_config(config_path)
    repos = Repositories.create(config)
    rng = random.Random(SEED)
    stats = SeedStats(concerns=CONCERNS)
    quarters = [(q.id, q.prefix) for q in config.quarters]
    await repos.db.open()
    try:
        await repos.db.executemany(_CONCERN_INSERT, _concern_rows(rng, quarters, stats))
        await repos.db.executemany(_EVENT_INSERT, _event_rows(rng, stats))
        counters = stats.extra["numbers_per_quarter"].items()
        await repos.db.executemany(_COUNTER_INSERT, list(counters))
    finally:
        await repos.db.close()
    return stats


# --- measuring child processes ------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    """One child process: wall time, its own peak RSS (VmHWM) and wait4's ru_maxrss."""

    seconds: float
    peak_rss_mib: float
    wait4_maxrss_mib: float


def vm_kib(pid: int, key: str) -> int:
    """A `Vm…` figure of /proc/<pid>/status in KiB (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class HighWater(threading.Thread):
    """Samples a child's VmHWM until stopped: the peak of the program it exec'd."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        """Poll every couple of milliseconds; VmHWM only grows, so late samples lose nothing."""
        while not self.done.wait(HWM_SAMPLE_SECONDS):
            self.kib = max(self.kib, vm_kib(self.pid, "VmHWM"))


def run_child(argv: Sequence[str], stdout_path: Path, cwd: Path) -> ChildRun:
    """Run one process alone; time it, sample its VmHWM and read its rusage with wait4."""
    with stdout_path.open("wb") as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # Popen returns once exec succeeded, so the sampler never sees the pre-exec fork.
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd)
        sampler = HighWater(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        sampler.done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            problem = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{argv[0]} exited with {proc.returncode}: {problem}")
    # ru_maxrss (KiB) also counts the parent's pages the child had between fork and exec.
    return ChildRun(seconds, sampler.kib / 1024, usage.ru_maxrss / 1024)


@dataclass
class Export:
    """One export format, with its command and the runs so far."""

    fmt: str
    argv: list[str]
    output: Path
    runs: list[ChildRun] = field(default_factory=list)

    def run(self, scratch: Path) -> ChildRun:
        """One measured run."""
        self.output.unlink(missing_ok=True)
        result = run_child(self.argv, scratch / f"{self.fmt}.stdout", REPO)
        self.runs.append(result)
        return result

    @property
    def seconds(self) -> float:
        """Median wall time."""
        return median([r.seconds for r in self.runs])

    @property
    def peak_rss_mib(self) -> float:
        """Largest peak RSS over the runs."""
        return max(r.peak_rss_mib for r in self.runs)


def exports(work: Path, config: Path) -> list[Export]:
    """`quartierbot export` as CSV and as XLSX."""
    found = []
    for fmt in ("csv", "xlsx"):
        out = work / f"export.{fmt}"
        argv = [sys.executable, "-m", "bot", "export", "--config", str(config)]
        found.append(Export(fmt, [*argv, "--format", fmt, "--out", str(out)], out))
    return found


def measure(entrants: list[Export], work: Path, started: float) -> int:
    """Round-robin runs (each child alone) until RUNS rounds or the time budget is used."""
    rounds = 0
    while rounds < RUNS:
        round_start = time.perf_counter()
        for entrant in entrants:
            entrant.run(work)
        rounds += 1
        took = time.perf_counter() - round_start
        times = ", ".join(f"{e.fmt} {e.runs[-1].seconds:.2f} s" for e in entrants)
        print(f"round {rounds}: {times}")
        if time.perf_counter() - started + took > BUDGET_SECONDS:
            break
    return rounds


# --- verifying outputs --------------------------------------------------------------------------


def csv_rows(path: Path) -> int:
    """Number of records in an export's CSV (multi-line cells count once)."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        return sum(1 for _ in csv.reader(handle, delimiter=";"))


def xlsx_rows(path: Path) -> int:
    """Number of `<row>` elements in the first worksheet, streamed from the zip."""
    count, tail = 0, b""
    with zipfile.ZipFile(path) as archive, archive.open("xl/worksheets/sheet1.xml") as sheet:
        while chunk := sheet.read(1 << 20):
            # Four carried-over bytes catch a tag split across chunks but never hold a whole one.
            count += (tail + chunk).count(b"<row ")
            tail = chunk[-4:]
    return count


def data_rows(entrant: Export) -> int:
    """Data rows in an export (header excluded)."""
    if entrant.fmt == "csv":
        return csv_rows(entrant.output) - 1
    return xlsx_rows(entrant.output) - 1


# --- the report ---------------------------------------------------------------------------------


def add_rows(report: Report, entrants: list[Export]) -> None:
    """Time and peak RSS of each format against the goals, then the row counts."""
    goals = {"csv": CSV_SECONDS_GOAL, "xlsx": XLSX_SECONDS_GOAL}
    for entrant in entrants:
        name, goal = entrant.fmt.upper(), goals[entrant.fmt]
        seconds = entrant.seconds
        report.add(f"{name} export time", seconds, "s", f"<= {goal:.0f} s", seconds <= goal)
    for entrant in entrants:
        peak = entrant.peak_rss_mib
        goal_text = f"<= {RSS_GOAL_MIB:.0f} MiB"
        report.add(f"{entrant.fmt.upper()} peak RSS", peak, "MiB", goal_text, peak <= RSS_GOAL_MIB)
    for entrant in entrants:
        count = data_rows(entrant)
        goal_text = f"= {CONCERNS:,}"
        report.add(f"{entrant.fmt.upper()} data rows", count, "rows", goal_text, count == CONCERNS)


def add_details(
    report: Report, stats: SeedStats, entrants: list[Export], work: Path, rounds: int
) -> None:
    """Sizes and every run, for the JSON file."""
    report.details.update(
        concerns=stats.concerns,
        concern_events=stats.events,
        replies=stats.replies,
        hostile_texts=stats.hostile,
        anonymised=stats.anonymised,
        average_text_chars=round(stats.text_chars / max(1, stats.concerns - stats.anonymised)),
        max_text_chars=stats.max_text_chars,
        database_mib=round((work / "bench.sqlite3").stat().st_size / MIB, 1),
        rounds=rounds,
        config="config.example.toml (9 languages, 3 quarters), own database",
        parent_maxrss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        load_average=os.getloadavg(),
        rss_note=(
            "peak RSS is the child's VmHWM, sampled every 2 ms; wait4's ru_maxrss is an upper "
            "bound that includes the parent's pages inherited between fork and exec"
        ),
    )
    for entrant in entrants:
        report.details[entrant.fmt] = {
            "seconds": [round(r.seconds, 3) for r in entrant.runs],
            "peak_rss_mib": [round(r.peak_rss_mib, 1) for r in entrant.runs],
            "wait4_maxrss_mib": [round(r.wait4_maxrss_mib, 1) for r in entrant.runs],
            "output_mib": round(entrant.output.stat().st_size / MIB, 1),
            "command": " ".join(entrant.argv[:4]) + " …",
        }


def main() -> int:
    """Seed, measure, verify, report."""
    started = time.perf_counter()
    report = Report("export")
    with tempfile.TemporaryDirectory(prefix="quartierbot-bench-export-") as tmp:
        work = Path(tmp)
        config_path = write_config(work, "bench.sqlite3")
        stats = asyncio.run(seed(config_path))
        print(f"seeded {stats.concerns:,} concerns in {time.perf_counter() - started:.1f} s")
        entrants = exports(work, config_path)
        rounds = measure(entrants, work, started)
        add_rows(report, entrants)
        add_details(report, stats, entrants, work, rounds)
    report.details["total_seconds"] = round(time.perf_counter() - started, 1)
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
