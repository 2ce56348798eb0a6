"""The `quartierbot` command: run, check-config."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot import __version__
from bot.app import DEFAULT_BASE_FILE_URL, DEFAULT_BASE_URL, build_application
from bot.config import Config, ConfigError, default_config_path, load_config
from bot.context import QuartierApplication
from bot.export import ExportRequest, write_report
from bot.i18n import Catalogs
from bot.repositories import Repositories
from bot.runner import (
    WebhookSettings,
    heartbeat_path,
    run_until_stopped,
    serve_webhook,
    webhook_secret,
)
from bot.translation import API_KEY_ENV as TRANSLATION_KEY_ENV
from storage.db import Database, StorageError

log = logging.getLogger("quartierbot")

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
BASE_URL_ENV = "TELEGRAM_API_BASE_URL"
BASE_FILE_URL_ENV = "TELEGRAM_API_BASE_FILE_URL"
LOG_LEVEL_ENV = "QUARTIERBOT_LOG_LEVEL"
LOG_FORMAT_ENV = "QUARTIERBOT_LOG_FORMAT"
WEBHOOK_SECRET_ENV = "QUARTIERBOT_WEBHOOK_SECRET"

EXIT_USAGE = 2

TOKEN_HINT = (
    f"quartierbot: {TOKEN_ENV} is not set. Create a bot with @BotFather in Telegram "
    f"(send /newbot), then run: export {TOKEN_ENV}='<the token BotFather gives you>'"
)


class RedactingFormatter(logging.Formatter):
    """One line per event, secrets removed (exceptions included); text or JSON."""

    def __init__(self, fmt: str, secrets: Sequence[str], as_json: bool = False) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s]
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        """Format, then blank out every secret."""
        if self.as_json:
            event = {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                event["exception"] = self.formatException(record.exc_info)
            text = json.dumps(event, ensure_ascii=False)
        else:
            text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return text


def setup_logging(secrets: Sequence[str]) -> None:
    """One line per event on stderr; secrets never printed."""
    handler = logging.StreamHandler()
    as_json = os.environ.get(LOG_FORMAT_ENV, "text").lower() == "json"
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets, as_json)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = os.environ.get(LOG_LEVEL_ENV, "INFO").upper()
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    # At DEBUG, python-telegram-bot logs whole updates and request parameters, and aiosqlite
    # every statement's parameters: message texts, names and usernames. They stay at INFO or
    # above whatever the level (logs outlive /deleteme in journald).
    for name in ("telegram", "aiosqlite"):
        logging.getLogger(name).setLevel(max(logging.INFO, root.getEffectiveLevel()))
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="quartierbot", description="Telegram bot for Bremen quarter offices."
    )
    parser.add_argument("--version", action="version", version=f"quartierbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config_help = f"configuration file (default: ${'QUARTIERBOT_CONFIG'}, else ./config.toml)"
    run = commands.add_parser("run", help="run the bot (long polling, or a webhook)")
    run.add_argument("--config", type=Path, help=config_help)
    run.add_argument(
        "--webhook-url",
        help="public HTTPS URL Telegram posts updates to (default: long polling); the secret "
        f"token comes from ${WEBHOOK_SECRET_ENV} or is generated at each start",
    )
    run.add_argument("--listen", default="127.0.0.1", help="webhook: address to listen on")
    run.add_argument("--port", type=int, default=8443, help="webhook: port to listen on")
    check = commands.add_parser("check-config", help="validate the configuration and summarise it")
    check.add_argument("--config", type=Path, help=config_help)
    export = commands.add_parser("export", help="export concerns as CSV or XLSX (for cron jobs)")
    export.add_argument("--config", type=Path, help=config_help)
    export.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    export.add_argument("--out", type=Path, required=True, help="file to write")
    export.add_argument("--from", dest="first_day", type=_iso_date, help="first day, YYYY-MM-DD")
    export.add_argument("--to", dest="last_day", type=_iso_date, help="last day, YYYY-MM-DD")
    export.add_argument("--quarter", help="only this quarter id (default: all)")
    export.add_argument(
        "--language", help="language of headers and labels (default: German, as for staff)"
    )
    poster = commands.add_parser("poster", help="A4 PDF poster with a QR code for a quarter")
    poster.add_argument("quarter", help="quarter id, e.g. bahnhofsvorstadt")
    poster.add_argument("--config", type=Path, help=config_help)
    poster.add_argument("--lang", help="languages, comma-separated (default: all offered)")
    poster.add_argument("--out", type=Path, help="PDF file (default: poster-<quarter>.pdf)")
    poster.add_argument("--username", help="the bot's username (default: asked from Telegram)")
    poster.add_argument(
        "--allow-example",
        action="store_true",
        help="print even while the office still has EXAMPLE values (a test print)",
    )
    health = commands.add_parser(
        "health", help="exit 0 if the running bot polled Telegram recently (for health checks)"
    )
    health.add_argument("--config", type=Path, help=config_help)
    health.add_argument("--max-age", type=float, default=120.0, help="seconds (default 120)")
    chat = commands.add_parser(
        "chat", help="try the bot in this terminal: no token, no network, a throwaway database"
    )
    chat.add_argument("--config", type=Path, help=config_help)
    chat.add_argument("--as", dest="persona", choices=("resident", "staff"), default="resident")
    chat.add_argument("--lang", help="language of your (pretend) Telegram app, e.g. tr")
    chat.add_argument("--database", type=Path, help="keep the chat's data in this file")
    chat.add_argument("--files", type=Path, help="folder for documents the bot sends")
    backup = commands.add_parser(
        "backup", help="consistent copy of the database, also while running"
    )
    backup.add_argument("--config", type=Path, help=config_help)
    backup.add_argument("--out", type=Path, required=True, help="file to write")
    backup.add_argument(
        "--keep",
        type=int,
        help="keep only this many backups named like --out (digits may differ), newest first",
    )
    return parser


def _iso_date(text: str) -> date:
    """argparse type for YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; nothing it prints carries the token."""
    # Opt in to python-telegram-bot's coming behaviour (durations as timedelta), which our code
    # already handles, instead of a deprecation warning on every flood-limit answer.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    args = build_parser().parse_args(argv)
    try:
        return _command(args)
    except Exception as exc:  # noqa: BLE001 - the last guard: no traceback may quote the token
        # Whatever escaped (a library's error can quote the request URL, and with it the token):
        # one redacted line instead of a traceback.
        print(f"quartierbot: failed: {redact(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return 1


def redact(text: str) -> str:
    """`text` without the bot token (or its secret half) and the webhook secret."""
    for name in (TOKEN_ENV, WEBHOOK_SECRET_ENV, TRANSLATION_KEY_ENV):
        secret = os.environ.get(name, "").strip()
        for part in (secret, secret.partition(":")[2]):
            if len(part) >= 8:
                text = text.replace(part, "<redacted>")
    return text


def api_urls() -> tuple[str, str]:
    """The Bot API and file base URLs; ValueError unless they end like Telegram's (…/bot)."""
    base = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    files = os.environ.get(BASE_FILE_URL_ENV) or DEFAULT_BASE_FILE_URL
    # python-telegram-bot appends the token right after these: without the trailing "bot" the
    # token would land in the host or port part, and an error would quote it.
    if not base.endswith("/bot"):
        raise ValueError(f"{BASE_URL_ENV} must end in /bot, like {DEFAULT_BASE_URL}")
    if not files.endswith("/file/bot"):
        raise ValueError(f"{BASE_FILE_URL_ENV} must end in /file/bot, like {DEFAULT_BASE_FILE_URL}")
    return base, files


