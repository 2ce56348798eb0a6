"""Concern exports for reports to the funding body: filters, labels and the row stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.concerns import quarter_name, status_label, topic_label
from bot.export import (
    CSV_DELIMITER,
    CSV_LINE_END,
    EXPORT_FORMATS,
    ExportLabels,
    ExportRow,
    csv_cell,
    local_minutes,
    offset_table,
    write_csv_pieces,
    write_export,
)
from bot.i18n import N_, Translator
from storage.concerns import STATUSES, ExportLayout
from storage.db import from_db_time

if TYPE_CHECKING:
    from bot.config import Config
    from bot.repositories import Repositories
    from storage.concerns import ConcernRepository

EXPORT_HEADERS: tuple[str, ...] = (
    N_("Reference"),
    N_("Created at"),
    N_("Quarter"),
    N_("Topic"),
    N_("Status"),
    N_("Language"),
    N_("Anonymous"),
    N_("Text"),
    N_("Replies"),
    N_("Last status change"),
)


class ExportRequestError(ValueError):
    """The export arguments cannot be used; the message is already translated."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export."""

    fmt: str = "csv"
    first_day: date | None = None
    last_day: date | None = None
    quarter_id: str | None = None


def parse_export_arguments(
    tokens: Sequence[str], quarter_ids: Collection[str], t: Translator
) -> ExportRequest:
    """`[csv|xlsx] [from YYYY-MM-DD] [to YYYY-MM-DD] [quarter id]`, words in any order."""
    fmt, first, last, quarter = "csv", None, None, None
    words = [token.strip() for token in tokens if token.strip()]
    index = 0
    while index < len(words):
        word = words[index].lower()
        if word in EXPORT_FORMATS:
            fmt = word
        elif word in ("from", "to") and index + 1 < len(words):
            day = _iso_day(words[index + 1], t)
            if word == "from":
                first = day
            else:
                last = day
            index += 1
        elif word in quarter_ids:
            quarter = word
        else:
            raise ExportRequestError(
                t._("I don't understand “{word}”.", word=words[index][:30]) + "\n" + export_usage(t)
            )
        index += 1
    if first and last and last < first:
        raise ExportRequestError(t._("The end date is before the start date."))
    return ExportRequest(fmt, first, last, quarter)


def export_usage(t: Translator) -> str:
    """How to call /export."""
    return t._("Usage: /export [csv|xlsx] [from YYYY-MM-DD] [to YYYY-MM-DD] [quarter]")


def _iso_day(text: str, t: Translator) -> date:
    """A YYYY-MM-DD date."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ExportRequestError(
            t._(
                "I could not read the date “{text}”. Please write it like {example}.",
                text=text[:20],
                example="2026-01-31",
            )
        ) from None


def export_labels(t: Translator) -> ExportLabels:
    """Column headers and yes/no in the reader's language (German for staff by default)."""
    return ExportLabels(
        headers=tuple(t._(header) for header in EXPORT_HEADERS),
        yes=t._("yes"),
        no=t._("no"),
        sheet_name=t._("Concerns")[:31],
    )


async def export_rows(
    config: Config,
    concerns: ConcernRepository,
    t: Translator,
    quarter_ids: Collection[str],
    request: ExportRequest,
) -> AsyncIterator[ExportRow]:
    """The export rows, streamed from the database and labelled for the reader."""
    created_from, created_before = _created_range(request, config.timezone)
    # Labels repeat on every row: look each one up once, not 100,000 times.
    quarters, topics, statuses = _label_lookups(config, t)
    async for record in concerns.export(quarter_ids, created_from, created_before):
        yield ExportRow(
            reference=record.reference,
            created_at=record.created_at,
            quarter=quarters[record.quarter_id],
            topic=topics[record.topic_id],
            status=statuses[record.status],
            language=record.language or "",
            anonymous=record.anonymous,
            text=record.text or "",
            replies=record.replies,
            last_status_change=record.status_changed_at,
        )


def _created_range(request: ExportRequest, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """The request's days as [local midnight of the first, local midnight after the last)."""
    created_from = _start_of(request.first_day, tz) if request.first_day else None
    created_before = (
        _start_of(request.last_day + timedelta(days=1), tz) if request.last_day else None
    )
    return created_from, created_before


def _label_lookups(config: Config, t: Translator) -> tuple[_Labels, _Labels, _Labels]:
    """Quarter, topic and status labels, each computed once."""
    return (
        _Labels(lambda key: quarter_name(key, config)),
        _Labels(lambda key: topic_label(key, config, t)),
        _Labels(lambda key: status_label(key, t)),
    )


def csv_layout(config: Config, t: Translator, labels: ExportLabels) -> ExportLayout:
    """Every label and the time zone as SQLite renders them into CSV lines."""
    tz = config.timezone
    quarters, topics, statuses = _label_lookups(config, t)
    lookups = {"quarter": quarters, "topic": topics, "status": statuses}

    def fallback(kind: str, value: str) -> str:
        """A cell the tables miss: a removed quarter or topic, a time outside the table."""
        if kind == "time":
            return local_minutes(from_db_time(value), tz)
        return csv_cell(lookups[kind][value])

    periods, periods_end = offset_table(tz)
    return ExportLayout(
        quarters={q.id: csv_cell(quarters[q.id]) for q in config.quarters},
        topics={topic.id: csv_cell(topics[topic.id]) for topic in config.topics},
        statuses={status: csv_cell(statuses[status]) for status in STATUSES},
        anonymous=csv_cell(labels.yes),
        contactable=csv_cell(labels.no),
        periods=periods,
        periods_end=periods_end,
        fallback=fallback,
        delimiter=CSV_DELIMITER,
        line_end=CSV_LINE_END,
    )


class _Labels(dict[str, str]):
    """A dict that computes a missing label once."""

    def __init__(self, compute: Callable[[str], str]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key: str) -> str:
        """Compute and remember."""
        self[key] = value = self.compute(key)
        return value


def _start_of(day: date, tz: object) -> datetime:
    """Local midnight at the start of `day`."""
    return datetime.combine(day, time(0, 0), tzinfo=tz)  # type: ignore[arg-type]


async def write_report(
    repos: Repositories,
    t: Translator,
    quarter_ids: Collection[str],
    request: ExportRequest,
    out: Path,
) -> int:
    """Write the export file; returns the number of rows."""
    return await write_concerns_report(repos.config, repos.concerns, t, quarter_ids, request, out)


async def write_concerns_report(
    config: Config,
    concerns: ConcernRepository,
    t: Translator,
    quarter_ids: Collection[str],
    request: ExportRequest,
    out: Path,
) -> int:
    """write_report without a whole Services (for `quartierbot export`)."""
    labels = export_labels(t)
    if request.fmt == "csv":
        # SQLite renders labels and local times in C; 100,000 rows take seconds less.
        created_from, created_before = _created_range(request, config.timezone)
        batches = concerns.export_pieces(
            sorted(quarter_ids), csv_layout(config, t, labels), created_from, created_before
        )
        return await write_csv_pieces(batches, out, labels)
    rows = export_rows(config, concerns, t, sorted(quarter_ids), request)
    return await write_export(request.fmt, rows, out, labels, config.timezone)
