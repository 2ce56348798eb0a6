"""Seeding helpers for the benchmarks: a realistic configuration and a large database.

Everything is written through the application's own migrations (`Services.create` +
`Database.open`), then bulk-inserted with `executemany` in a few big transactions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import load_config
from bot.repositories import Repositories
from bot.topics import DEFAULT_TOPICS
from storage.concerns import STATUSES, format_reference
from storage.db import to_db_time

ADMIN_ID = 900001
OFFICER_IDS = (900101, 900102, 900103)
GROUP_ID = -100500
FIRST_RESIDENT_ID = 10_000_000

BENCH_CONFIG = f"""
[bot]
default_language = "de"
languages = ["de", "en", "tr", "ar", "uk", "ru", "bg", "ro", "pl"]
timezone = "Europe/Berlin"
database = "bench.sqlite3"

[staff]
admins = [{ADMIN_ID}]
group_chat_id = {GROUP_ID}

[privacy]
controller = "Hans-Wendt-Stiftung, Grohner Straße 45, 28217 Bremen"
contact = "datenschutz@example.org"

[[quarters]]
id = "alwin-lonke"
name = "Alwin-Lonke-Quartier"
prefix = "AL"
[quarters.office]
name = "Quartiersbüro Alwin-Lonke-Quartier"
address = "Musterstraße 1, 28777 Bremen"
[quarters.office.hours]
tue = "10:00-13:00"
thu = "14:00-17:00"

[[quarters]]
id = "bahnhofsvorstadt"
name = "Bahnhofsvorstadt"
prefix = "BV"
[quarters.office]
name = "QEK-Büro Bahnhofsvorstadt"
address = "Musterstraße 2, 28195 Bremen"
phone = "+49 421 000000"
email = "bv@example.org"
[quarters.office.hours]
mon = "10:00-13:00, 14:00-16:00"
wed = "10:00-13:00"
fri = "10:00-12:00"

