"""Free text outside any conversation is offered to the office as a question, not thrown away."""

from __future__ import annotations

from bot.repositories import Repositories
from tests.conftest import GROUP_ID
from tests.recording import Person, texts

QUESTION = "Hello, when is the office open on Friday?"


async def onboarded(resident: Person) -> None:
    """A resident of the Bahnhofsvorstadt reading English."""
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")


async def sent_concern(
    resident: Person, text: str, contact: str = "Yes, you may write to me"
) -> None:
    """An onboarded resident's first concern (housing), sent."""
    await onboarded(resident)
    await resident.send("/concern")
    await resident.press("Housing")
    await resident.send(text)
    await resident.press(contact)
    await resident.press("I agree")
    await resident.press("Submit")


async def test_a_free_question_reaches_the_office_and_the_answer_comes_back(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await onboarded(resident)
    calls = await resident.send(QUESTION)
    assert texts(calls) == [
        "I cannot answer that myself, but the quarter office can. Shall I send your message to "
        "them? They will answer you here."
    ]
    # First time: the privacy notice the concern flow has, then it goes at once.
    calls = await resident.press("Send it to the quarter office")
    assert texts(calls)[0].startswith(f"Your message: {QUESTION}\n\nBefore you send your first")
    calls = await resident.press("I agree")
    receipt = texts(calls)[0]
    assert receipt.startswith("Thank you! Your question has the number BV-0001")
    question = await repos.concerns.by_reference("BV-0001")
    assert question is not None and question.kind == "question" and question.text == QUESTION
    assert question.contact_allowed and question.topic_id == "other"
    post = [c for c in calls if c.params.get("chat_id") == GROUP_ID and c.method == "sendMessage"]
    assert post and "❓ <b>Frage BV-0001</b>" in str(post[0].params["text"])
    # The office answers; the resident gets it like any reply.
    await admin.send("/reply BV-0001 Friday 10 to 13.")
    answer = resident.last_message_to()
    assert "Friday 10 to 13." in answer["text"] and "BV-0001" in answer["text"]
    # The second time nothing more is asked.
    await resident.send("And on Saturday?")
    calls = await resident.press("Send it to the quarter office")
    assert texts(calls)[0].startswith("Thank you! Your question has the number BV-0002")


async def test_declining_keeps_nothing(resident: Person, repos: Repositories) -> None:
    await onboarded(resident)
    await resident.send(QUESTION)
    calls = await resident.press("No, thanks")
    assert texts(calls)[0] == "Cancelled. Nothing was sent."
    assert await repos.concerns.draft(resident.user_id) is None
    assert await repos.concerns.for_resident(resident.user_id) == []


async def test_before_onboarding_free_text_is_not_taken(resident: Person) -> None:
    calls = await resident.send(QUESTION)
    assert not any("quarter office can" in text for text in texts(calls))


async def test_a_concern_page_shows_the_thread_and_takes_more_information(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    await admin.send("/reply BV-0001 We will send someone on Monday.")
    await admin.send("/note BV-0001 Landlord is Gewoba.")  # internal: never on the page
    calls = await resident.send("/myconcerns")
    assert "mypage:BV-0001" in str(calls[-1].params["reply_markup"])
    calls = await resident.press_callback("mypage:BV-0001")
    page = str(calls[-1].params["text"])
    assert "<b>Concern BV-0001</b>" in page and "Mould in the bathroom." in page
    assert "Quarter office:" in page and "We will send someone on Monday." in page
    assert "Gewoba" not in page
    # /concern BV-0001 opens the same page instead of a new concern.
    calls = await resident.send("/concern BV-0001")
    assert str(calls[-1].params["text"]) == page
    # "Add information": the answer to the prompt joins the thread (and reaches staff).
    calls = await resident.press_callback("mypage:add:1")
    assert calls[-1].params["reply_markup"]["force_reply"] is True
    calls = await resident.reply(resident.last_message_to(), "It is getting worse.")
    assert "Thank you. Your message was added to BV-0001." in texts(calls)
    assert [e.text for e in await repos.concerns.events(1)][-1] == "It is getting worse."
    # Someone else's concern is not theirs to see.
    stranger = Person(resident.app, resident.request, 700999, "en")
    await onboarded(stranger)
    calls = await stranger.send("/concern BV-0001")
    assert texts(calls) == ["There is no concern with the number “BV-0001”."]


async def test_an_old_no_thanks_does_not_throw_away_a_concern_written_since(
    resident: Person, repos: Repositories
) -> None:
    await onboarded(resident)
    await resident.send(QUESTION)
    await resident.send("/concern")
    await resident.press("Housing")
    await resident.send("The door does not lock.")
    await resident.press_callback("cq:no")  # the old offer's button
    draft = await repos.concerns.draft(resident.user_id)
    assert draft is not None and draft.text == "The door does not lock."


async def test_a_reference_with_odd_digits_is_no_reference(resident: Person) -> None:
    await onboarded(resident)
    calls = await resident.send("/concern BV-²")
    assert texts(calls) == ["There is no concern with the number “BV-²”."]


async def test_a_status_note_of_an_anonymous_concern_stays_off_the_page(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Noise at night.", "No, stay anonymous")
    await admin.send("/status BV-0001 in_progress Caller seems to be from flat 3.")
    calls = await resident.send("/concern BV-0001")
    page = str(calls[-1].params["text"])
    assert "in progress" in page and "flat 3" not in page


async def test_a_photo_and_a_location_can_be_added_to_a_sent_concern(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    await resident.send("/myconcerns")
    await resident.press_callback("mypage:BV-0001")
    await resident.press_callback("mypage:add:1")
    prompt = resident.last_message_to()
    photo = {"photo": [{"file_id": "later-photo", "file_unique_id": "lp", "width": 9, "height": 9}]}
    calls = await resident.send_extra({**photo, "reply_to_message": prompt}, "")
    assert "Thank you. Your message was added to BV-0001." in texts(calls)
    sent = [c for c in calls if c.method == "sendPhoto" and c.params["chat_id"] == GROUP_ID]
    assert sent and sent[0].params["photo"] == "later-photo"  # under the post, for staff
    place = {"location": {"latitude": 53.07, "longitude": 8.8}}
    calls = await resident.send_extra({**place, "reply_to_message": prompt}, "")
    note = [c for c in calls if c.method == "sendMessage" and c.params["chat_id"] == GROUP_ID]
    assert "cloc:1" in str(note[-1].params["reply_markup"])  # sent privately on request only
    assert "53.07" not in str(note[-1].params)
    concern = await repos.concerns.get(1)
    assert concern is not None and concern.latitude == 53.07
    # /deleteme takes them with everything else.
    await resident.send("/deleteme")
    await resident.press("Yes, delete my data")
    entries = await repos.concerns.events(1)
    assert all(e.photo_file_id is None and e.latitude is None for e in entries)
