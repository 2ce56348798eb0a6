"""Schema migrations, applied in order; version N is `MIGRATIONS[N - 1]`."""

from __future__ import annotations

# Each migration is a tuple of single statements, run in one transaction together with the
# `PRAGMA user_version` bump, so a crash leaves the database either before or after it.
# Never edit a released migration: append a new one.
#: The concerns table's columns as of schema 9, copied when migration 10 rebuilds it.
_CONCERN_COLUMNS = (
    "id, reference, quarter_id, number, topic_id, resident_id, language, text, photo_file_id, "
    "latitude, longitude, contact_allowed, status, created_at, status_changed_at, closed_at, "
    "anonymised_at, posted_at, voice_file_id, voice_kind, voice_seconds, transcribed, kind"
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: residents, office closures, the staff audit log.
    (
        """
        CREATE TABLE residents (
            user_id     INTEGER PRIMARY KEY,
            language    TEXT,
            quarter_id  TEXT,
            first_seen  TEXT NOT NULL,
            last_seen   TEXT NOT NULL
        ) STRICT
        """,
        """
        CREATE TABLE closures (
            id          INTEGER PRIMARY KEY,
            quarter_id  TEXT,
            first_day   TEXT NOT NULL,
            last_day    TEXT NOT NULL,
            reason      TEXT NOT NULL DEFAULT '',
            created_by  INTEGER NOT NULL,
            created_at  TEXT NOT NULL,
            CHECK (last_day >= first_day)
        ) STRICT
        """,
        "CREATE INDEX closures_by_last_day ON closures (last_day)",
        """
        CREATE TABLE audit_log (
            id        INTEGER PRIMARY KEY,
            at        TEXT NOT NULL,
            actor_id  INTEGER NOT NULL,
            action    TEXT NOT NULL,
            subject   TEXT NOT NULL DEFAULT '',
            detail    TEXT NOT NULL DEFAULT ''
        ) STRICT
        """,
        # The audit log is append-only: staff act through the bot, which can only insert.
        """
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
        """,
        """
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
        """,
    ),
    # 2: concerns with their threads, drafts of the intake conversation, quarter officers.
    (
        "ALTER TABLE residents ADD COLUMN consent_at TEXT",
        """
        CREATE TABLE officers (
            user_id     INTEGER NOT NULL,
            quarter_id  TEXT NOT NULL,
            added_by    INTEGER NOT NULL,
            added_at    TEXT NOT NULL,
            PRIMARY KEY (user_id, quarter_id)
        ) STRICT
        """,
        """
        CREATE TABLE concern_counters (
            quarter_id   TEXT PRIMARY KEY,
            last_number  INTEGER NOT NULL
        ) STRICT
        """,
        """
        CREATE TABLE concerns (
            id                 INTEGER PRIMARY KEY,
            reference          TEXT NOT NULL UNIQUE,
            quarter_id         TEXT NOT NULL,
            number             INTEGER NOT NULL,
            topic_id           TEXT NOT NULL,
            resident_id        INTEGER,
            language           TEXT,
            text               TEXT,
            photo_file_id      TEXT,
            latitude           REAL,
            longitude          REAL,
            contact_allowed    INTEGER NOT NULL CHECK (contact_allowed IN (0, 1)),
            status             TEXT NOT NULL
                               CHECK (status IN ('new', 'in_progress', 'done', 'rejected')),
            created_at         TEXT NOT NULL,
            status_changed_at  TEXT NOT NULL,
            closed_at          TEXT,
            anonymised_at      TEXT,
            posted_at          TEXT,
            UNIQUE (quarter_id, number)
        ) STRICT
        """,
        "CREATE INDEX concerns_by_resident ON concerns (resident_id) WHERE resident_id IS NOT NULL",
        "CREATE INDEX concerns_by_quarter_status ON concerns (quarter_id, status)",
        "CREATE INDEX concerns_by_created ON concerns (created_at)",
        """
        CREATE INDEX concerns_to_anonymise ON concerns (closed_at)
        WHERE anonymised_at IS NULL AND closed_at IS NOT NULL
        """,
        "CREATE INDEX concerns_unposted ON concerns (id) WHERE posted_at IS NULL",
        """
        CREATE TABLE concern_events (
            id          INTEGER PRIMARY KEY,
            concern_id  INTEGER NOT NULL REFERENCES concerns (id) ON DELETE CASCADE,
            kind        TEXT NOT NULL CHECK (kind IN ('resident', 'reply', 'note', 'status')),
            author_id   INTEGER,
            text        TEXT,
            status      TEXT,
            created_at  TEXT NOT NULL
        ) STRICT
        """,
        "CREATE INDEX concern_events_by_concern ON concern_events (concern_id, id)",
        # Which Telegram message (a relay in a resident's chat, a post in the staff group) belongs
        # to which concern, so that a Telegram reply to it lands in the right thread.
        """
        CREATE TABLE concern_links (
            chat_id     INTEGER NOT NULL,
            message_id  INTEGER NOT NULL,
            concern_id  INTEGER NOT NULL REFERENCES concerns (id) ON DELETE CASCADE,
            kind        TEXT NOT NULL DEFAULT 'text'
                        CHECK (kind IN ('text', 'photo', 'location', 'followup')),
            PRIMARY KEY (chat_id, message_id)
        ) STRICT
        """,
        "CREATE INDEX concern_links_by_concern ON concern_links (concern_id)",
        # The intake conversation, written through on every step so a restart loses nothing.
        """
        CREATE TABLE concern_drafts (
            user_id          INTEGER PRIMARY KEY,
            step             TEXT NOT NULL,
            quarter_id       TEXT NOT NULL,
            topic_id         TEXT,
            text             TEXT,
            photo_file_id    TEXT,
            latitude         REAL,
            longitude        REAL,
            contact_allowed  INTEGER,
            editing          INTEGER NOT NULL DEFAULT 0,
            updated_at       TEXT NOT NULL
        ) STRICT
        """,
    ),
    # 3: subscriptions, events with RSVPs and reminders, broadcasts with durable deliveries.
    (
        # Set when Telegram says the resident blocked the bot or the chat is gone; cleared when
        # they write again. Inactive residents receive no broadcasts.
        "ALTER TABLE residents ADD COLUMN inactive_since TEXT",
        """
        CREATE TABLE subscriptions (
            user_id     INTEGER NOT NULL,
            quarter_id  TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            PRIMARY KEY (user_id, quarter_id)
        ) STRICT
        """,
        "CREATE INDEX subscriptions_by_quarter ON subscriptions (quarter_id, user_id)",
        # No rows for a user means: all topics.
        """
        CREATE TABLE topic_filters (
            user_id   INTEGER NOT NULL,
            topic_id  TEXT NOT NULL,
            PRIMARY KEY (user_id, topic_id)
        ) STRICT
        """,
        """
        CREATE TABLE events (
            id            INTEGER PRIMARY KEY,
            quarter_id    TEXT NOT NULL,
            title         TEXT NOT NULL,
            starts_at     TEXT NOT NULL,
            ends_at       TEXT,
            place         TEXT NOT NULL,
            description   TEXT NOT NULL DEFAULT '',
            capacity      INTEGER CHECK (capacity IS NULL OR capacity > 0),
            topic_id      TEXT,
            created_by    INTEGER NOT NULL,
            created_at    TEXT NOT NULL,
            updated_at    TEXT NOT NULL,
            cancelled_at  TEXT,
            CHECK (ends_at IS NULL OR ends_at > starts_at)
        ) STRICT
        """,
        "CREATE INDEX events_upcoming ON events (starts_at) WHERE cancelled_at IS NULL",
        # Waiting-list order is the insertion order (rowid).
        """
        CREATE TABLE rsvps (
            event_id    INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
            user_id     INTEGER NOT NULL,
            state       TEXT NOT NULL CHECK (state IN ('going', 'waiting')),
            created_at  TEXT NOT NULL,
            PRIMARY KEY (event_id, user_id)
        ) STRICT
        """,
        "CREATE INDEX rsvps_by_user ON rsvps (user_id)",
        "CREATE INDEX rsvps_by_event_state ON rsvps (event_id, state)",
        """
        CREATE TABLE reminders_sent (
            event_id        INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
            user_id         INTEGER NOT NULL,
            offset_minutes  INTEGER NOT NULL,
            sent_at         TEXT NOT NULL,
            PRIMARY KEY (event_id, user_id, offset_minutes)
        ) STRICT
        """,
        """
        CREATE TABLE broadcasts (
            id                   INTEGER PRIMARY KEY,
            created_by           INTEGER NOT NULL,
            quarters             TEXT NOT NULL,
            topic_id             TEXT,
            language             TEXT,
            text                 TEXT NOT NULL DEFAULT '',
            photo_file_id        TEXT,
            event_id             INTEGER REFERENCES events (id) ON DELETE SET NULL,
            status               TEXT NOT NULL
                                 CHECK (status IN ('scheduled', 'sending', 'done', 'cancelled')),
            scheduled_at         TEXT,
            created_at           TEXT NOT NULL,
            started_at           TEXT,
            finished_at          TEXT,
            report_chat_id       INTEGER,
            progress_message_id  INTEGER
        ) STRICT
        """,
        "CREATE INDEX broadcasts_by_status ON broadcasts (status, scheduled_at)",
        """
        CREATE TABLE deliveries (
            broadcast_id     INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
            chat_id          INTEGER NOT NULL,
            state            TEXT NOT NULL
                             CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'blocked')),
            attempts         INTEGER NOT NULL DEFAULT 0,
            next_attempt_at  TEXT,
            message_id       INTEGER,
            last_error       TEXT,
            updated_at       TEXT NOT NULL,
            UNIQUE (broadcast_id, chat_id)
        ) STRICT
        """,
        "CREATE INDEX deliveries_todo ON deliveries (broadcast_id, state, next_attempt_at)",
        "CREATE INDEX deliveries_by_chat ON deliveries (chat_id)",
        # Staff conversations (a new event, an edit, a broadcast), one at a time per person,
        # written through like the residents' concern drafts.
        """
        CREATE TABLE staff_drafts (
            user_id     INTEGER PRIMARY KEY,
            kind        TEXT NOT NULL,
            step        TEXT NOT NULL,
            data        TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        ) STRICT
        """,
    ),
    # 4: the update inbox: updates are committed here before Telegram is told we have them.
    (
        """
        CREATE TABLE inbox (
            update_id    INTEGER PRIMARY KEY,
            payload      TEXT,
            received_at  TEXT NOT NULL,
            handled_at   TEXT
        ) STRICT
        """,
        "CREATE INDEX inbox_pending ON inbox (update_id) WHERE handled_at IS NULL",
    ),
    # 5: the outbox: messages to someone other than the update's sender, committed with the
    # change they report and delivered in the background. A row names what to send (a concern,
    # a thread entry, an event), never the text itself, and is deleted once delivered.
    (
        """
        CREATE TABLE outbox (
            id          INTEGER PRIMARY KEY,
            chat_id     INTEGER NOT NULL,
            kind        TEXT NOT NULL,
            concern_id  INTEGER REFERENCES concerns (id),
            entry_id    INTEGER REFERENCES concern_events (id),
            event_id    INTEGER REFERENCES events (id) ON DELETE CASCADE,
            state       TEXT NOT NULL DEFAULT 'waiting'
                        CHECK (state IN ('waiting', 'sending', 'failed')),
            attempts    INTEGER NOT NULL DEFAULT 0,
            not_before  TEXT NOT NULL,
            created_at  TEXT NOT NULL
        ) STRICT
        """,
        "CREATE INDEX outbox_due ON outbox (state, not_before, id)",
        "CREATE INDEX outbox_by_chat ON outbox (chat_id)",
        "CREATE INDEX outbox_by_concern ON outbox (concern_id) WHERE concern_id IS NOT NULL",
        # The fair limit on follow-ups counts a resident's recent messages.
        "CREATE INDEX concern_events_by_resident ON concern_events (author_id, created_at) "
        "WHERE kind = 'resident'",
    ),
    # 6: machine translations, stored once and reused; a subject names the text translated
    # ("concern:12", "entry:40"), so they go with it when it is erased or anonymised.
    (
        """
        CREATE TABLE translations (
            subject          TEXT NOT NULL,
            target           TEXT NOT NULL,
            source_language  TEXT NOT NULL,
            text             TEXT NOT NULL,
            created_at       TEXT NOT NULL,
            PRIMARY KEY (subject, target)
        ) STRICT
        """,
    ),
    # 7: voice messages (a voice note, an audio file or a video note) in concerns, follow-ups and
    # replies, kept by Telegram file id only; `transcribed` marks a text that came from speech.
    (
        "ALTER TABLE concern_drafts ADD COLUMN voice_file_id TEXT",
        "ALTER TABLE concern_drafts ADD COLUMN voice_kind TEXT",
        "ALTER TABLE concern_drafts ADD COLUMN voice_seconds INTEGER",
        "ALTER TABLE concern_drafts ADD COLUMN transcribed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE concerns ADD COLUMN voice_file_id TEXT",
        "ALTER TABLE concerns ADD COLUMN voice_kind TEXT",
        "ALTER TABLE concerns ADD COLUMN voice_seconds INTEGER",
        "ALTER TABLE concerns ADD COLUMN transcribed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE concern_events ADD COLUMN voice_file_id TEXT",
        "ALTER TABLE concern_events ADD COLUMN voice_kind TEXT",
        "ALTER TABLE concern_events ADD COLUMN voice_seconds INTEGER",
        "ALTER TABLE concern_events ADD COLUMN transcribed INTEGER NOT NULL DEFAULT 0",
        # A link may now be a voice copy in the staff group; SQLite cannot change a CHECK, so
        # the table is rebuilt (nothing references it).
        """
        CREATE TABLE concern_links_v7 (
            chat_id     INTEGER NOT NULL,
            message_id  INTEGER NOT NULL,
            concern_id  INTEGER NOT NULL REFERENCES concerns (id) ON DELETE CASCADE,
            kind        TEXT NOT NULL DEFAULT 'text'
                        CHECK (kind IN ('text', 'photo', 'location', 'followup', 'voice')),
            PRIMARY KEY (chat_id, message_id)
        ) STRICT
        """,
        "INSERT INTO concern_links_v7 SELECT chat_id, message_id, concern_id, kind "
        "FROM concern_links",
        "DROP TABLE concern_links",
        "ALTER TABLE concern_links_v7 RENAME TO concern_links",
        "CREATE INDEX concern_links_by_concern ON concern_links (concern_id)",
    ),
    # 8: a resident's free question to the office ("when are you open?") travels like a concern
    # of its own kind, with a reference, and the office's answer comes back the same way.
    (
        "ALTER TABLE concern_drafts ADD COLUMN kind TEXT NOT NULL DEFAULT 'concern' "
        "CHECK (kind IN ('concern', 'question'))",
        "ALTER TABLE concerns ADD COLUMN kind TEXT NOT NULL DEFAULT 'concern' "
        "CHECK (kind IN ('concern', 'question'))",
    ),
    # 9: a resident may add a photo or a location to a concern later (from its page).
    (
        "ALTER TABLE concern_events ADD COLUMN photo_file_id TEXT",
        "ALTER TABLE concern_events ADD COLUMN latitude REAL",
        "ALTER TABLE concern_events ADD COLUMN longitude REAL",
    ),
    # 10: a resident may withdraw their concern. SQLite cannot change a CHECK, so the table is
    # rebuilt (SQLite's documented procedure: `_migrate` turns foreign keys off around it, so
    # dropping the old table cascades into no thread, link or outbox row).
    (
        """
        CREATE TABLE concerns_v10 (
            id                 INTEGER PRIMARY KEY,
            reference          TEXT NOT NULL UNIQUE,
            quarter_id         TEXT NOT NULL,
            number             INTEGER NOT NULL,
            topic_id           TEXT NOT NULL,
            resident_id        INTEGER,
            language           TEXT,
            text               TEXT,
            photo_file_id      TEXT,
            latitude           REAL,
            longitude          REAL,
            contact_allowed    INTEGER NOT NULL CHECK (contact_allowed IN (0, 1)),
            status             TEXT NOT NULL
                               CHECK (status IN ('new', 'in_progress', 'done', 'rejected',
                                                 'withdrawn')),
            created_at         TEXT NOT NULL,
            status_changed_at  TEXT NOT NULL,
            closed_at          TEXT,
            anonymised_at      TEXT,
            posted_at          TEXT,
            voice_file_id      TEXT,
            voice_kind         TEXT,
            voice_seconds      INTEGER,
            transcribed        INTEGER NOT NULL DEFAULT 0,
            kind               TEXT NOT NULL DEFAULT 'concern'
                               CHECK (kind IN ('concern', 'question')),
            UNIQUE (quarter_id, number)
        ) STRICT
        """,
        f"INSERT INTO concerns_v10 ({_CONCERN_COLUMNS}) "  # noqa: S608 - constant names
        f"SELECT {_CONCERN_COLUMNS} FROM concerns",
        "DROP TABLE concerns",
        "ALTER TABLE concerns_v10 RENAME TO concerns",
        "CREATE INDEX concerns_by_resident ON concerns (resident_id) WHERE resident_id IS NOT NULL",
        "CREATE INDEX concerns_by_quarter_status ON concerns (quarter_id, status)",
        "CREATE INDEX concerns_by_created ON concerns (created_at)",
        """
        CREATE INDEX concerns_to_anonymise ON concerns (closed_at)
        WHERE anonymised_at IS NULL AND closed_at IS NOT NULL
        """,
        "CREATE INDEX concerns_unposted ON concerns (id) WHERE posted_at IS NULL",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