def _command(args: argparse.Namespace) -> int:
    """Run the chosen sub-command."""
    config_path: Path = args.config or default_config_path()
    if args.command == "check-config":
        return check_config(config_path)
    if args.command == "export":
        return export(config_path, args)
    if args.command == "backup":
        return backup(config_path, args.out, args.keep)
    if args.command == "chat":
        return chat(config_path, args)
    if args.command == "poster":
        return poster(config_path, args)
    if args.command == "health":
        return health(config_path, args.max_age)
    return run(config_path, args)


def _load(config_path: Path) -> Config | None:
    """Load the configuration, printing the problem on failure."""
    try:
        return load_config(config_path)
    except ConfigError as exc:
        print(f"quartierbot: invalid configuration: {exc}", file=sys.stderr)
        return None


def check_config(config_path: Path) -> int:
    """Validate and print a short summary."""
    config = _load(config_path)
    if config is None:
        return EXIT_USAGE
    catalogs = Catalogs.load(config.languages, config.default_language, config.timezone)
    for line in summary(config, catalogs):
        print(line)
    return 0


def summary(config: Config, catalogs: Catalogs) -> list[str]:
    """Human-readable lines describing a valid configuration."""
    lines = [f"{config.path}: OK"]
    lines.append(f"quarters ({len(config.quarters)}):")
    for quarter in config.quarters:
        days = sum(1 for day in range(7) if quarter.office.hours.for_weekday(day))
        lines.append(
            f"  {quarter.id} — {quarter.name} (reference prefix {quarter.prefix}, "
            f"office open on {days} day(s) a week)"
        )
    staff = config.staff
    lines.append(
        f"staff: {len(staff.admins)} admin(s), {len(staff.officers)} officer(s) in the config"
    )
    lines += staff_group_lines(config)
    not_offered = [code for code in config.languages if code not in catalogs.offered]
    languages = f"languages: {', '.join(catalogs.offered)} (default {config.default_language})"
    if not_offered:
        languages += f"; not offered yet, catalogs incomplete: {', '.join(not_offered)}"
    lines.append(languages)
    lines.append(f"topics: {', '.join(topic.id for topic in config.topics)}")
    translation = config.translation
    if translation.enabled:
        reads = translation.staff_language or config.default_language
        lines.append(
            f"translation: {translation.backend} at {translation.url} (staff read {reads}; "
            f"texts are sent there: name it as a processor in your privacy notice)"
        )
    else:
        lines.append("translation: none (no text leaves the bot)")
    transcription = config.transcription
    if transcription.enabled:
        lines.append(
            f"transcription: {transcription.model} at {transcription.url}, voice messages up to "
            f"{transcription.max_seconds} s (recordings are sent there: name it as a processor)"
        )
    else:
        lines.append(
            f"transcription: none (voice messages up to {transcription.max_seconds} s go to "
            "staff as they are; no audio leaves the bot)"
        )
    lines.append(f"time zone: {config.timezone.key}")
    lines.append(f"database: {config.database}")
    if not config.privacy.controller:
        lines.append(
            "warning: [privacy] controller is empty; /privacy cannot name who is responsible"
        )
    lines += placeholder_warnings(config)
    return lines


