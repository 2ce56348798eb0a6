"""Staff case handling as officers type it: references by number, status words in their own
language, a concern opened by its reference."""

from __future__ import annotations

from bot.repositories import Repositories
from storage.concerns import Concern
from tests.conftest import ADMIN_ID, GROUP_ID
from tests.recording import Call, Person, texts, toasts

AUTHOR = 700777


async def concern_in(repos: Repositories, quarter_id: str, prefix: str) -> Concern:
    """A concern with contact allowed, from one resident."""
    await repos.residents.set_language(AUTHOR, "en")
    await repos.residents.set_quarter(AUTHOR, quarter_id)
    await repos.concerns.start_draft(AUTHOR, quarter_id)
    await repos.concerns.update_draft(AUTHOR, topic_id="housing", text="Mould", contact_allowed=1)
    return await repos.concerns.submit(AUTHOR, prefix, "en")


def to_officer(calls: list[Call]) -> list[str]:
    """What the bot said to the officer (not to the resident, who hears of it too)."""
    return [
        str(c.params["text"])
        for c in calls
        if c.params.get("chat_id") == ADMIN_ID and "text" in c.params
    ]


async def german(admin: Person) -> Person:
    """The admin, onboarded in German."""
    await admin.send("/start q-bahnhofsvorstadt")
    await admin.press("Deutsch")
    return admin


async def test_concerns_with_a_reference_opens_it(admin: Person, repos: Repositories) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    calls = await officer.send("/concerns bv-1")
    (detail,) = [c for c in calls if c.method == "sendMessage"]
    assert "<b>Anliegen BV-0001</b>" in str(detail.params["text"])
    assert "cst:1:done" in str(detail.params["reply_markup"])  # with its status buttons
    (entry,) = [e for e in await repos.audit.recent() if e.action == "concern.view"]
    assert (entry.actor_id, entry.subject) == (ADMIN_ID, "BV-0001")


