"""Concerns end to end through the real handlers: intake, numbering, staff work, relays."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.context import QuartierApplication
from bot.repositories import Repositories
from storage.concerns import format_reference
from tests.conftest import ADMIN_ID, GROUP_ID
from tests.recording import Call, Person, RecordingRequest, texts, toasts

LONG = "x" * 3501
STICKER = {
    "sticker": {
        "file_id": "st",
        "file_unique_id": "st",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
}
PHOTO = {
    "photo": [
        {"file_id": "ph-small", "file_unique_id": "s", "width": 90, "height": 90},
        {"file_id": "ph-big", "file_unique_id": "b", "width": 900, "height": 900},
    ]
}
LOCATION = {"location": {"latitude": 53.0833, "longitude": 8.8}}


async def onboard(person: Person, language: str = "English") -> None:
    """Start via the Bahnhofsvorstadt poster and pick a language."""
    await person.send("/start q-bahnhofsvorstadt")
    await person.press(language)


async def write_concern(
    person: Person, text: str = "The street lamp has been broken for weeks.", contact: str = "Yes"
) -> list[Call]:
    """Go through the whole conversation up to the summary."""
    await person.send("/concern")
    await person.press("Safety")
    await person.send(text)
    calls = await person.press(contact)
    if any("Before you send your first concern" in t for t in texts(calls)):
        calls = await person.press("I agree")
    return calls


def group_calls(person: Person) -> list[Call]:
    """Everything the bot sent to or edited in the staff group."""
    return person.request.to_chat(GROUP_ID)


@pytest.fixture
async def officer(admin: Person, repos: Repositories) -> Person:
    """An officer of the Bahnhofsvorstadt, added by the admin."""
    await repos.officers.assign(ADMIN_ID, 800001, ["bahnhofsvorstadt"])
    return Person(admin.app, admin.request, 800001, "de", first_name="Iris")


@pytest.fixture
async def other_officer(admin: Person, repos: Repositories) -> Person:
    """An officer of Hünertshagen only."""
    await repos.officers.assign(ADMIN_ID, 800002, ["huenertshagen"])
    return Person(admin.app, admin.request, 800002, "de", first_name="Olaf")


async def test_full_conversation_commits_then_confirms_reference(
    resident: Person, repos: Repositories
) -> None:
    await onboard(resident)
    calls = await resident.send("/concern")
    assert texts(calls) == ["What is your concern about? Choose a topic."]
    # Each answered button turns its question into the answer and the next question.
    calls = await resident.press("Safety")
    assert [c.method for c in calls] == ["answerCallbackQuery", "editMessageText"]
    assert texts(calls)[0].startswith(
        "Topic: Safety\n\n🚨 In an emergency, call 110 (police) or 112 (fire brigade and "
        "ambulance) at once"  # before anything else, for safety and health
    )
    assert "Please describe your concern in your own words" in texts(calls)[0]
    calls = await resident.send("The street lamp at the corner has been broken for weeks.")
    assert texts(calls)[0].startswith("May the quarter office answer you")
    calls = await resident.press("Yes, you may write to me")
    assert [c.method for c in calls] == ["answerCallbackQuery", "editMessageText"]
    assert texts(calls)[0].startswith(
        "Yes, you may write to me\n\nBefore you send your first concern"
    )
    assert "365 days" in texts(calls)[0]
    calls = await resident.press("I agree")
    summary = texts(calls)[-1]
    assert summary.startswith(
        "Thank you. You agreed to the privacy notice.\n\nPlease check your concern:"
    )
    assert "Quarter: Bahnhofsvorstadt" in summary and "Topic: Safety" in summary
    assert "Description: The street lamp at the corner" in summary
    assert "Contact: the quarter office may write to you here." in summary

    calls = await resident.press("Submit")
    # The summary becomes the receipt; then the post in the staff group.
    assert [c.method for c in calls] == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    receipt = texts(calls)[0]
    assert receipt.startswith("Thank you! Your concern has the number BV-0001.")
    assert "Topic: Safety" in receipt and "Description: The street lamp" in receipt
    assert "reply_markup" not in calls[1].params  # no Submit button left to press twice
    assert str(calls[2].params["chat_id"]) == str(GROUP_ID)
    (concern,) = await repos.concerns.for_resident(resident.user_id)
    assert (concern.reference, concern.topic_id, concern.status) == ("BV-0001", "safety", "new")
    assert concern.contact_allowed and concern.language == "en"
    assert await repos.concerns.draft(resident.user_id) is None
    stored = await repos.residents.get(resident.user_id)
    assert stored is not None and stored.consent_at is not None
    # Saved before the answer: the confirmation is the first sendMessage after the INSERT.
    assert concern.posted_at is not None


async def test_a_receipt_too_long_for_one_message_comes_as_summary_and_confirmation(
    resident: Person,
) -> None:
    await onboard(resident)
    # 1,950 characters, but 3,900 UTF-16 units (the strict reading of Telegram's 4,096 limit).
    await write_concern(resident, "🌳" * 1950)
    calls = await resident.press("Submit")
    methods = [c.method for c in calls]
    assert methods == ["answerCallbackQuery", "editMessageText", "sendMessage", "sendMessage"]
    summary, confirmation = texts(calls)[:2]
    assert summary.startswith("Please check your concern:") and "🌳" * 1950 in summary
    assert confirmation.startswith("Thank you! Your concern has the number BV-0001.")
    mine = texts([c for c in calls if str(c.params.get("chat_id")) == str(resident.user_id)])
    # Counted the strict way (UTF-16 units; some say Telegram counts characters).
    assert all(len(text.encode("utf-16-le")) // 2 <= 4096 for text in mine)


async def test_second_concern_does_not_ask_for_consent_again(resident: Person) -> None:
    await onboard(resident)
    await write_concern(resident)
    await resident.press("Submit")
    calls = await write_concern(resident, "Second one")
    assert not any("Before you send your first concern" in t for t in texts(calls))
    assert texts(calls)[-1].startswith("Yes, you may write to me\n\nPlease check your concern:")
    calls = await resident.press("Submit")
    assert "BV-0002" in texts(calls)[0]


@pytest.mark.parametrize(
    ("extra", "text", "hint"),
    [
        (None, "   ", "The message was empty."),
        (None, LONG, "Your text is too long (3,501 characters)."),
        (STICKER, "", "I can take text, a voice message, a photo or a location here."),
    ],
    ids=["empty", "too long", "sticker"],
)
async def test_invalid_description_is_asked_again_and_changes_nothing(
    resident: Person, repos: Repositories, extra: dict[str, Any] | None, text: str, hint: str
) -> None:
    await onboard(resident)
    await resident.send("/concern")
    await resident.press("Health")
    calls = await (resident.send_extra(extra, text) if extra else resident.send(text))
    assert texts(calls)[0].startswith(hint)
    draft = await repos.concerns.draft(resident.user_id)
    assert draft is not None and draft.step == "text" and draft.text is None
    calls = await resident.send("Now properly described.")
    assert texts(calls)[0].startswith("May the quarter office answer you")


async def test_photo_and_location_are_accepted(resident: Person, repos: Repositories) -> None:
    await onboard(resident)
    await resident.send("/concern")
    await resident.press("Green")
    calls = await resident.send_extra(PHOTO)
    assert texts(calls) == ["Thank you. You can add a few words now, or continue."]
    await resident.send_extra(LOCATION)
    calls = await resident.press("Continue without text")
    assert texts(calls)[0].startswith("May the quarter office answer you")
    draft = await repos.concerns.draft(resident.user_id)
    assert draft is not None
    assert (draft.photo_file_id, draft.latitude, draft.text) == ("ph-big", 53.0833, None)


async def test_a_photo_that_fails_to_post_is_sent_again_under_the_post(
    resident: Person, repos: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    from telegram.error import NetworkError

    await onboard(resident)
    await resident.send("/concern")
    await resident.press("Green")
    await resident.send_extra(PHOTO | {"caption": "Rubbish in the park"})
    calls = await resident.press("Yes, you may write to me")
    if any("Before you send your first concern" in t for t in texts(calls)):
        await resident.press("I agree")
    answer = resident.request.result_for

    def photo_fails(method: str, params: dict[str, Any]) -> Any:
        if method == "sendPhoto":
            raise NetworkError("the group is unreachable")
        return answer(method, params)

    monkeypatch.setattr(resident.request, "result_for", photo_fails)
    calls = await resident.press("Submit")
    assert texts(calls)[0].startswith("Thank you! Your concern has the number BV-0001.")
    (post,) = [c for c in group_calls(resident) if c.method == "sendMessage"]
    # The post that did reach the group is linked: replies to it find the concern.
    linked = await repos.concerns.linked(GROUP_ID, _message_id(resident, post))
    assert linked is not None and linked.reference == "BV-0001"
    assert (await repos.outbox.counts()).waiting == 1  # the photo, to be tried again

    monkeypatch.setattr(resident.request, "result_for", answer)
    # Its retry is due (as it would be after the back-off): it goes out, under the post.
    await repos.db.execute("UPDATE outbox SET not_before = '2000-01-01T00:00:00Z'")
    assert resident.app.outbox is not None
    await resident.app.outbox.settled()
    (photo,) = [c for c in group_calls(resident) if c.method == "sendPhoto"][-1:]
    assert photo.params["reply_parameters"]["message_id"] == _message_id(resident, post)
    assert [c for c in group_calls(resident) if c.method == "sendMessage"] == [post]
    assert (await repos.outbox.counts()).waiting == 0


def _message_id(person: Person, call: Call) -> int:
    """The id the fake gave to the message a sendMessage call created."""
    for (chat_id, message_id), message in person.request.messages.items():
        if chat_id == int(call.params["chat_id"]) and message["text"] == call.params["text"]:
            return message_id
    raise AssertionError("message not found")


async def test_photo_with_caption_moves_on(resident: Person, repos: Repositories) -> None:
    await onboard(resident)
    await resident.send("/concern")
    await resident.press("Green")
    calls = await resident.send_extra(PHOTO | {"caption": "Rubbish in the park"})
    assert texts(calls)[0].startswith("May the quarter office answer you")
    draft = await repos.concerns.draft(resident.user_id)
    assert draft is not None and draft.text == "Rubbish in the park"


async def test_text_where_a_button_is_expected_repeats_the_question(resident: Person) -> None:
    await onboard(resident)
    await resident.send("/concern")
    await resident.press("Work")
    await resident.send("Help with a letter from the job centre")
    calls = await resident.send("yes")
    assert texts(calls)[0] == "Please choose one of the buttons above."
    assert texts(calls)[1].startswith("May the quarter office answer you")
    await resident.press("Yes")
    await resident.press("I agree")
    calls = await resident.send("submit!")
    assert texts(calls)[0] == "Please use the buttons below the summary."
    assert texts(calls)[1].startswith("Please check your concern:")


@pytest.mark.parametrize("step", ["topic", "text", "contact", "consent", "summary"])
async def test_cancel_works_at_every_step(resident: Person, repos: Repositories, step: str) -> None:
    await onboard(resident)
    await resident.send("/concern")
    steps = ["topic", "text", "contact", "consent", "summary"]
    actions = [
        lambda: resident.press("Housing"),
        lambda: resident.send("Mould in the flat"),
        lambda: resident.press("No, stay anonymous"),
        lambda: resident.press("I agree"),
    ]
    for action in actions[: steps.index(step)]:
        await action()
    draft = await repos.concerns.draft(resident.user_id)
    assert draft is not None and draft.step == step
    calls = await resident.send("/cancel")
    assert texts(calls) == ["Cancelled. Nothing was sent."]
    assert await repos.concerns.draft(resident.user_id) is None
    assert await repos.concerns.for_resident(resident.user_id) == []
    assert texts(await resident.send("/cancel")) == ["There is nothing to cancel."]


async def test_cancel_button_and_stale_buttons(resident: Person, repos: Repositories) -> None:
    await onboard(resident)
    await resident.send("/concern")
    topic_message, housing = resident.last_keyboard_message("Housing")
    calls = await resident.press("Cancel")
    assert texts(calls)[0] == "Cancelled. Nothing was sent."
    calls = await resident.press_data(topic_message, housing)  # an old button, pressed again
    assert toasts(calls) == ["This concern was already sent or cancelled."]
    assert await repos.concerns.draft(resident.user_id) is None


async def test_change_description_from_the_summary(resident: Person, repos: Repositories) -> None:
    await onboard(resident)
    await write_concern(resident, "First wording")
    await resident.press("Change")
    await resident.press("Description")
    calls = await resident.send("Better wording")
    assert "Description: Better wording" in texts(calls)[-1]
    await resident.press("Change")
    await resident.press("Topic")
    calls = await resident.press("Mobility")
    assert "Topic: Mobility" in texts(calls)[-1]
    await resident.press("Submit")
    (concern,) = await repos.concerns.for_resident(resident.user_id)
    assert (concern.text, concern.topic_id) == ("Better wording", "mobility")


async def test_double_submit_stores_one_concern(resident: Person, repos: Repositories) -> None:
    await onboard(resident)
    await write_concern(resident)
    message, data = resident.last_keyboard_message("Submit")
    await resident.press_data(message, data)
    calls = await resident.press_data(message, data)
    assert toasts(calls) == ["This concern was already sent or cancelled."]
    # The answer to the first tap may have been lost: the reference is repeated.
    assert texts(calls)[0].startswith("Thank you! Your concern has the number BV-0001.")
    assert len(await repos.concerns.for_resident(resident.user_id)) == 1


async def test_conversation_survives_a_restart(repos: Repositories, config: Any) -> None:
    from tests.recording import running_app

    async with running_app(repos) as (app, request):
        person = Person(app, request, 700111, "en")
        await onboard(person)
        await person.send("/concern")
        await person.press("Housing")
    # A new process: new repositories over the same database file.
    fresh = Repositories.create(config)
    async with running_app(fresh) as (app, request):
        person = Person(app, request, 700111, "en")
        calls = await person.send("Heating broken since Monday")
        assert texts(calls)[0].startswith("May the quarter office answer you")
        await person.press("Yes")
        await person.press("I agree")
        calls = await person.press("Submit")
        assert "BV-0001" in texts(calls)[1]


async def test_reference_numbers_are_unique_under_concurrent_submits(
    repos: Repositories, app: Any
) -> None:
    users = range(710000, 710040)
    for user_id in users:
        await repos.residents.set_quarter(user_id, "bahnhofsvorstadt")
        await repos.concerns.start_draft(user_id, "bahnhofsvorstadt")
        await repos.concerns.update_draft(
            user_id, topic_id="housing", text=f"t{user_id}", contact_allowed=1, step="summary"
        )
    concerns = await asyncio.gather(
        *(repos.concerns.submit(user_id, "BV", "de") for user_id in users)
    )
    references = sorted(c.reference for c in concerns)
    assert references == [format_reference("BV", n) for n in range(1, 41)]
    # Another quarter counts on its own.
    await repos.concerns.start_draft(1, "huenertshagen")
    await repos.concerns.update_draft(1, topic_id="work", text="x", contact_allowed=0)
    assert (await repos.concerns.submit(1, "HU", "de")).reference == "HU-0001"


async def test_new_concern_is_posted_to_the_staff_group_in_german(
    resident: Person, repos: Repositories
) -> None:
    await onboard(resident)
    await write_concern(resident, "Licht kaputt <b>&</b>")
    await resident.press("Submit")
    (post,) = [c for c in group_calls(resident) if c.method == "sendMessage"]
    text = str(post.params["text"])
    assert "Anliegen BV-0001" in text and "Thema: Sicherheit" in text
    assert "Licht kaputt &lt;b&gt;&amp;&lt;/b&gt;" in text  # escaped: residents' text is not HTML
    buttons = [
        b["callback_data"] for row in post.params["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert buttons == ["cst:1:in_progress", "cst:1:done", "cst:1:rejected"]
    assert str(resident.user_id) not in str(post.params)


async def test_status_button_in_group_notifies_resident_in_their_language(
    resident: Person, officer: Person, repos: Repositories
) -> None:
    await onboard(resident, "Deutsch")
    await resident.send("/concern")
    await resident.press("Sicherheit")
    await resident.send("Laterne kaputt")
    await resident.press("Ja")
    await resident.press("Ich stimme zu")
    await resident.press("Absenden")
    in_group = officer.in_chat(GROUP_ID)
    calls = await in_group.press("In Bearbeitung")
    (notice,) = [c for c in calls if str(c.params.get("chat_id")) == str(resident.user_id)]
    assert "BV-0001" in notice.params["text"] and "„in Bearbeitung“" in notice.params["text"]
    (edit,) = [c for c in calls if c.method == "editMessageText"]
    assert "(gesetzt von Iris)" in edit.params["text"]
    concern = await repos.concerns.by_reference("BV-0001")
    assert concern is not None and concern.status == "in_progress"
    (entry, *_) = await repos.audit.recent()
    assert (entry.actor_id, entry.action, entry.subject) == (800001, "concern.status", "BV-0001")


async def test_group_reply_reaches_resident_and_resident_reply_joins_thread(
    resident: Person, officer: Person, repos: Repositories
) -> None:
    await onboard(resident)
    await write_concern(resident)
    await resident.press("Submit")
    in_group = officer.in_chat(GROUP_ID)
    post = in_group.last_message_to(GROUP_ID)
    calls = await in_group.reply(post, "Danke, wir kümmern uns.")
    relayed = [c for c in calls if str(c.params.get("chat_id")) == str(resident.user_id)]
    reply_intro = "Reply from the quarter office about your concern BV-0001"
    assert relayed[0].params["text"].startswith(reply_intro)
    assert "Danke, wir kümmern uns." in relayed[0].params["text"]
    assert texts([c for c in calls if c.params.get("chat_id") == GROUP_ID]) == [
        "An die Person gesendet, die BV-0001 gemeldet hat."
    ]
    relay_message = resident.last_message_to()
    calls = await resident.reply(relay_message, "The lamp is at Teststraße 4.")
    assert texts(calls)[0] == "Thank you. Your message was added to BV-0001."
    forwarded = [c for c in calls if c.params.get("chat_id") == GROUP_ID]
    assert "The lamp is at Teststraße 4." in forwarded[0].params["text"]
    concern = await repos.concerns.by_reference("BV-0001")
    assert concern is not None
    kinds = [(e.kind, e.text) for e in await repos.concerns.events(concern.id)]
    assert kinds == [
        ("reply", "Danke, wir kümmern uns."),
        ("resident", "The lamp is at Teststraße 4."),
    ]


async def test_anonymous_concern_never_reveals_the_resident(
    resident: Person, officer: Person, repos: Repositories
) -> None:
    await onboard(resident)
    await write_concern(resident, "Anonymous report", contact="No, stay anonymous")
    await resident.press("Submit")
    in_group = officer.in_chat(GROUP_ID)
    post = in_group.last_message_to(GROUP_ID)
    assert "anonym" in post["text"]
    calls = await in_group.reply(post, "Can you tell us more?")
    assert [c for c in calls if str(c.params.get("chat_id")) == str(resident.user_id)] == []
    (answer,) = texts(calls)
    assert "anonym" in answer and "interne Notiz" in answer
    concern = await repos.concerns.by_reference("BV-0001")
    assert concern is not None
    assert [e.kind for e in await repos.concerns.events(concern.id)] == ["note"]
    # Nothing the bot ever showed staff carries the resident's id.
    for call in group_calls(resident) + resident.request.to_chat(officer.user_id):
        assert str(resident.user_id) not in str(call.params)
    detail_calls = await officer.send("/concerns")
    await officer.press("BV-0001")
    assert str(resident.user_id) not in str(detail_calls)


async def test_staff_commands_in_private_chat(
    resident: Person, officer: Person, repos: Repositories
) -> None:
    await onboard(resident)
    await write_concern(resident)
    await resident.press("Submit")
    calls = await officer.send("/concerns")
    assert texts(calls)[0].startswith("1 offenes Anliegen")
    assert "BV-0001 · Sicherheit" in texts(calls)[0]
    calls = await officer.send("/note bv-1 Rückruf am Montag")
    assert texts(calls) == ["Interne Notiz zu BV-0001 hinzugefügt."]
    calls = await officer.send("/reply BV-0001 Wir waren vor Ort.")
    assert texts(calls)[-1] == "An die Person gesendet, die BV-0001 gemeldet hat."
    calls = await officer.send("/status BV-0001 done Lampe repariert")
    to_resident = [c for c in calls if str(c.params.get("chat_id")) == str(resident.user_id)]
    assert "“done”" in to_resident[0].params["text"]
    assert "Lampe repariert" in to_resident[0].params["text"]
    assert texts([c for c in calls if c.params.get("chat_id") == officer.user_id]) == [
        "BV-0001 ist jetzt „erledigt“."
    ]
    calls = await resident.send("/myconcerns")
    assert "BV-0001 · Safety · " in texts(calls)[0] and "· done" in texts(calls)[0]
    calls = await officer.send("/status BV-0001 finished")
    assert texts(calls)[0].startswith("Unbekannter Status „finished“.")
    calls = await officer.send("/reply BV-9999 hello")
    assert texts(calls) == ["Es gibt kein Anliegen mit der Nummer „BV-9999“."]


async def test_my_concerns_lists_the_newest_and_counts_the_older_ones(
    resident: Person, app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    async def submit_many(person: Person, count: int) -> None:
        for number in range(1, count + 1):
            await repos.concerns.start_draft(person.user_id, "bahnhofsvorstadt")
            await repos.concerns.update_draft(
                person.user_id,
                topic_id="housing" if number % 2 else "safety",
                text=f"Concern {number}",
                contact_allowed=0,
            )
            await repos.concerns.submit(person.user_id, "BV", "en")

    await onboard(resident)
    await submit_many(resident, 25)
    listing = texts(await resident.send("/myconcerns"))[0].split("\n")
    # A heading, the twenty newest (newest first), then how many older ones are not listed.
    assert len(listing) == 22
    assert listing[1].startswith("BV-0025 · Housing · ")
    assert listing[20].startswith("BV-0006 · Safety · ")
    assert listing[21] == "… and 5 older concerns."
    # One message, well within Telegram's 4,096 characters.
    assert len("\n".join(listing)) < 4096
    neighbour = Person(app[0], app[1], resident.user_id + 1, "de")
    await onboard(neighbour, "Deutsch")
    await submit_many(neighbour, 21)
    listing = texts(await neighbour.send("/myconcerns"))[0].split("\n")
    assert listing[1].startswith("BV-0046 · ") and listing[-1] == "… und 1 älteres Anliegen."


async def test_emergency_numbers_only_where_someone_may_be_in_danger(resident: Person) -> None:
    await onboard(resident)
    await resident.send("/concern")
    calls = await resident.press("Housing")
    assert "112" not in texts(calls)[0]
    calls = await resident.send("/help")
    assert texts(calls)[0].startswith("🚨 In an emergency, call 110 (police) or 112")


async def test_what_was_written_is_not_lost_to_one_tap(
    resident: Person, repos: Repositories
) -> None:
    await onboard(resident)
    await resident.send("/concern")
    await resident.press("Housing")
    await resident.send("The heating in the stairwell is off.")
    calls = await resident.press("Cancel")
    assert texts(calls) == ["Throw away what you have written so far?"]
    calls = await resident.press("No, keep it")
    assert texts(calls)[0].startswith("May the quarter office answer you")  # where they were
    # /concern over the unsent draft: they choose.
    calls = await resident.send("/concern")
    assert texts(calls) == ["You have a concern you have not sent yet."]
    await resident.press("Continue it")
    draft = await repos.concerns.draft(resident.user_id)
    assert draft is not None and draft.text == "The heating in the stairwell is off."
    await resident.send("/concern")
    calls = await resident.press("Start a new one")
    assert texts(calls)[0] == "What is your concern about? Choose a topic."
    draft = await repos.concerns.draft(resident.user_id)
    assert draft is not None and draft.text is None
    await resident.press("Housing")
    await resident.send("Something else.")
    await resident.press("Cancel")
    calls = await resident.press("Yes, throw it away")
    assert texts(calls)[0] == "Cancelled. Nothing was sent."
    assert await repos.concerns.draft(resident.user_id) is None


async def test_a_photo_or_location_after_the_description_is_still_taken(
    resident: Person, repos: Repositories
) -> None:
    await onboard(resident)
    await resident.send("/concern")
    await resident.press("Green")
    calls = await resident.send("The bench in the park is broken.")
    assert "(You can still add a photo or share a location now.)" in texts(calls)[0]
    calls = await resident.send_extra(PHOTO)
    assert texts(calls)[0] == "📷 A photo is attached."
    assert texts(calls)[1].startswith("May the quarter office answer you")
    await resident.send_extra(LOCATION)
    draft = await repos.concerns.draft(resident.user_id)
    assert draft is not None and draft.photo_file_id == "ph-big"
    assert draft.latitude is not None and draft.step == "contact"
