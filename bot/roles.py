"""Who is staff, and for which quarters: admins (config), officers (config and database)."""

from __future__ import annotations

from bot.config import Config
from storage.concerns import Concern
from storage.officers import OfficerRepository


class StaffDirectory:
    """Server-side answers to "may this user act on this quarter?"."""

    def __init__(self, config: Config, officers: OfficerRepository) -> None:
        self.config = config
        self.officers = officers

    async def quarters_of(self, user_id: int) -> frozenset[str]:
        """Quarter ids the user may handle: all for admins, assigned ones for officers."""
        if self.config.is_admin(user_id):
            return frozenset(self.config.quarter_ids)
        configured = {
            quarter
            for officer in self.config.staff.officers
            if officer.user_id == user_id
            for quarter in officer.quarters
        }
        stored = await self.officers.quarters_of(user_id)
        # An officer row may name a quarter that was since removed from the config.
        return frozenset((configured | stored) & set(self.config.quarter_ids))

    async def is_staff(self, user_id: int) -> bool:
        """Admin or officer of at least one quarter."""
        return bool(await self.quarters_of(user_id))

    async def can_handle(self, user_id: int, concern: Concern) -> bool:
        """May the user see and act on this concern?"""
        return concern.quarter_id in await self.quarters_of(user_id)

    async def officers_by_user(self) -> dict[int, frozenset[str]]:
        """Every officer (config and database) with their quarters."""
        result: dict[int, set[str]] = {}
        for officer in self.config.staff.officers:
            result.setdefault(officer.user_id, set()).update(officer.quarters)
        for user_id, quarters in (await self.officers.all()).items():
            result.setdefault(user_id, set()).update(quarters)
        return {user_id: frozenset(quarters) for user_id, quarters in sorted(result.items())}
