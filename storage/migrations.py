"""Schema migrations, applied in order; version N is `MIGRATIONS[N - 1]`."""

from __future__ import annotations

# Each migration is a tuple of single statements, run in one transaction together with the
# `PRAGMA user_version` bump, so a crash leaves the database either before or after it.
# Never edit a released migration: append a new one.
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
)

SCHEMA_VERSION = len(MIGRATIONS)
