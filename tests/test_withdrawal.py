"""A resident withdraws a concern from its page; the office is told and can still answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.repositories import Repositories
from storage.db import utc_now
from tests.conftest import GROUP_ID
from tests.recording import Call, Person, texts, toasts
from tests.test_questions import sent_concern

CONFIRM = (
    "Withdraw BV-0001? The office stops working on it and is told so. You can still read it "
    "here, but not reopen it yourself."
)


async def ask_to_withdraw(resident: Person) -> list[Call]:
    """Open the page of BV-0001 and tap "↩️ Withdraw" (the question, not yet the answer)."""
    await resident.send("/concern BV-0001")
    return await resident.press("↩️ Withdraw")


async def withdraw(resident: Person) -> list[Call]:
    """Withdraw BV-0001 from its page, confirmed."""
    await ask_to_withdraw(resident)
    return await resident.press("Yes, withdraw it")


def in_group(calls: list[Call], method: str) -> list[Call]:
    """The calls of one method into the staff group."""
    return [c for c in calls if c.method == method and c.params.get("chat_id") == GROUP_ID]


async def test_a_resident_withdraws_an_open_concern_and_the_office_is_told(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    post = resident.last_message_to(GROUP_ID)
    calls = await resident.send("/concern BV-0001")
    assert "mypage:wd:1" in str(calls[-1].params["reply_markup"])
    calls = await resident.press("↩️ Withdraw")
    assert texts(calls) == [CONFIRM]  # asks first: nothing changed yet
    assert (await repos.concerns.get(1)).status == "new"  # type: ignore[union-attr]
    calls = await resident.press("Yes, withdraw it")
    assert texts(calls)[0] == "BV-0001 is withdrawn. Thank you for letting the office know."
    concern = await repos.concerns.get(1)
    assert concern is not None and concern.status == "withdrawn" and concern.closed_at
    # The staff group: a notice under the post, in the staff's language, and the post's status.
    (notice,) = in_group(calls, "sendMessage")
    assert (
        notice.params["text"]
        == "↩️ Die Person hat BV-0001 zurückgezogen; das Anliegen ist jetzt abgeschlossen."
    )
    assert notice.params["reply_parameters"]["message_id"] == post["message_id"]
    (edit,) = in_group(calls, "editMessageText")
    assert edit.params["message_id"] == post["message_id"]
    assert "Status: zurückgezogen" in str(edit.params["text"])
    # No "update on your concern" for what the resident did themselves.
    assert [c for c in calls if c.params.get("chat_id") == resident.user_id][1:] == []
    # The page says so, and offers no second withdrawal.
    calls = await resident.send("/concern BV-0001")
    page = calls[-1].params
    assert "Status: withdrawn" in str(page["text"]) and "mypage:wd:" not in str(page)
    # An officer may still answer, by replying to the notice.
    officer = admin.in_chat(GROUP_ID)
    calls = await officer.reply(resident.last_message_to(GROUP_ID), "Schade, melden Sie sich.")
    relayed = [c for c in calls if c.params.get("chat_id") == resident.user_id]
    assert "Schade, melden Sie sich." in str(relayed[0].params["text"])
    # The thread keeps the withdrawal without naming anyone: anonymising leaves no id.
    entry = [e for e in await repos.concerns.events(1) if e.kind == "status"][-1]
    assert (entry.status, entry.author_id) == ("withdrawn", None)


async def test_keeping_it_changes_nothing(resident: Person, repos: Repositories) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    await ask_to_withdraw(resident)
    calls = await resident.press("No, keep it")
    assert texts(calls) == ["BV-0001 stays open."]
    assert (await repos.concerns.get(1)).status == "new"  # type: ignore[union-attr]
    assert in_group(calls, "sendMessage") == []


async def test_a_concern_the_office_closed_meanwhile_is_not_withdrawn(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    await ask_to_withdraw(resident)
    await admin.send("/start")
    await admin.send("/status BV-0001 done Der Vermieter hat es behoben.")
    calls = await resident.press("Yes, withdraw it")
    assert texts(calls) == ["BV-0001 is already closed (“done”); nothing was changed."]
    concern = await repos.concerns.get(1)
    assert concern is not None and concern.status == "done"
    assert in_group(calls, "sendMessage") == []


async def test_only_the_resident_may_withdraw(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    stranger = Person(resident.app, resident.request, 700999, "en")
    for data in ("mypage:wd:1", "mypage:wdy:1", "mypage:wdy:01"):
        calls = await stranger.press_data(stranger.old_bot_message(), data)
        assert toasts(calls) == ["This button is no longer active."], data
    # Staff cannot withdraw for the resident either (they close with a status of their own).
    await admin.press_data(admin.old_bot_message(), "mypage:wdy:1")
    assert (await repos.concerns.get(1)).status == "new"  # type: ignore[union-attr]


async def test_a_withdrawn_concern_is_forgotten_on_time_and_counted(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    await withdraw(resident)
    # Withdrawn is closed: the retention clock runs as for done or rejected.
    days = repos.config.privacy.retention_days
    await repos.privacy.anonymise_closed(utc_now() + timedelta(days=days + 1))
    concern = await repos.concerns.get(1)
    assert concern is not None and concern.anonymised_at and concern.resident_id is None
    assert concern.text is None
    # Days as the office counts them, in Bremen (around midnight UTC is another day there).
    today = utc_now().astimezone(ZoneInfo("Europe/Berlin")).date()
    first, last = today - timedelta(days=1), today + timedelta(days=1)
    calls = await admin.send(f"/stats bahnhofsvorstadt {first} {last}")
    assert "… nach Status: zurückgezogen 1" in texts(calls)[-1]


async def test_a_staff_change_read_before_the_withdrawal_does_not_overwrite_it(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    read_by_staff = await repos.concerns.get(1)
    assert read_by_staff is not None
    assert await repos.concerns.withdraw(read_by_staff, resident.user_id, None)
    # The officer's write compares with what they read: nothing changes, nobody is told.
    assert await repos.concerns.set_status(read_by_staff, "done", 900001, "Fixed.") is None
    concern = await repos.concerns.get(1)
    assert concern is not None and concern.status == "withdrawn"
    assert [e.status for e in await repos.concerns.events(1)] == ["withdrawn"]
    assert await repos.outbox.for_chat(resident.user_id) == []


async def test_a_button_on_a_post_not_yet_updated_does_not_undo_a_withdrawal(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    old_post = resident.last_message_to(GROUP_ID)  # its buttons, as the group saw them
    calls = await withdraw(resident)
    (edit,) = in_group(calls, "editMessageText")
    assert "cst:" not in str(edit.params.get("reply_markup"))  # the post offers no status now
    group = admin.in_chat(GROUP_ID)
    calls = await group.press_data(old_post, "cst:1:in_progress")
    (alert,) = [c for c in calls if c.method == "answerCallbackQuery"]
    assert alert.params["show_alert"] and "/status BV-0001 in_progress" in alert.params["text"]
    assert (await repos.concerns.get(1)).status == "withdrawn"  # type: ignore[union-attr]
    # Taking it up again is possible, deliberately.
    await admin.send("/start")
    await admin.send("/status BV-0001 in_progress")
    assert (await repos.concerns.get(1)).status == "in_progress"  # type: ignore[union-attr]


async def test_a_closing_question_answered_after_the_withdrawal_sends_nothing(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    await admin.send("/start")
    await admin.send("/status BV-0001 done")  # asks for the closing message
    await withdraw(resident)
    calls = await admin.send("Die Schimmelbeseitigung ist erledigt.")
    assert texts(calls) == [
        "BV-0001 wurde inzwischen geändert (jetzt „zurückgezogen“); es wurde nichts gesendet."
    ]
    assert [c for c in calls if c.params.get("chat_id") == resident.user_id] == []
    assert (await repos.concerns.get(1)).status == "withdrawn"  # type: ignore[union-attr]


async def test_an_erasure_while_the_notice_goes_out_keeps_the_post_empty(
    resident: Person, repos: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    request = resident.request
    send = request.do_request

    async def erase_during_the_notice(
        url: str, method: str, request_data: Any = None, **timeouts: Any
    ) -> Any:
        """The resident's /deleteme lands between the notice's rendering and the post's edit."""
        notice = request_data is not None and "zurückgezogen" in str(request_data.parameters)
        if url.endswith("/sendMessage") and notice:
            await repos.privacy.erase_resident(resident.user_id)
        return await send(url, method, request_data, **timeouts)

    monkeypatch.setattr(request, "do_request", erase_during_the_notice)
    calls = await withdraw(resident)
    (edit,) = in_group(calls, "editMessageText")
    assert "Mould" not in str(edit.params["text"])
    assert "Der Inhalt wurde gelöscht (Datenschutz)." in str(edit.params["text"])


async def test_a_stale_page_or_question_says_the_concern_is_closed(
    resident: Person, admin: Person, repos: Repositories
) -> None:
    await sent_concern(resident, "Mould in the bathroom.")
    await ask_to_withdraw(resident)
    await admin.send("/start")
    await admin.send("/status BV-0001 rejected Nicht unser Zuständigkeitsbereich.")
    calls = await resident.press("No, keep it")
    assert texts(calls) == ["BV-0001 is already closed (“rejected”); nothing was changed."]
    calls = await resident.press_callback("mypage:wd:1")  # the page's button, still shown
    assert texts(calls) == ["BV-0001 is already closed (“rejected”); nothing was changed."]
