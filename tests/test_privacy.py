"""The resident's rights: /mydata is complete, /deleteme leaves no trace, retention anonymises."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

from bot.jobs import run_retention
from bot.repositories import Repositories
from tests.conftest import ADMIN_ID, GROUP_ID
from tests.recording import Person, running_app, texts

SECRET_TEXT = "SECRET-LAMP-4711 broken for weeks"
FOLLOW_UP = "FOLLOWUP-0815 it is at the corner"
USER_ID = 987654321
PHOTO = {"photo": [{"file_id": "PHOTO-FILE-ID-42", "file_unique_id": "u", "width": 9, "height": 9}]}


async def submit_rich_concern(person: Person, admin: Person) -> None:
    """A concern with text, photo and location, a staff reply and a resident follow-up."""
    await person.send("/start q-bahnhofsvorstadt")
    await person.press("English")
    await person.send("/concern")
    await person.press("Safety")
    await person.send_extra(PHOTO | {"caption": SECRET_TEXT})
    await person.press("Yes")
    await person.press("I agree")
    await person.press("Submit")
    await admin.send(f"/reply BV-0001 We will look at it {USER_ID % 1000}")
    await admin.send("/note BV-0001 internal remark")
    await person.reply(person.last_message_to(), FOLLOW_UP)
    await person.send("/concern")  # an unfinished draft, too
    await person.press("Housing")
    await person.send("DRAFT-TEXT-99")


def scan_database(path: Path, needles: list[str], user_id: int) -> list[str]:
    """Every place in the database (rows, and raw file bytes) that still holds a needle."""
    found = []
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - table names from sqlite
                for cell in row:
                    if cell == user_id or any(n in str(cell) for n in needles):
                        found.append(f"{table}: {row}")
    for file in (path, path.with_name(path.name + "-wal")):
        if file.exists():
            raw = file.read_bytes()
            found += [f"{file.name}: bytes of {n!r}" for n in needles if n.encode() in raw]
    return found


async def test_mydata_contains_everything_stored(repos: Repositories) -> None:
    async with running_app(repos) as (app, request):
        person = Person(app, request, USER_ID, "en")
        admin = Person(app, request, ADMIN_ID, "de")
        await submit_rich_concern(person, admin)
        calls = await person.send("/mydata")
    (document,) = [c for c in calls if c.method == "sendDocument"]
    name, content = request.files[
        (USER_ID, next(iter(mid for (cid, mid) in request.files if cid == USER_ID)))
    ]
    assert name == "quartierbot-my-data.json"
    data = json.loads(content)
    assert data["profile"]["telegram_user_id"] == USER_ID
    assert data["profile"]["language"] == "en"
    assert data["profile"]["home_quarter"] == "bahnhofsvorstadt"
    assert data["profile"]["privacy_consent"] is not None
    assert data["concern_draft"]["text"] == "DRAFT-TEXT-99"
    (concern,) = data["concerns"]
    assert concern["reference"] == "BV-0001" and concern["text"] == SECRET_TEXT
    assert concern["photo_telegram_file_id"] == "PHOTO-FILE-ID-42"
    assert [entry["kind"] for entry in concern["thread"]] == ["reply", "note", "resident"]
    assert concern["thread"][2]["text"] == FOLLOW_UP
    assert data["subscriptions"] == []
    assert document.params["caption"] == "This is everything the bot stores about you."


#: Columns that name a person; a table holding one of them is about people.
PERSON_COLUMNS = ("user_id", "resident_id", "chat_id", "author_id", "actor_id")


async def every_row_about(repos: Repositories, user_id: int) -> dict[str, list[dict[str, object]]]:
    """Walk the schema: each table with a person column, its rows naming `user_id`."""
    found: dict[str, list[dict[str, object]]] = {}
    with sqlite3.connect(repos.config.database) as conn:
        conn.row_factory = sqlite3.Row
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
            for column in (c for c in columns if c in PERSON_COLUMNS):
                sql = f"SELECT * FROM {table} WHERE {column} = ?"  # noqa: S608 - schema names
                rows = conn.execute(sql, (user_id,))
                found.setdefault(table, []).extend(dict(row) for row in rows)
    return found


async def test_mydata_holds_every_row_of_every_table_about_the_person(
    repos: Repositories,
) -> None:
    from datetime import UTC, datetime

    from storage.events import EventInput

    async with running_app(repos) as (app, request):
        person = Person(app, request, USER_ID, "en")
        admin = Person(app, request, ADMIN_ID, "de")
        await submit_rich_concern(person, admin)
        await person.send("/subscribe bahnhofsvorstadt")
        await repos.subscriptions.set_topics(USER_ID, ["safety"])
        await person.send("/closed 2026-12-24")  # a refused staff command: audited with their id
        event = await repos.events.create(
            ADMIN_ID,
            EventInput(
                quarter_id="bahnhofsvorstadt",
                title="Street festival",
                starts_at=datetime(2030, 6, 1, 12, 0, tzinfo=UTC),
                ends_at=None,
                place="Bahnhofsplatz",
                description="",
                capacity=None,
                topic_id=None,
            ),
        )
        await repos.events.rsvp(event.id, USER_ID, datetime.now(UTC))
        await repos.events.mark_reminded(event.id, USER_ID, 120, datetime.now(UTC))
        broadcast = await repos.broadcasts.create(
            created_by=ADMIN_ID,
            quarters=["bahnhofsvorstadt"],
            topic_id=None,
            language=None,
            text="Fest",
            photo_file_id=None,
            scheduled_at=datetime(2030, 1, 1, tzinfo=UTC),
        )
        await repos.broadcasts.start(broadcast.id)
        calls = await person.send("/mydata")
        stored = await every_row_about(repos, USER_ID)
    assert any(c.method == "sendDocument" for c in calls)
    content = [body for (chat, _), (_, body) in request.files.items() if chat == USER_ID][-1]
    records = json.loads(content)["all_records"]
    for table, rows in stored.items():
        # A table the schema ties to people but /mydata leaves out fails here, new ones too.
        assert table in records, f"/mydata leaves out the table {table}"
        for row in rows:
            assert row in records[table], (table, row)
    covered = {table for table, rows in stored.items() if rows}
    assert {"residents", "subscriptions", "topic_filters", "rsvps", "reminders_sent"} <= covered
    assert {"deliveries", "concern_links", "concerns", "concern_drafts", "audit_log"} <= covered


async def test_deleteme_leaves_no_trace(repos: Repositories) -> None:
    async with running_app(repos) as (app, request):
        person = Person(app, request, USER_ID, "en")
        admin = Person(app, request, ADMIN_ID, "de")
        await submit_rich_concern(person, admin)
        calls = await person.send("/deleteme")
        assert texts(calls)[0].startswith("This deletes everything the bot stores about you")
        calls = await person.press("No, keep it")
        assert texts(calls) == ["Nothing was deleted."]
        assert await repos.residents.get(USER_ID) is not None
        await person.send("/deleteme")
        calls = await person.press("Yes, delete my data")
        assert texts(calls)[0].startswith("Done. All your data was deleted.")
        # The staff group post no longer shows the content.
        redacted = [c for c in calls if c.params.get("chat_id") == GROUP_ID]
        assert redacted and all(SECRET_TEXT not in str(c.params) for c in redacted)
        concern = await repos.concerns.by_reference("BV-0001")
        assert concern is not None
        # What remains is statistics only.
        remaining = (concern.topic_id, concern.quarter_id, concern.status)
        assert remaining == ("safety", "bahnhofsvorstadt", "new")
        assert concern.resident_id is None and concern.text is None
        export_rows = [row async for row in repos.export.concerns(["bahnhofsvorstadt"])]
        assert len(export_rows) == 1 and export_rows[0].text is None
        assert str(USER_ID) not in str(export_rows)
    needles = [SECRET_TEXT, FOLLOW_UP, "DRAFT-TEXT-99", "PHOTO-FILE-ID-42", str(USER_ID)]
    assert scan_database(repos.config.database, needles, USER_ID) == []


async def test_retention_anonymises_only_long_closed_concerns(
    repos: Repositories, admin: Person, app: object
) -> None:
    for user_id, text in ((1001, "old closed"), (1002, "recently closed"), (1003, "still open")):
        await repos.residents.set_quarter(user_id, "bahnhofsvorstadt")
        await repos.concerns.start_draft(user_id, "bahnhofsvorstadt")
        await repos.concerns.update_draft(user_id, topic_id="work", text=text, contact_allowed=1)
        await repos.concerns.submit(user_id, "BV", "de")
    for reference in ("BV-0001", "BV-0002"):
        concern = await repos.concerns.by_reference(reference)
        assert concern is not None
        await repos.concerns.set_status(concern, "done", ADMIN_ID)
    # BV-0001 was closed 400 days ago (retention is 365 days).
    past = repos.now() - timedelta(days=400)
    await repos.db.execute(
        "UPDATE concerns SET closed_at = ? WHERE reference = 'BV-0001'",
        (past.strftime("%Y-%m-%dT%H:%M:%SZ"),),
    )
    anonymised = await run_retention(admin.app.bot, repos)
    assert anonymised == 1
    old, recent, still_open = [await repos.concerns.by_reference(f"BV-000{n}") for n in (1, 2, 3)]
    assert old is not None and old.text is None and old.resident_id is None
    assert old.anonymised_at is not None and old.status == "done"
    assert recent is not None and recent.text == "recently closed"
    assert still_open is not None and still_open.text == "still open"
    assert await repos.concerns.for_resident(1001) == []
    # Running again changes nothing.
    assert await run_retention(admin.app.bot, repos) == 0


async def test_retention_handles_more_concerns_than_sqlite_variables(
    repos: Repositories, app: object
) -> None:
    now = "2020-01-01T00:00:00Z"
    rows = [(f"BV-{n:06d}", n, n, now, now, now) for n in range(1, 1201)]
    await repos.db.executemany(
        "INSERT INTO concerns (reference, quarter_id, number, topic_id, resident_id, language, "
        "text, contact_allowed, status, created_at, status_changed_at, closed_at) "
        "VALUES (?, 'bahnhofsvorstadt', ?, 'work', ?, 'de', 'old text', 1, 'done', ?, ?, ?)",
        rows,
    )
    anonymised, _ = await repos.privacy.anonymise_closed(repos.now())
    assert anonymised == 1200
    left = await repos.db.fetchone("SELECT count(*) FROM concerns WHERE text IS NOT NULL")
    assert left is not None and left[0] == 0


async def test_retention_covers_profiles_signups_and_deliveries(
    repos: Repositories, admin: Person, app: object
) -> None:
    from datetime import UTC, datetime

    from storage.events import EventInput

    def stamp(days_ago: int) -> str:
        return (repos.now() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")

    # Profiles: unused for 400 days (the default limit is 365) …
    for user_id in (2001, 2002, 2003, 2004, 2005):
        await repos.residents.set_quarter(user_id, "bahnhofsvorstadt")
    await repos.subscriptions.subscribe(2002, ["bahnhofsvorstadt"])  # … but follows the news
    await repos.subscriptions.subscribe(2003, ["bahnhofsvorstadt"])  # … follows, but blocked us
    await repos.residents.mark_inactive(2003)
    await repos.concerns.start_draft(2004, "bahnhofsvorstadt")  # … with a concern still open
    await repos.concerns.update_draft(2004, topic_id="work", text="open", contact_allowed=1)
    await repos.concerns.submit(2004, "BV", "de")
    await repos.db.execute(
        "UPDATE residents SET last_seen = ? WHERE user_id != 2005", (stamp(400),)
    )
    # Sign-ups and reminders: an event 100 days ago (limit 90) and one to come.
    events = []
    for starts in (repos.now() - timedelta(days=100), datetime(2030, 1, 1, tzinfo=UTC)):
        event = await repos.events.create(
            ADMIN_ID,
            EventInput("bahnhofsvorstadt", "Fest", starts, None, "Platz", "", None, None),
        )
        await repos.db.execute(
            "INSERT INTO rsvps (event_id, user_id, state, created_at) VALUES (?, 2005, 'going', ?)",
            (event.id, stamp(120)),
        )
        await repos.events.mark_reminded(event.id, 2005, 60, repos.now())
        events.append(event)
    # Deliveries of a broadcast that ended 40 days ago (limit 30).
    broadcast = await repos.broadcasts.create(
        created_by=ADMIN_ID,
        quarters=["bahnhofsvorstadt"],
        topic_id=None,
        language=None,
        text="Fest",
        photo_file_id=None,
        scheduled_at=None,
    )
    await repos.broadcasts.start(broadcast.id)
    await repos.db.execute(
        "UPDATE broadcasts SET status = 'done', finished_at = ? WHERE id = ?",
        (stamp(40), broadcast.id),
    )

    await run_retention(admin.app.bot, repos)

    remaining = {r for r in (2001, 2002, 2003, 2004, 2005) if await repos.residents.get(r)}
    assert remaining == {2002, 2004, 2005}  # the subscriber, the open concern, the recent one
    signups = await repos.db.fetchall("SELECT event_id FROM rsvps WHERE user_id = 2005")
    assert [row[0] for row in signups] == [events[1].id]
    reminders = await repos.db.fetchall("SELECT event_id FROM reminders_sent")
    assert [row[0] for row in reminders] == [events[1].id]
    assert await repos.db.fetchall("SELECT * FROM deliveries") == []