#: The admin id config.example.toml ships with.
EXAMPLE_ADMIN_ID = 123456789
#: Contacts that cannot be real (RFC 2606 example domains).
_EXAMPLE_CONTACT = re.compile(r"@example\.(org|com|net)\b|\bexample\.(org|com|net)\b", re.I)


def placeholder_warnings(config: Config) -> list[str]:
    """Values left from config.example.toml: they would reach /hours, /privacy and the poster."""
    found: list[tuple[str, str]] = []
    for quarter in config.quarters:
        office = quarter.office
        for field_name in ("name", "address", "phone", "email"):
            value = getattr(office, field_name)
            if "EXAMPLE" in value or _EXAMPLE_CONTACT.search(value):
                found.append(
                    (f"quarters.{quarter.id}.office.{field_name}", "/hours and the poster")
                )
    for field_name in ("controller", "contact"):
        value = getattr(config.privacy, field_name)
        if "EXAMPLE" in value or _EXAMPLE_CONTACT.search(value):
            found.append((f"privacy.{field_name}", "/privacy"))
    lines = [
        f"warning: {key} is still an example value (shown in {where}); replace it"
        for key, where in found
    ]
    if EXAMPLE_ADMIN_ID in config.staff.admins:
        lines.append(
            f"warning: staff.admins holds the example id {EXAMPLE_ADMIN_ID}; "
            "put the real Telegram user ids of your admins"
        )
    return lines