async def test_a_number_alone_finds_the_concern_when_only_one_fits(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    calls = await officer.send("/reply 1 Wir kommen morgen.")
    assert "BV-0001" in to_officer(calls)[-1]
    assert [e.text for e in await repos.concerns.events(1)] == ["Wir kommen morgen."]
    await concern_in(repos, "huenertshagen", "HU")
    (answer,) = texts(await officer.send("/reply 1 Noch etwas."))
    assert answer.startswith("Mehrere Anliegen haben die Nummer 1: BV-0001 und HU-0001.")
    assert len(await repos.concerns.events(1)) == 1  # nothing was added anywhere


async def test_status_words_in_the_officers_language_and_with_spaces(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    answers = to_officer(await officer.send("/status BV-0001 in Bearbeitung Wir kümmern uns."))
    assert answers[-1] == "BV-0001 ist jetzt „in Bearbeitung“."
    (entry,) = await repos.concerns.events(1)
    assert (entry.status, entry.text) == ("in_progress", "Wir kümmern uns.")
    answers = to_officer(await officer.send("/status 1 Erledigt"))
    assert "BV-0001" in answers[-1] and "„-“" in answers[-1]  # asks for the closing message
    await officer.send("-")  # no closing message
    await officer.send("/status BV-0001 in progress")
    statuses = [e.status for e in await repos.concerns.events(1)]
    assert statuses == ["in_progress", "done", "in_progress"]
    answers = to_officer(await officer.send("/status BV-0001 vielleicht"))
    assert answers[-1].startswith("Unbekannter Status „vielleicht“.")


async def test_the_details_in_a_private_chat_offer_what_they_say(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    calls = await officer.send("/concerns BV-0001")
    (detail,) = [c for c in calls if c.method == "sendMessage"]
    # Not "reply to this post" (there is no relay in a private chat): the Reply button.
    assert "✍️" in str(detail.params["text"]) and "crep:1" in str(detail.params["reply_markup"])
    await officer.press_callback("crep:1")
    answers = to_officer(await officer.send("Wir kommen am Montag."))
    assert "BV-0001" in answers[-1]
    (entry,) = await repos.concerns.events(1)
    assert (entry.kind, entry.text) == ("reply", "Wir kommen am Montag.")
    assert await repos.staff_drafts.get(ADMIN_ID) is None  # the next message is ordinary again


async def test_closing_asks_for_the_message_the_resident_reads(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    calls = await officer.send("/status BV-0001")
    assert "/note" in to_officer(calls)[-1]  # the help says who reads the note
    await officer.send("/status BV-0001 erledigt")
    assert (await repos.concerns.get(1)).status == "new"  # type: ignore[union-attr]
    calls = await officer.send("Die Lampe wurde repariert.")
    told = [c for c in calls if c.params.get("chat_id") == AUTHOR]
    assert "Die Lampe wurde repariert." in str(told[-1].params["text"])
    entry = (await repos.concerns.events(1))[-1]
    assert (entry.status, entry.text) == ("done", "Die Lampe wurde repariert.")


async def test_a_pending_closing_message_can_be_cancelled_and_never_hijacks_later_text(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    await officer.send("/status BV-0001 erledigt")
    answers = to_officer(await officer.send("/cancel"))
    assert answers[-1] == "Abgebrochen. Es wurde nichts gesendet."
    await officer.send("Hallo, ganz etwas anderes.")
    assert (await repos.concerns.get(1)).status == "new"  # type: ignore[union-attr]
    assert not [e for e in await repos.concerns.events(1) if e.kind == "status"]


async def test_a_closing_message_does_not_overwrite_a_change_made_meanwhile(
    admin: Person, repos: Repositories
) -> None:
    concern = await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    await officer.send("/status BV-0001 abgelehnt")
    await repos.concerns.set_status(concern, "in_progress", 800001, "")  # another officer
    answers = to_officer(await officer.send("Wir können nicht helfen."))
    assert "BV-0001" in answers[-1] and "in Bearbeitung" in answers[-1]
    assert (await repos.concerns.get(1)).status == "in_progress"  # type: ignore[union-attr]


async def test_an_answer_prompt_does_not_replace_an_event_being_prepared(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    await officer.send("/event_new")
    await officer.send("/status BV-0001 erledigt")
    draft = await repos.staff_drafts.get(ADMIN_ID)
    assert draft is not None and draft.kind == "event"  # still there


async def test_the_done_button_in_a_private_chat_asks_for_the_closing_message(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    await officer.send("/concerns BV-0001")
    calls = await officer.press_callback("cst:1:done")
    assert "„-“" in to_officer(calls)[-1]  # asks what the resident will read
    assert (await repos.concerns.get(1)).status == "new"  # type: ignore[union-attr]
    calls = await officer.send("Die Heizung läuft wieder.")
    told = [c for c in calls if c.params.get("chat_id") == AUTHOR]
    assert "Die Heizung läuft wieder." in str(told[-1].params["text"])
    assert (await repos.concerns.get(1)).status == "done"  # type: ignore[union-attr]


async def in_group(officer: Person, data: str) -> list[Call]:
    """A status button under the concern's post in the staff group."""
    group = officer.in_chat(GROUP_ID)
    return await group.press_data(group.old_bot_message(), data)


async def test_the_done_button_in_the_staff_group_asks_privately_for_the_closing_message(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    calls = await in_group(officer, "cst:1:done")
    # Asked in the officer's own chat: in the group, the answer would be lost among everyone's.
    assert toasts(calls) == [
        "Die Abschlussnachricht wird in Ihrem privaten Chat mit dem Bot abgefragt."
    ]
    (question,) = [c for c in calls if c.method == "sendMessage"]
    assert question.params["chat_id"] == ADMIN_ID and "„-“" in str(question.params["text"])
    assert (await repos.concerns.get(1)).status == "new"  # type: ignore[union-attr]
    calls = await officer.send("Die Heizung läuft wieder.")
    told = [c for c in calls if c.params.get("chat_id") == AUTHOR]
    assert "Die Heizung läuft wieder." in str(told[-1].params["text"])
    assert to_officer(calls)[-1] == "BV-0001 ist jetzt „erledigt“."
    assert (await repos.concerns.get(1)).status == "done"  # type: ignore[union-attr]


async def test_closing_without_a_message_is_one_tap(admin: Person, repos: Repositories) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    await in_group(officer, "cst:1:rejected")
    calls = await officer.press("Ohne Nachricht abschließen")  # ccl:1:rejected
    assert to_officer(calls) == ["BV-0001 ist jetzt „abgelehnt“."]
    told = [c for c in calls if c.params.get("chat_id") == AUTHOR]
    assert len(told) == 1 and "Update on your concern BV-0001" in str(told[0].params["text"])
    assert (await repos.concerns.get(1)).status == "rejected"  # type: ignore[union-attr]
    assert await repos.staff_drafts.get(ADMIN_ID) is None
    # The button is spent: a second tap changes nothing.
    calls = await officer.press_data(officer.old_bot_message(), "ccl:1:rejected")
    assert toasts(calls) == ["Dieser Button funktioniert nicht mehr."]


async def test_an_officer_without_a_private_chat_is_told_to_start_one(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    officer.request.refusals[("sendMessage", ADMIN_ID)] = "Forbidden: bot was blocked by the user"
    calls = await in_group(officer, "cst:1:done")
    (alert,) = [c for c in calls if c.method == "answerCallbackQuery"]
    assert alert.params["show_alert"] is True and "/start" in str(alert.params["text"])
    assert (await repos.concerns.get(1)).status == "new"  # type: ignore[union-attr]
    assert await repos.staff_drafts.get(ADMIN_ID) is None


async def test_an_older_closing_question_cannot_close_with_a_newer_status(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    await in_group(officer, "cst:1:done")
    first_question = officer.last_message_to()
    await in_group(officer, "cst:1:rejected")  # changed their mind: a second question
    calls = await officer.press_data(first_question, "ccl:1:done")
    assert toasts(calls) == ["Dieser Button funktioniert nicht mehr."]
    assert (await repos.concerns.get(1)).status == "new"  # type: ignore[union-attr]
    denied = [e for e in await repos.audit.recent() if e.action == "concern.status.denied"]
    assert denied, "a refused button press is audited"
    calls = await officer.press_callback("ccl:1:rejected")
    assert to_officer(calls) == ["BV-0001 ist jetzt „abgelehnt“."]


async def test_a_failed_question_leaves_no_answer_waiting(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    officer.request.refusals[("sendMessage", ADMIN_ID)] = "Bad Request: message is too long"
    calls = await in_group(officer, "cst:1:done")
    (alert,) = [c for c in calls if c.method == "answerCallbackQuery"]
    assert alert.params["show_alert"] is True
    assert await repos.staff_drafts.get(ADMIN_ID) is None  # the next message is no answer


async def test_closing_from_the_group_while_preparing_an_event_says_why(
    admin: Person, repos: Repositories
) -> None:
    await concern_in(repos, "bahnhofsvorstadt", "BV")
    officer = await german(admin)
    await officer.send("/event_new")
    calls = await in_group(officer, "cst:1:done")
    (alert,) = [c for c in calls if c.method == "answerCallbackQuery"]
    assert alert.params["show_alert"] is True and "Veranstaltung" in alert.params["text"]
    draft = await repos.staff_drafts.get(ADMIN_ID)
    assert draft is not None and draft.kind == "event"
