"""Every staff command and every staff button, for every role; refusals change nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

import pytest

from bot.context import QuartierApplication
from bot.repositories import Repositories
from storage.concerns import Concern
from tests.conftest import ADMIN_ID
from tests.recording import Call, Person, RecordingRequest, texts

RESIDENT = 700500
AUTHOR = 700600
OFFICER = 800001
OTHER_OFFICER = 800002

ROLES = {
    "resident": RESIDENT,
    "officer of another quarter": OTHER_OFFICER,
    "officer of the quarter": OFFICER,
    "admin": ADMIN_ID,
}


@dataclass
class World:
    """A concern in the Bahnhofsvorstadt, a closure, and the people."""

    repos: Repositories
    app: QuartierApplication
    request: RecordingRequest
    concern: Concern
    closure_id: int

    def person(self, user_id: int) -> Person:
        """Someone writing to the bot in a private chat."""
        return Person(self.app, self.request, user_id, "en", first_name="Someone")

    async def state(self) -> tuple[object, ...]:
        """Everything a staff action could change."""
        concern = await self.repos.concerns.get(self.concern.id)
        assert concern is not None
        events = await self.repos.concerns.events(self.concern.id)
        closures = await self.repos.closures.upcoming(date(2026, 1, 1))
        officers = await self.repos.staff.officers_by_user()
        return concern.status, len(events), len(closures), tuple(sorted(officers))


@pytest.fixture
async def world(app: tuple[QuartierApplication, RecordingRequest], repos: Repositories) -> World:
    """Staff, a resident, a concern with contact allowed, and a closure."""
    application, request = app
    await repos.officers.assign(ADMIN_ID, OFFICER, ["bahnhofsvorstadt"])
    await repos.officers.assign(ADMIN_ID, OTHER_OFFICER, ["huenertshagen"])
    for user_id in (RESIDENT, AUTHOR):
        await repos.residents.set_language(user_id, "en")
        await repos.residents.set_quarter(user_id, "bahnhofsvorstadt")
    await repos.concerns.start_draft(AUTHOR, "bahnhofsvorstadt")
    await repos.concerns.update_draft(AUTHOR, topic_id="housing", text="Mould", contact_allowed=1)
    concern = await repos.concerns.submit(AUTHOR, "BV", "en")
    closure = await repos.closures.add(ADMIN_ID, date(2026, 12, 24), date(2026, 12, 26), "", None)
    return World(repos, application, request, concern, closure.id)


Action = Callable[[World, Person], Awaitable[list[Call]]]


def command(text: str) -> Action:
    """An action that sends a command."""

    async def act(world: World, person: Person) -> list[Call]:
        return await person.send(text.format(ref=world.concern.reference))

    return act


def button(data: str) -> Action:
    """An action that presses a (possibly forged) button."""

    async def act(world: World, person: Person) -> list[Call]:
        payload = data.format(id=world.concern.id, closure=world.closure_id)
        return await person.press_data(person.old_bot_message(), payload)

    return act


# (name, action, changes state when allowed, roles allowed, text proving access)
CASES: list[tuple[str, Action, bool, set[str], str | None]] = [
    ("/concerns", command("/concerns"), False, {"officer of the quarter", "admin"}, "BV-0001"),
    ("/reply", command("/reply {ref} Hello"), True, {"officer of the quarter", "admin"}, None),
    (
        "/status",
        command("/status {ref} done Fixed."),
        True,
        {"officer of the quarter", "admin"},
        None,
    ),
    ("/note", command("/note {ref} internal"), True, {"officer of the quarter", "admin"}, None),
    (
        "/export",
        command("/export csv bahnhofsvorstadt"),
        False,
        {"officer of the quarter", "admin"},
        None,
    ),
    ("/staff add", command("/staff add 12345 huenertshagen"), True, {"admin"}, None),
    ("/staff remove", command(f"/staff remove {OTHER_OFFICER}"), True, {"admin"}, None),
    ("/closed add", command("/closed 2026-12-30"), True, {"admin"}, None),
    (
        "status button",
        button("cst:{id}:in_progress"),
        True,
        {"officer of the quarter", "admin"},
        None,
    ),
    ("show button", button("cshow:{id}"), False, {"officer of the quarter", "admin"}, "BV-0001"),
    ("closure delete button", button("closure:del:{closure}"), True, {"admin"}, None),
]


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize(
    ("name", "action", "changes", "allowed", "proof"), CASES, ids=[c[0] for c in CASES]
)
async def test_authorisation_matrix(
    world: World,
    role: str,
    name: str,
    action: Action,
    changes: bool,
    allowed: set[str],
    proof: str | None,
) -> None:
    person = world.person(ROLES[role])
    before = await world.state()
    audit_before = len(await world.repos.audit.recent(1000))
    calls = await action(world, person)
    after = await world.state()
    entries = (await world.repos.audit.recent(1000))[: -audit_before or None]
    shown = " ".join(
        str(c.params.get("text", "")) + str(c.params.get("caption", "")) for c in calls
    )
    if role in allowed:
        if changes:
            assert after != before, f"{role} could not {name}"
        if proof:
            assert proof in shown
        assert not any(e.action.endswith(".denied") for e in entries)
        if name == "/export":
            assert any(c.method == "sendDocument" for c in calls)
    else:
        assert after == before, f"{role} changed something with {name}"
        if proof:
            assert proof not in shown
        assert not any(c.method == "sendDocument" for c in calls)
        # A refusal is audited with who tried it (a security record).
        if name != "/concerns" or role == "resident":
            denied = [e for e in entries if e.action.endswith(".denied")]
            assert denied, f"refusal of {name} for {role} not audited"
            assert all(e.actor_id in (RESIDENT, OTHER_OFFICER, OFFICER) for e in denied)
            if role == "resident":
                assert all(e.actor_id == RESIDENT for e in denied)
        # Nothing reached the resident behind the concern.
        assert not [c for c in calls if str(c.params.get("chat_id")) == str(AUTHOR)]


async def test_officer_of_another_quarter_sees_only_their_own(world: World) -> None:
    person = world.person(OTHER_OFFICER)
    calls = await person.send("/concerns all")
    assert "BV-0001" not in str([c.params for c in calls])
    calls = await person.send("/concerns bahnhofsvorstadt")
    assert "BV-0001" not in str([c.params for c in calls])
    denied = await world.repos.audit.recent(1)
    assert denied[0].action == "concern.list.denied" and denied[0].actor_id == OTHER_OFFICER


async def test_officer_export_contains_only_their_quarters(world: World) -> None:
    person = world.person(OTHER_OFFICER)
    calls = await person.send("/export csv")
    (document,) = [c for c in calls if c.method == "sendDocument"]
    assert document.params["caption"] == "0 concerns"
    calls = await person.send("/export csv bahnhofsvorstadt")
    assert not [c for c in calls if c.method == "sendDocument"]


@pytest.mark.parametrize("text", ["/closed 2026-12-30", "/staff add 12345 huenertshagen"])
async def test_an_officer_learns_that_an_admin_command_is_for_admins(
    world: World, text: str
) -> None:
    calls = await world.person(OFFICER).send(text)
    assert texts(calls) == ["This command is for admins only. Please ask an admin of your office."]
    calls = await world.person(RESIDENT).send(text)
    assert texts(calls) == ["Sorry, this command is only for staff."]  # residents learn no more


async def test_staff_add_tells_the_new_officer_and_lists_names(world: World) -> None:
    admin = world.person(ADMIN_ID)
    new_officer = world.person(800077)
    await new_officer.send("/start")
    await new_officer.press("English")
    calls = await admin.send("/staff add 800077 huenertshagen")
    told = [c for c in calls if c.params.get("chat_id") == 800077 and c.method == "sendMessage"]
    assert told and str(told[0].params["text"]).startswith(
        "You are now an officer of the quarter office for Hünertshagen."
    )
    listing = texts(await admin.send("/staff"))[0]
    assert "Officer Person 800077 (800077): huenertshagen" in listing
    (answer,) = texts(await admin.send("/staff add @newcolleague huenertshagen"))
    assert answer.startswith("Telegram does not tell bots who @newcolleague is.")
    # A forwarded message of theirs, answered with /staff add <quarter>, names them.
    forwarded = {
        "message_id": 5,
        "date": 0,
        "chat": {"id": ADMIN_ID, "type": "private"},
        "text": "hi",
        "forward_origin": {
            "type": "user",
            "date": 0,
            "sender_user": {"id": 800088, "is_bot": False, "first_name": "Ana"},
        },
    }
    await admin.send("/staff add bahnhofsvorstadt", extra={"reply_to_message": forwarded})
    assert 800088 in await world.repos.staff.officers_by_user()