def staff_group_lines(config: Config) -> list[str]:
    """Which staff group sees which quarters' concerns, with a warning where one sees several."""
    groups = config.staff_groups
    if not groups:
        return ["staff groups: none (staff use /concerns in their private chats)"]
    lines = ["staff groups (who reads which quarters' concerns):"]
    for group, quarter_ids in groups.items():
        lines.append(f"  {group}: {', '.join(quarter_ids)}")
        if len(quarter_ids) > 1:
            lines.append(
                f"warning: staff group {group} sees the concerns of {len(quarter_ids)} quarters; "
                "give each quarter its own with [[quarters]] staff_group_chat_id"
            )
    return lines


def run(config_path: Path, args: argparse.Namespace) -> int:
    """Run the bot until SIGINT/SIGTERM."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        print(TOKEN_HINT, file=sys.stderr)
        return EXIT_USAGE
    webhook = None
    if args.webhook_url:
        if not args.webhook_url.startswith("https://"):
            print("quartierbot: --webhook-url must be an https:// URL", file=sys.stderr)
            return EXIT_USAGE
        try:
            secret = webhook_secret(os.environ.get(WEBHOOK_SECRET_ENV))
        except ValueError as exc:
            print(f"quartierbot: {WEBHOOK_SECRET_ENV}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        webhook = WebhookSettings(args.webhook_url, args.listen, args.port, secret)
    setup_logging(
        [token, webhook.secret if webhook else "", os.environ.get(TRANSLATION_KEY_ENV, "")]
    )
    try:
        base_url, base_file_url = api_urls()
    except ValueError as exc:
        print(f"quartierbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    config = _load(config_path)
    if config is None:
        return EXIT_USAGE
    try:
        asyncio.run(_prepare_database(config))
    except StorageError as exc:
        print(f"quartierbot: database problem: {exc}", file=sys.stderr)
        return EXIT_USAGE
    repos = Repositories.create(config)
    app = build_application(repos, token, base_url=base_url, base_file_url=base_file_url)
    log.info(
        "quartierbot %s starting: quarters %s; languages %s; database %s; %s; staff groups %s",
        __version__,
        ", ".join(config.quarter_ids),
        ", ".join(repos.catalogs.offered),
        config.database,
        f"webhook {webhook.url} on {webhook.listen}:{webhook.port}" if webhook else "long polling",
        "; ".join(f"{g} → {', '.join(q)}" for g, q in config.staff_groups.items()) or "none",
    )
    for group, quarter_ids in config.staff_groups.items():
        if len(quarter_ids) > 1:
            log.warning(
                "staff group %s sees the concerns of %d quarters (%s)",
                group,
                len(quarter_ids),
                ", ".join(quarter_ids),
            )
    try:
        healthy = asyncio.run(_serve(app, webhook))
    except InvalidToken:
        print(
            f"quartierbot: Telegram refused the token in {TOKEN_ENV}; "
            "check it with @BotFather (/mybots → API Token)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except TelegramError as exc:
        # The message of a TelegramError never carries the token (the URL is not in it).
        print(f"quartierbot: cannot reach Telegram: {redact(str(exc))}", file=sys.stderr)
        return 1
    log.info("quartierbot stopped")
    return 0 if healthy else EXIT_USAGE


def export(config_path: Path, args: argparse.Namespace) -> int:
    """Write an export file without the bot (its own read connection; the bot may run)."""
    config = _load(config_path)
    if config is None:
        return EXIT_USAGE
    if args.quarter and config.quarter(args.quarter) is None:
        print(f"quartierbot: unknown quarter {args.quarter!r}", file=sys.stderr)
        return EXIT_USAGE
    if args.first_day and args.last_day and args.last_day < args.first_day:
        print("quartierbot: --to is before --from", file=sys.stderr)
        return EXIT_USAGE
    if not config.database.exists():
        # Opening would create an empty database (and an empty export): say what is wrong.
        print(
            f"quartierbot: no database at {config.database}; has the bot run with this "
            "configuration? Nothing was written.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    request = ExportRequest(args.format, args.first_day, args.last_day, args.quarter)
    quarters = {args.quarter} if args.quarter else set(config.quarter_ids)
    try:
        count = asyncio.run(_export(config, request, quarters, args.out, args.language))
    except StorageError as exc:
        print(f"quartierbot: database problem: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{count} concerns written to {args.out}")
    return 0


async def _export(
    config: Config, request: ExportRequest, quarters: set[str], out: Path, language: str | None
) -> int:
    """Open the database, write the report, close."""
    repos = Repositories.create(config)
    await repos.db.open()
    try:
        t = repos.catalogs.translator(language or repos.translation.staff_language)
        return await write_report(repos, t, quarters, request, out)
    finally:
        await repos.db.close()


async def _serve(app: QuartierApplication, webhook: WebhookSettings | None) -> bool:
    """Run until SIGINT or SIGTERM, then shut down cleanly; False if the database is damaged."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Not before the start: on a large database the check takes seconds, and a damaged file is
    # rare; the bot stops within moments if it finds one.
    checked = asyncio.create_task(_check_database(app.repos.db, stop))
    try:
        if webhook is not None:
            await serve_webhook(app, webhook, stop)
        else:
            await run_until_stopped(app, stop)
    finally:
        checked.cancel()
    return not checked.done() or checked.cancelled() or checked.result()