[[quarters]]
id = "huenertshagen"
name = "Hünertshagen"
prefix = "HU"
[quarters.office]
name = "Quartiersbüro Hünertshagen"
address = "Musterstraße 3, 28777 Bremen"
[quarters.office.hours]
wed = "14:00-17:00"
"""

#: Share of residents per language (the rest of the offered languages share what is left).
LANGUAGE_WEIGHTS: dict[str, float] = {"de": 0.4, "en": 0.15, "tr": 0.12, "ar": 0.1}
TOPIC_IDS = tuple(topic.id for topic in DEFAULT_TOPICS)  # the configs use the built-in topics


@dataclass(frozen=True)
class Person:
    """A seeded resident as the workloads need them."""

    user_id: int
    language: str
    quarter_id: str


@dataclass
class Seed:
    """What was written, and who the workloads may use."""

    #: Residents with at least one concern (and consent given): readers of the read-only mix.
    readers: list[Person] = field(default_factory=list)
    #: Onboarded residents without concerns, consent or draft: writers of the writing mix.
    fresh: list[Person] = field(default_factory=list)
    upcoming_event_ids: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def write_config(directory: Path) -> Path:
    """The benchmark configuration file (database next to it)."""
    path = directory / "config.toml"
    path.write_text(BENCH_CONFIG, encoding="utf-8")
    return path


def create_repositories(directory: Path) -> Repositories:
    """Services over the benchmark configuration in `directory`."""
    return Repositories.create(load_config(write_config(directory)))


def _languages(offered: Sequence[str]) -> tuple[list[str], list[float]]:
    """Languages and weights for random choice."""
    rest = [code for code in offered if code not in LANGUAGE_WEIGHTS]
    left = max(0.0, 1.0 - sum(LANGUAGE_WEIGHTS.values()))
    codes = [code for code in offered if code in LANGUAGE_WEIGHTS] + rest
    weights = [LANGUAGE_WEIGHTS.get(code, left / max(1, len(rest))) for code in codes]
    return codes, weights


def _people(repos: Repositories, count: int, rng: random.Random) -> list[Person]:
    """`count` residents with mixed languages and quarters."""
    codes, weights = _languages(repos.catalogs.offered)
    quarters = list(repos.config.quarter_ids)
    languages = rng.choices(codes, weights, k=count)
    return [Person(FIRST_RESIDENT_ID + i, languages[i], rng.choice(quarters)) for i in range(count)]


def _concern_owners(with_concerns: int, total: int, rng: random.Random) -> list[int]:
    """Index into `people` (or -1: anonymised) for each concern, oldest first."""
    return [-1 if rng.random() < 0.05 else rng.randrange(with_concerns) for _ in range(total)]


def _concern_rows(
    repos: Repositories, people: list[Person], owners: list[int], now: datetime, rng: random.Random
) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """Concern rows (ids 1..n in insertion order) and the last number per quarter."""
    prefixes = {q.id: q.prefix for q in repos.config.quarters}
    quarters = list(prefixes)
    span = timedelta(days=730)
    numbers: dict[str, int] = dict.fromkeys(quarters, 0)
    rows = []
    for index, owner in enumerate(owners):
        created = now - span + span * (index / len(owners))
        person = people[owner] if owner >= 0 else None
        quarter = person.quarter_id if person else rng.choice(quarters)
        numbers[quarter] += 1
        old = now - created > timedelta(days=60)
        status = rng.choice(("done", "done", "done", "rejected")) if old else rng.choice(STATUSES)
        closed = to_db_time(created + timedelta(days=5)) if status in ("done", "rejected") else None
        stamp = to_db_time(created)
        rows.append(
            (
                format_reference(prefixes[quarter], numbers[quarter]),
                quarter,
                numbers[quarter],
                rng.choice(TOPIC_IDS),
                person.user_id if person else None,
                person.language if person else None,
                f"Beschreibung {index}: Die Straßenlaterne ist kaputt." if person else None,
                int(rng.random() < 0.7),
                status,
                stamp,
                closed or stamp,
                closed,
                to_db_time(now - timedelta(days=1)) if person is None else None,
                stamp,
            )
        )
    return rows, numbers


def _thread_rows(concern_count: int, now: datetime, rng: random.Random) -> list[tuple[Any, ...]]:
    """concern_events for about 30 % of the concerns (1–3 entries each)."""
    rows = []
    kinds = ("status", "reply", "resident", "note")
    for concern_id in range(1, concern_count + 1):
        if rng.random() >= 0.3:
            continue
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(kinds)
            status = "in_progress" if kind == "status" else None
            text = None if kind == "status" else "Danke, wir kümmern uns darum."
            author = ADMIN_ID if kind != "resident" else None
            rows.append((concern_id, kind, author, text, status, to_db_time(now)))
    return rows


async def _insert(repos: Repositories, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """One executemany in one transaction."""
    async with repos.db.transaction() as conn:
        await conn.executemany(sql, rows)


async def _seed_residents(
    repos: Repositories,
    people: list[Person],
    consenting: set[int],
    now: datetime,
    rng: random.Random,
) -> None:
    """Residents, all seen in the last minutes (no last_seen refresh writes)."""
    seen = to_db_time(now)
    rows = [
        (
            p.user_id,
            p.language,
            p.quarter_id,
            to_db_time(now - timedelta(days=rng.randint(1, 700))),
            seen,
            seen if p.user_id in consenting else None,
        )
        for p in people
    ]
    await _insert(
        repos,
        "INSERT INTO residents (user_id, language, quarter_id, first_seen, last_seen, consent_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )


async def _seed_concerns(
    repos: Repositories,
    people: list[Person],
    with_concerns: int,
    total: int,
    now: datetime,
    rng: random.Random,
) -> tuple[set[int], int]:
    """Concerns, their threads, staff-group links and counters; returns owners and thread size."""
    owners = _concern_owners(with_concerns, total, rng)
    rows, numbers = _concern_rows(repos, people, owners, now, rng)
    await _insert(
        repos,
        "INSERT INTO concerns (reference, quarter_id, number, topic_id, resident_id, language, "
        "text, contact_allowed, status, created_at, status_changed_at, closed_at, anonymised_at, "
        "posted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    threads = _thread_rows(total, now, rng)
    await _insert(
        repos,
        "INSERT INTO concern_events (concern_id, kind, author_id, text, status, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        threads,
    )
    await _insert(
        repos,
        "INSERT INTO concern_links (chat_id, message_id, concern_id, kind) "
        "VALUES (?, ?, ?, 'text')",
        [(GROUP_ID, concern_id, concern_id) for concern_id in range(1, total + 1)],
    )
    await _insert(
        repos,
        "INSERT INTO concern_counters (quarter_id, last_number) VALUES (?, ?)",
        sorted(numbers.items()),
    )
    return {people[o].user_id for o in owners if o >= 0}, len(threads)


async def _seed_subscriptions(
    repos: Repositories, people: list[Person], now: datetime, rng: random.Random
) -> tuple[int, int]:
    """60 % follow their home quarter, 10 % all quarters; 10 % narrow topics."""
    stamp = to_db_time(now)
    subs: list[tuple[int, str, str]] = []
    topics: list[tuple[int, str]] = []
    for p in people:
        draw = rng.random()
        if draw < 0.1:
            subs += [(p.user_id, q, stamp) for q in repos.config.quarter_ids]
        elif draw < 0.7:
            subs.append((p.user_id, p.quarter_id, stamp))
        if rng.random() < 0.1:
            topics += [(p.user_id, t) for t in rng.sample(TOPIC_IDS, 2)]
    await _insert(
        repos,
        "INSERT INTO subscriptions (user_id, quarter_id, created_at) VALUES (?, ?, ?)",
        subs,
    )
    await _insert(repos, "INSERT INTO topic_filters (user_id, topic_id) VALUES (?, ?)", topics)
    return len(subs), len(topics)


async def _seed_events(
    repos: Repositories, people: list[Person], now: datetime, rng: random.Random
) -> tuple[list[int], int]:
    """Two upcoming events per quarter (one limited, one open), a past and a cancelled one."""
    stamp = to_db_time(now)
    rows: list[tuple[Any, ...]] = []
    for index, quarter in enumerate(repos.config.quarter_ids):
        for offset, capacity in ((3 + index, 40), (10 + index, None)):
            starts = now + timedelta(days=offset, hours=2)
            rows.append(
                (
                    quarter,
                    f"Nachbarschaftstreff {quarter}",
                    to_db_time(starts),
                    to_db_time(starts + timedelta(hours=2)),
                    "Gemeinschaftsraum",
                    "Kaffee und Kuchen",
                    capacity,
                    "neighbourhood",
                    ADMIN_ID,
                    stamp,
                    stamp,
                    None,
                )
            )
    past = now - timedelta(days=5)
    rows.append(
        (
            "bahnhofsvorstadt",
            "Vergangen",
            to_db_time(past),
            None,
            "Büro",
            "",
            None,
            None,
            ADMIN_ID,
            stamp,
            stamp,
            None,
        )
    )
    rows.append(
        (
            "huenertshagen",
            "Abgesagt",
            to_db_time(now + timedelta(days=4)),
            None,
            "Büro",
            "",
            None,
            None,
            ADMIN_ID,
            stamp,
            stamp,
            stamp,
        )
    )
    await _insert(
        repos,
        "INSERT INTO events (quarter_id, title, starts_at, ends_at, place, description, capacity, "
        "topic_id, created_by, created_at, updated_at, cancelled_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    upcoming = list(range(1, 2 * len(repos.config.quarter_ids) + 1))
    rsvps: list[tuple[int, int, str, str]] = []
    for event_id in upcoming:
        limited = event_id % 2 == 1
        attendees = rng.sample(people, 50 if limited else 120)
        for position, person in enumerate(attendees):
            state = "waiting" if limited and position >= 40 else "going"
            rsvps.append((event_id, person.user_id, state, stamp))
    await _insert(
        repos,
        "INSERT INTO rsvps (event_id, user_id, state, created_at) VALUES (?, ?, ?, ?)",
        rsvps,
    )
    return upcoming, len(rsvps)


async def _seed_staff(repos: Repositories, now: datetime) -> int:
    """Officers and office closures (one past, one for all offices, one per quarter)."""
    stamp = to_db_time(now)
    quarters = list(repos.config.quarter_ids)
    await _insert(
        repos,
        "INSERT INTO officers (user_id, quarter_id, added_by, added_at) VALUES (?, ?, ?, ?)",
        [(uid, q, ADMIN_ID, stamp) for uid, q in zip(OFFICER_IDS, quarters, strict=True)],
    )
    today = now.date()
    closures = [
        (None, today + timedelta(days=9), today + timedelta(days=10), "Betriebsausflug"),
        (quarters[1], today + timedelta(days=5), today + timedelta(days=5), "Fortbildung"),
        (quarters[0], today - timedelta(days=30), today - timedelta(days=28), "Urlaub"),
    ]
    await _insert(
        repos,
        "INSERT INTO closures (quarter_id, first_day, last_day, reason, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(q, a.isoformat(), b.isoformat(), r, ADMIN_ID, stamp) for q, a, b, r in closures],
    )
    return len(closures)


async def seed(
    repos: Repositories, residents: int = 50_000, concerns: int = 100_000, fresh: int = 5_000
) -> Seed:
    """Fill the open database; the last `fresh` residents get no concerns and no consent."""
    rng = random.Random(20261123)
    now = datetime.now(UTC).replace(microsecond=0)
    people = _people(repos, residents, rng)
    with_concerns = residents - fresh
    owners, threads = await _seed_concerns(repos, people, with_concerns, concerns, now, rng)
    await _seed_residents(repos, people, owners, now, rng)
    subscriptions, topic_filters = await _seed_subscriptions(repos, people, now, rng)
    upcoming, rsvps = await _seed_events(repos, people, now, rng)
    closures = await _seed_staff(repos, now)
    return Seed(
        readers=[p for p in people[:with_concerns] if p.user_id in owners],
        fresh=people[with_concerns:],
        upcoming_event_ids=upcoming,
        counts={
            "residents": residents,
            "concerns": concerns,
            "concern_events": threads,
            "concern_links": concerns,
            "subscriptions": subscriptions,
            "topic_filters": topic_filters,
            "events": len(upcoming) + 2,
            "rsvps": rsvps,
            "closures": closures,
            "officers": len(OFFICER_IDS),
        },
    )
