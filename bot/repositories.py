"""The repositories of one running bot, with the configuration and catalogs they serve."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Config
from bot.hours.status import HolidayCalendar
from bot.i18n import Catalogs
from bot.roles import StaffDirectory
from bot.transcription import TranscriptionService
from bot.translation import TranslationService
from storage.audit import AuditRepository
from storage.broadcasts import BroadcastRepository
from storage.closures import ClosureRepository
from storage.concerns import ConcernRepository
from storage.db import Database
from storage.drafts import StaffDraftRepository
from storage.events import EventRepository
from storage.export import ExportRepository
from storage.officers import OfficerRepository
from storage.outbox import OutboxRepository
from storage.privacy import PrivacyRepository
from storage.residents import ResidentRepository
from storage.stats import StatsRepository
from storage.subscriptions import SubscriptionRepository
from storage.translations import TranslationRepository


def system_clock() -> datetime:
    """The real current instant."""
    return datetime.now(UTC)


@dataclass
class Repositories:
    """Configuration, catalogs and repositories of one running bot."""

    config: Config
    catalogs: Catalogs
    db: Database
    residents: ResidentRepository
    closures: ClosureRepository
    audit: AuditRepository
    concerns: ConcernRepository
    export: ExportRepository
    privacy: PrivacyRepository
    officers: OfficerRepository
    outbox: OutboxRepository
    staff: StaffDirectory
    subscriptions: SubscriptionRepository
    staff_drafts: StaffDraftRepository
    events: EventRepository
    broadcasts: BroadcastRepository
    stats: StatsRepository
    translations: TranslationRepository
    #: Machine translation (no text leaves the bot unless [translation] names a service).
    translation: TranslationService
    #: Speech to text (no audio leaves the bot unless [transcription] names a service).
    transcription: TranscriptionService
    holidays: HolidayCalendar = field(default_factory=HolidayCalendar)
    #: Injected so tests can pin "now" (office hours depend on it).
    clock: Callable[[], datetime] = field(default=system_clock)

    @classmethod
    def create(cls, config: Config, catalogs: Catalogs | None = None) -> Repositories:
        """Wire repositories to one database at the configured path (opened later, in the loop)."""
        db = Database(config.database)
        officers = OfficerRepository(db)
        return cls(
            config=config,
            catalogs=catalogs
            or Catalogs.load(config.languages, config.default_language, config.timezone),
            db=db,
            residents=ResidentRepository(db),
            closures=ClosureRepository(db),
            audit=AuditRepository(db),
            concerns=ConcernRepository(db),
            export=ExportRepository(db),
            privacy=PrivacyRepository(db),
            officers=officers,
            outbox=OutboxRepository(db),
            staff=StaffDirectory(config, officers),
            subscriptions=SubscriptionRepository(db),
            staff_drafts=StaffDraftRepository(db),
            events=EventRepository(db),
            broadcasts=BroadcastRepository(db),
            stats=StatsRepository(db),
            translations=TranslationRepository(db),
            translation=TranslationService(config.translation, config.default_language),
            transcription=TranscriptionService(config.transcription),
        )

    def now(self) -> datetime:
        """The current instant, from the injected clock."""
        return self.clock()