async def _prepare_database(config: Config) -> None:
    """Open (creating or migrating) and close the database, so problems show first."""
    database = Database(config.database)
    await database.open()
    await database.close()


def damage_report(database: Path, verdict: str) -> str:
    """What an operator must do about a damaged database."""
    return (
        f"{database} is damaged ({verdict[:200]}). Stop here and restore the latest backup: "
        "copy the file made by 'quartierbot backup' over the database (see README)"
    )


async def _check_database(db: Database, stop: asyncio.Event) -> bool:
    """SQLite's quick check while the bot already runs (it reads the whole file); stop if bad."""
    verdict = await db.quick_check()
    if verdict == "ok":
        return True
    print(f"quartierbot: database problem: {damage_report(db.path, verdict)}", file=sys.stderr)
    stop.set()
    return False


def health(config_path: Path, max_age: float) -> int:
    """Healthy when the poller's heartbeat is fresh (it is touched after every getUpdates)."""
    config = _load(config_path)
    if config is None:
        return EXIT_USAGE
    beat = heartbeat_path(config.database)
    try:
        age = time.time() - beat.stat().st_mtime
    except OSError:
        print(f"unhealthy: no heartbeat at {beat} (is the bot running?)", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"unhealthy: last poll {age:.0f} s ago", file=sys.stderr)
        return 1
    print(f"healthy: last poll {age:.0f} s ago")
    return 0


