"""Photos and locations in staff groups: no location in a group, photos replaced, not deleted."""

from __future__ import annotations

from typing import Any

from telegram.error import BadRequest

from bot.repositories import Repositories
from tests.conftest import ADMIN_ID, GROUP_ID
from tests.recording import Person

PHOTO = {"photo": [{"file_id": "PHOTO-ID-7", "file_unique_id": "u7", "width": 9, "height": 9}]}
LOCATION = {"location": {"latitude": 53.0833, "longitude": 8.8}}


async def submit_with(person: Person, extra: dict[str, Any], text: str) -> None:
    """A whole concern with a photo or a location and a description."""
    await person.send("/start q-bahnhofsvorstadt")
    await person.press("English")
    await person.send("/concern")
    await person.press("Safety")
    await person.send_extra(extra)
    await person.send(text)
    await person.press("Yes, you may write to me")
    await person.press("I agree")
    await person.press("Submit")


async def test_a_location_is_never_posted_to_the_group_but_sent_privately_on_request(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await submit_with(resident, LOCATION, "Broken glass on the path.")
    group = resident.request.to_chat(GROUP_ID)
    assert not [c for c in group if c.method == "sendLocation"]
    (post,) = [c for c in group if c.method == "sendMessage"]
    buttons = [b for row in post.params["reply_markup"]["inline_keyboard"] for b in row]
    location = next(b for b in buttons if b["callback_data"].startswith("cloc:"))
    message = admin.request.messages[next(k for k in admin.request.messages if k[0] == GROUP_ID)]
    # An officer of another quarter may not have it: refused and audited.
    await repos.officers.assign(ADMIN_ID, 910020, ["huenertshagen"])
    stranger = Person(admin.app, admin.request, 910020, "de", chat_id=GROUP_ID)
    calls = await stranger.press_data(message, location["callback_data"])
    assert not [c for c in calls if c.method == "sendLocation"]
    assert (await repos.audit.recent())[0].action == "concern.location.denied"
    # The admin (all quarters) gets it in the private chat, and that is audited.
    calls = await admin.in_chat(GROUP_ID).press_data(message, location["callback_data"])
    (sent,) = [c for c in calls if c.method == "sendLocation"]
    assert sent.params["chat_id"] == ADMIN_ID
    assert (await repos.audit.recent())[0].action == "concern.location"


async def test_an_erased_photo_is_replaced_in_the_group_even_when_old(
    resident: Person, repos: Repositories, monkeypatch: Any
) -> None:
    await submit_with(resident, PHOTO, "The bench is broken.")
    answer = resident.request.result_for

    def too_old_to_delete(method: str, params: dict[str, Any]) -> Any:
        # Bots may delete their messages only for 48 hours.
        if method == "deleteMessage":
            raise BadRequest("Message can't be deleted for everyone")
        return answer(method, params)

    monkeypatch.setattr(resident.request, "result_for", too_old_to_delete)
    await resident.send("/deleteme")
    calls = await resident.press_callback("delme:yes")
    (replaced,) = [c for c in calls if c.method == "editMessageMedia"]
    assert replaced.params["chat_id"] == GROUP_ID
    media = replaced.params["media"]
    assert media["type"] == "photo" and str(media["media"]).startswith("attach://")
    assert media["caption"].startswith("BV-0001: ")  # the placeholder image, with the reference
    assert not [c for c in calls if c.method == "deleteMessage"]