def poster(config_path: Path, args: argparse.Namespace) -> int:
    """Make the notice-board poster for one quarter."""
    # Imported here: the PDF and image libraries cost 25 MB and 0.2 s that no other command needs.
    from bot.poster import PosterError, example_values, find_font, make_poster

    config = _load(config_path)
    if config is None:
        return EXIT_USAGE
    quarter = config.quarter(args.quarter)
    if quarter is None:
        print(
            f"quartierbot: unknown quarter {args.quarter!r}; use one of "
            f"{', '.join(config.quarter_ids)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    examples = example_values(quarter)
    if examples and not args.allow_example:
        # A poster on a notice board with "EXAMPLE: Musterstraße 1" sends people nowhere.
        print(
            f"quartierbot: {', '.join(examples)} still holds an EXAMPLE value; replace it in "
            "the config first (or add --allow-example for a test print)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    catalogs = Catalogs.load(config.languages, config.default_language, config.timezone)
    languages = [c.strip() for c in args.lang.split(",")] if args.lang else list(catalogs.offered)
    unknown = [code for code in languages if code not in catalogs.offered]
    if unknown or not languages:
        print(
            f"quartierbot: languages not available: {', '.join(unknown) or '(none)'}; "
            f"offered: {', '.join(catalogs.offered)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        username = args.username or asyncio.run(_bot_username())
        font = find_font(os.environ.get("QUARTIERBOT_FONT"))
    except (PosterError, TelegramError, ValueError) as exc:
        print(f"quartierbot: {redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    out = args.out or Path(f"poster-{quarter.id}.pdf")
    link = make_poster(quarter, catalogs, languages, username, out, font)
    print(f"poster for {quarter.name} written to {out} (QR code: {link})")
    return 0


async def _bot_username() -> str:
    """The bot's username from getMe (needs TELEGRAM_BOT_TOKEN)."""
    from bot.poster import PosterError

    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise PosterError(f"give --username, or set {TOKEN_ENV} so the bot can ask Telegram")
    base_url, base_file_url = api_urls()
    bot = Bot(token, base_url=base_url, base_file_url=base_file_url)
    async with bot:
        return str(bot.username)


def chat(config_path: Path, args: argparse.Namespace) -> int:
    """The bot in the terminal (see bot/terminal.py)."""
    from bot.terminal import run_chat  # only this command needs it

    config = _load(config_path)
    if config is None:
        return EXIT_USAGE
    logging.basicConfig(level=logging.WARNING)  # the conversation is the output here
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_chat(config, args.persona, args.lang, args.database, args.files))
    return 0


def backup(config_path: Path, out: Path, keep: int | None = None) -> int:
    """Write a consistent copy of the database while the bot may keep running."""
    config = _load(config_path)
    if config is None:
        return EXIT_USAGE
    if not config.database.exists():
        print(f"quartierbot: there is no database at {config.database} yet", file=sys.stderr)
        return EXIT_USAGE
    try:
        asyncio.run(_backup(config, out))
    except (StorageError, OSError) as exc:
        print(f"quartierbot: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"database copied to {out}")
    if keep is not None:
        for old in rotate_backups(out, keep, config.database):
            print(f"old backup removed: {old}")
    return 0


def rotate_backups(latest: Path, keep: int, database: Path) -> list[Path]:
    """Delete all but the `keep` newest backups named like `latest` (its digits may differ).

    'quartierbot-2026-12-05.sqlite3' rotates 'quartierbot-*-*-*.sqlite3' in its folder: erased
    data lives on in older backups only as long as they are kept (README, /privacy).
    """
    pattern = re.sub(r"[0-9]+", "*", latest.name)
    live = {
        database.resolve(),
        *(database.with_name(database.name + s).resolve() for s in ("-wal", "-shm")),
    }
    backups = [p for p in latest.parent.glob(pattern) if p.is_file() and p.resolve() not in live]
    backups.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    removed = backups[max(keep, 1) :]
    for path in removed:
        path.unlink()
    return removed


async def _backup(config: Config, out: Path) -> None:
    """Open, copy, close."""
    database = Database(config.database)
    await database.open()
    try:
        await database.backup(out)
    finally:
        await database.close()
