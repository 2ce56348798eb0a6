"""Residents report a concern: topic → description → contact → consent → summary → submit.

The conversation state is the draft row in SQLite, written on every step: a restart of the bot
in the middle of a conversation loses nothing, and the buttons carry no state of their own.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.concerns import MAX_DESCRIPTION, plain_text, quarter_name, topic_label
from bot.context import BotContext, QuartierApplication
from bot.i18n import Translator
from bot.menu import MENU_CONCERN, main_menu
from bot.privacy import transcription_notice
from bot.topics import EMERGENCY_TOPICS, Topic, emergency_numbers
from handlers.common import (
    PRIVATE,
    answer_unrecognised,
    edit_text,
    fits_one_message,
    hear,
    message_of,
    send_resident_page,
    user_of,
    voice_of,
)
from storage.concerns import Concern, Draft, DraftGone, Voice
from storage.db import utc_now

#: How long after submitting a second "Submit" repeats the reference instead of only a notice.
RESEND_WINDOW = timedelta(minutes=10)


def cancel_button(t: Translator) -> InlineKeyboardButton:
    """The cancel button offered at every step."""
    return InlineKeyboardButton(t._("✖️ Cancel"), callback_data="cflow:cancel")


async def start_concern(update: Update, context: BotContext) -> None:
    """/concern or the menu button: begin a new draft in the resident's home quarter."""
    message = message_of(update)
    t = context.t
    resident = context.resident
    quarter = context.repos.config.quarter(resident.quarter_id if resident else None)
    if resident is None or resident.language is None or quarter is None:
        await message.reply_text(t._("Please send /start first and choose your quarter."))
        return
    if context.args:
        # "/concern BV-0001": the page of that concern of theirs, not a new one.
        reference = context.args[0][:20]
        own = await context.repos.concerns.by_reference(reference)
        if own is None or own.resident_id != resident.user_id:
            await message.reply_text(
                t._("There is no concern with the number “{reference}”.", reference=reference)
            )
            return
        await send_resident_page(message, context, own)
        return
    # Told before they write, not after: the fair limit is checked again at the submit.
    if await over_concern_limit(context, resident.user_id):
        await message.reply_text(concern_limit_text(context))
        return
    unsent = await context.repos.concerns.draft(resident.user_id)
    if unsent is not None and unsent.has_description and unsent.kind == "concern":
        # Starting over would lose what they wrote: they choose.
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(t._("Continue it"), callback_data="cflow:resume")],
                [InlineKeyboardButton(t._("Start a new one"), callback_data="cflow:fresh")],
            ]
        )
        await message.reply_text(
            t._("You have a concern you have not sent yet."), reply_markup=keyboard
        )
        return
    await context.repos.concerns.start_draft(resident.user_id, quarter.id)
    await ask_topic(message, context)


async def over_concern_limit(context: BotContext, user_id: int) -> bool:
    """Has the resident submitted as many concerns in 24 hours as one person may?"""
    repos = context.repos
    submitted = await repos.concerns.submitted_within(user_id, timedelta(days=1))
    return submitted >= repos.config.limits.concerns_per_day


def concern_limit_text(context: BotContext) -> str:
    """The polite answer beyond the fair limit on concerns."""
    t = context.t
    limit = context.repos.config.limits.concerns_per_day
    return t._n(
        "You have sent {count} concern in the last 24 hours, the most we can take from one "
        "person in a day. Please send the next one tomorrow, or contact the quarter office "
        "directly (/hours).",
        "You have sent {count} concerns in the last 24 hours, the most we can take from one "
        "person in a day. Please send the next one tomorrow, or contact the quarter office "
        "directly (/hours).",
        limit,
        count=limit,
    )


def followup_limit_text(context: BotContext) -> str:
    """The polite answer beyond the fair limit on follow-ups."""
    t = context.t
    limit = context.repos.config.limits.followups_per_hour
    return t._n(
        "You have sent {count} message about your concerns in the last hour. Please wait a "
        "little before you send more; the office reads everything you have sent.",
        "You have sent {count} messages about your concerns in the last hour. Please wait a "
        "little before you send more; the office reads everything you have sent.",
        limit,
        count=limit,
    )


def topic_keyboard(
    t: Translator, topics: tuple[Topic, ...], default_language: str
) -> InlineKeyboardMarkup:
    """Topic buttons, two per row, and cancel."""
    buttons = [
        InlineKeyboardButton(topic.label(t, default_language), callback_data=f"ctopic:{topic.id}")
        for topic in topics
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)] + [[cancel_button(t)]]
    return InlineKeyboardMarkup(rows)


def cancel_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """Only the cancel button (while the resident types)."""
    return InlineKeyboardMarkup([[cancel_button(t)]])


def contact_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """May the office write back: yes, no, cancel."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t._("Yes, you may write to me"), callback_data="ccontact:yes")],
            [InlineKeyboardButton(t._("No, stay anonymous"), callback_data="ccontact:no")],
            [cancel_button(t)],
        ]
    )


def consent_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """I agree, cancel."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t._("I agree"), callback_data="cconsent:yes")], [cancel_button(t)]]
    )


def summary_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """Submit, change, cancel."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t._("✅ Submit"), callback_data="cflow:submit")],
            [
                InlineKeyboardButton(t._("✏️ Change"), callback_data="cflow:change"),
                cancel_button(t),
            ],
        ]
    )


def change_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """Which answer to change, or back to the summary."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t._("Topic"), callback_data="cchange:topic"),
                InlineKeyboardButton(t._("Description"), callback_data="cchange:text"),
                InlineKeyboardButton(t._("Contact"), callback_data="cchange:contact"),
            ],
            [InlineKeyboardButton(t._("↩️ Back to the summary"), callback_data="cflow:summary")],
        ]
    )


#: A question of the conversation: its text and its buttons.
Question = tuple[str, InlineKeyboardMarkup]


def topic_question(context: BotContext) -> Question:
    """Topic buttons, two per row."""
    t = context.t
    config = context.repos.config
    return (
        t._("What is your concern about? Choose a topic."),
        topic_keyboard(t, config.topics, config.default_language),
    )


def text_question(context: BotContext) -> Question:
    """Ask for the description."""
    t = context.t
    return (
        t._(
            "Please describe your concern in your own words: type it or send a voice message. "
            "You can also send a photo (with or without a caption) or share a location. "
            "Send /cancel to stop."
        ),
        cancel_keyboard(t),
    )


def contact_question(context: BotContext) -> Question:
    """May staff write back?"""
    t = context.t
    return (
        t._(
            "May the quarter office answer you about this concern? They would write to you "
            "here, through the bot. In both cases, they do not see your name or phone number."
        )
        + "\n\n"
        + t._("(You can still add a photo or share a location now.)"),
        contact_keyboard(t),
    )


def consent_question(context: BotContext) -> Question:
    """The short privacy notice before the first concern."""
    t = context.t
    days = context.repos.config.privacy.retention_days
    transcription = context.repos.config.transcription
    # Voice goes to the speech recognition service only after this consent: it names it.
    voice = "\n\n" + transcription_notice(t, transcription) if transcription.enabled else ""
    return (
        t._n(
            "Before you send your first concern, please read this: we store what you send (text, "
            "photo, location) and share it with the staff of the quarter office. {count} day after "
            "a concern is closed, we remove everything that could identify you. You can see and "
            "delete your data at any time with /mydata and /deleteme. More in /privacy.",
            "Before you send your first concern, please read this: we store what you send (text, "
            "photo, location) and share it with the staff of the quarter office. {count} days "
            "after a concern is closed, we remove everything that could identify you. You can see "
            "and delete your data at any time with /mydata and /deleteme. More in /privacy.",
            days,
            count=days,
        )
        + voice,
        consent_keyboard(t),
    )


async def ask(message: Message, question: Question) -> None:
    """Send a question below `message`."""
    text, keyboard = question
    await message.reply_text(text, reply_markup=keyboard)


async def ask_topic(message: Message, context: BotContext) -> None:
    """Topic buttons, two per row."""
    await ask(message, topic_question(context))


async def ask_text(message: Message, context: BotContext) -> None:
    """Ask for the description."""
    await ask(message, text_question(context))


async def ask_contact(message: Message, context: BotContext) -> None:
    """May staff write back?"""
    await ask(message, contact_question(context))


async def ask_consent(message: Message, context: BotContext) -> None:
    """The short privacy notice before the first concern."""
    await ask(message, consent_question(context))


def summary_text(draft: Draft, context: BotContext) -> str:
    """Everything the resident is about to send, in their language (plain text)."""
    return context.t._("Please check your concern:") + "\n\n" + summary_details(draft, context)


def summary_details(draft: Draft, context: BotContext) -> str:
    """Quarter, topic, description, attachments and contact choice, one per line."""
    t = context.t
    config = context.repos.config
    lines = [
        t._("Quarter: {quarter}", quarter=quarter_name(draft.quarter_id, config)),
        t._("Topic: {topic}", topic=topic_label(draft.topic_id or "", config, t)),
    ]
    if draft.voice:
        duration = t.fmt_duration(draft.voice.seconds)
        lines.append(t._("🎤 Voice message ({duration})", duration=duration))
    if draft.text and draft.transcribed:
        lines.append(t._("Transcript: {text}", text=draft.text))
    elif draft.text:
        lines.append(t._("Description: {text}", text=draft.text))
    if draft.photo_file_id:
        lines.append(t._("📷 A photo is attached."))
    if draft.latitude is not None:
        lines.append(t._("📍 A location is attached."))
    if draft.contact_allowed:
        lines.append(t._("Contact: the quarter office may write to you here."))
    else:
        lines.append(t._("Contact: anonymous, the quarter office cannot answer you."))
    return "\n".join(lines)


def summary_question(context: BotContext, draft: Draft) -> Question:
    """Summary with Submit / Change / Cancel."""
    return summary_text(draft, context), summary_keyboard(context.t)


async def show_summary(message: Message, context: BotContext, draft: Draft) -> None:
    """Summary with Submit / Change / Cancel."""
    await ask(message, summary_question(context, draft))


async def ask_what_to_change(message: Message, context: BotContext) -> None:
    """Which part to change."""
    t = context.t
    await message.reply_text(t._("What would you like to change?"), reply_markup=change_keyboard(t))


async def next_question(context: BotContext, draft: Draft) -> Question:
    """The next open question; after changing one answer, back to the summary."""
    if draft.editing:
        draft = await context.repos.concerns.update_draft(draft.user_id, step="summary", editing=0)
    if draft.step == "summary":
        return summary_question(context, draft)
    questions = {"text": text_question, "contact": contact_question, "consent": consent_question}
    return questions[draft.step](context)


async def continue_after(message: Message, context: BotContext, draft: Draft) -> None:
    """Ask the next open question below the resident's message."""
    await ask(message, await next_question(context, draft))


async def continue_in_place(
    query: CallbackQuery, context: BotContext, draft: Draft, answer: str
) -> None:
    """Turn the answered question into the answer followed by the next question.

    One message per answered button instead of an edited one and a new one: a shorter chat on
    a phone, and one Bot API call less. If both do not fit into one message, two it is.
    """
    text, keyboard = await next_question(context, draft)
    combined = answer + "\n\n" + text
    if fits_one_message(combined):
        await edit_text(query, combined, reply_markup=keyboard)
        return
    await edit_text(query, answer)
    if isinstance(query.message, Message):
        await query.message.reply_text(text, reply_markup=keyboard)


def next_step_after_contact(context: BotContext) -> str:
    """Consent is asked once, before the first concern."""
    resident = context.resident
    return "summary" if resident is not None and resident.consent_at is not None else "consent"


async def draft_gone(update: Update, context: BotContext) -> None:
    """A button of a draft that was already sent or cancelled."""
    query = update.callback_query
    if query is None:
        return
    await query.answer(context.t._("This concern was already sent or cancelled."), show_alert=True)
    if query.data == "cflow:submit" and isinstance(query.message, Message):
        # Submitted, but the answer may have been lost (a crash right after the commit, an
        # outage): repeat the reference of a concern sent in the last minutes.
        concerns = await context.repos.concerns.for_resident(user_of(update).id)
        # Compared with the storage clock, which stamped created_at.
        recent = utc_now() - RESEND_WINDOW
        if concerns and concerns[0].created_at >= recent:
            await query.message.reply_text(confirmation(concerns[0], context))


async def on_topic(update: Update, context: BotContext) -> None:
    """Topic button."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    topic_id = query.data.removeprefix("ctopic:")
    config = context.repos.config
    if topic_id not in {topic.id for topic in config.topics}:
        await query.answer(context.t._("This choice is not available any more."), show_alert=True)
        return
    repository = context.repos.concerns
    draft = await repository.draft(user.id)
    if draft is None:
        await draft_gone(update, context)
        return
    next_step = draft.step if draft.editing else "text"
    draft = await repository.update_draft(user.id, topic_id=topic_id, step=next_step)
    await query.answer()
    t = context.t
    answer = t._("Topic: {topic}", topic=topic_label(topic_id, config, t))
    if topic_id in EMERGENCY_TOPICS:
        answer += "\n\n" + emergency_numbers(t)
    await continue_in_place(query, context, draft, answer)


async def on_contact(update: Update, context: BotContext) -> None:
    """Contact buttons."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    allowed = query.data == "ccontact:yes"
    repository = context.repos.concerns
    draft = await repository.draft(user.id)
    if draft is None:
        await draft_gone(update, context)
        return
    step = draft.step if draft.editing else next_step_after_contact(context)
    draft = await repository.update_draft(user.id, contact_allowed=int(allowed), step=step)
    await query.answer()
    t = context.t
    choice = t._("Yes, you may write to me") if allowed else t._("No, stay anonymous")
    await continue_in_place(query, context, draft, choice)


async def on_consent(update: Update, context: BotContext) -> None:
    """'I agree' to the privacy notice."""
    query = update.callback_query
    assert query is not None
    user = user_of(update)
    # Consent first: if the draft is gone meanwhile, the resident did agree all the same.
    await context.repos.residents.give_consent(user.id)
    try:
        draft = await context.repos.concerns.update_draft(user.id, step="summary")
    except DraftGone:
        await draft_gone(update, context)
        return
    if draft.kind == "question":
        # A question has nothing more to ask: it goes at once.
        await submit(update, context)
        return
    await query.answer()
    answer = context.t._("Thank you. You agreed to the privacy notice.")
    if draft.voice is not None and not draft.text and context.repos.transcription.enabled:
        # Held back until now: a recording leaves the bot only after this consent. The
        # summary shows the transcript; "Change" corrects it.
        transcript = await hear(update, context, draft.voice, None)
        if transcript is not None:
            draft = await context.repos.concerns.update_draft(
                user.id, text=transcript, transcribed=1
            )
    await continue_in_place(query, context, draft, answer)


async def on_flow(update: Update, context: BotContext) -> None:
    """Submit, change, back to the summary, cancel."""
    query = update.callback_query
    assert query is not None and query.data is not None
    action = query.data.removeprefix("cflow:")
    user = user_of(update)
    repository = context.repos.concerns
    draft = await repository.draft(user.id)
    if draft is None:
        await draft_gone(update, context)
        return
    message = query.message if isinstance(query.message, Message) else None
    if action == "cancel" and draft.has_description:
        # What the resident wrote (or recorded) is not thrown away by one stray tap.
        await query.answer()
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        context.t._("Yes, throw it away"), callback_data="cflow:discard"
                    )
                ],
                [InlineKeyboardButton(context.t._("No, keep it"), callback_data="cflow:resume")],
            ]
        )
        await edit_text(
            query, context.t._("Throw away what you have written so far?"), reply_markup=keyboard
        )
    elif action in ("cancel", "discard"):
        await query.answer()
        await cancel_draft(update, context, edit=True)
    elif action == "resume":
        await query.answer()
        text, keyboard = await resume_question(context, draft)
        await edit_text(query, text, reply_markup=keyboard)
    elif action == "fresh":
        await query.answer()
        await repository.start_draft(user.id, draft.quarter_id)
        text, keyboard = topic_question(context)
        await edit_text(query, text, reply_markup=keyboard)
    elif action == "submit" and draft.step == "summary":
        await submit(update, context)
    elif action == "change":
        await query.answer()
        await repository.update_draft(user.id, step="change")
        if message is not None:
            await ask_what_to_change(message, context)
    elif action == "summary" and draft.topic_id and draft.contact_allowed is not None:
        await query.answer()
        draft = await repository.update_draft(user.id, step="summary", editing=0)
        if message is not None:
            await show_summary(message, context, draft)
    elif action == "next" and draft.step == "text" and draft.has_description:
        await query.answer()
        draft = await repository.update_draft(user.id, step=following_text_step(draft, context))
        if message is not None:
            await continue_after(message, context, draft)
    else:
        await query.answer(context.t._("This button is no longer active."), show_alert=True)


async def resume_question(context: BotContext, draft: Draft) -> Question:
    """The question of the draft's current step, to carry on where the resident was."""
    if draft.step == "topic":
        return topic_question(context)
    if draft.step in ("summary", "change"):
        return summary_question(context, draft)
    return await next_question(context, draft)


async def on_change(update: Update, context: BotContext) -> None:
    """Pick which answer to change."""
    query = update.callback_query
    assert query is not None and query.data is not None
    part = query.data.removeprefix("cchange:")
    user = user_of(update)
    repository = context.repos.concerns
    draft = await repository.draft(user.id)
    if draft is None or part not in ("topic", "text", "contact"):
        await draft_gone(update, context)
        return
    await repository.update_draft(user.id, step=part, editing=1)
    await query.answer()
    if isinstance(query.message, Message):
        asks = {"topic": ask_topic, "text": ask_text, "contact": ask_contact}
        await asks[part](query.message, context)


def following_text_step(draft: Draft, context: BotContext) -> str:
    """After the description: back to the summary when changing it, else the contact question."""
    return "summary" if draft.editing else "contact"


async def submit(update: Update, context: BotContext) -> None:
    """Commit the concern, then tell the resident its reference, then tell staff."""
    query = update.callback_query
    assert query is not None
    user = user_of(update)
    repos = context.repos
    t = context.t
    draft = await repos.concerns.draft(user.id)
    quarter = repos.config.quarter(draft.quarter_id if draft else None)
    if draft is None or quarter is None:
        await draft_gone(update, context)
        return
    if await over_concern_limit(context, user.id):
        # Nothing is stored and nothing posted: the draft goes, the resident is told why.
        await repos.concerns.discard_draft(user.id)
        await query.answer()
        await edit_text(query, concern_limit_text(context))
        return
    try:
        # Only the quarter's own staff group sees it (or the common one, if it has none).
        staff_chat = repos.config.staff_group_for(draft.quarter_id)
        concern = await repos.concerns.submit(user.id, quarter.prefix, t.language, staff_chat)
    except DraftGone:
        await draft_gone(update, context)
        return
    # Committed above: only now do we tell the resident it is saved.
    await query.answer()
    # The summary becomes the receipt: reference, what happens next, what was sent.
    receipt = confirmation(concern, context) + "\n\n" + summary_details(draft, context)
    if fits_one_message(receipt):
        await edit_text(query, receipt)
    else:
        await edit_text(query, summary_text(draft, context))
        if isinstance(query.message, Message):
            await query.message.reply_text(confirmation(concern, context))
    # The staff-group post was committed with the concern; the outbox delivers it.
    context.outbox.wake()


def confirmation(concern: Concern, context: BotContext) -> str:
    """The reference and what happens next."""
    t = context.t
    if concern.kind == "question":
        return t._(
            "Thank you! Your question has the number {reference} and is with the quarter "
            "office now. They will answer you here. /myconcerns shows it too.",
            reference=concern.reference,
        )
    text = t._(
        "Thank you! Your concern has the number {reference}. The team of the quarter office "
        "will look at it. /myconcerns shows the state of all your concerns.",
        reference=concern.reference,
    )
    if concern.contact_allowed:
        text += "\n" + t._("When the office answers or the status changes, you get a message here.")
    else:
        text += "\n" + t._(
            "You chose to stay anonymous: you get a message here when the status changes."
        )
    return text


async def cancel_draft(update: Update, context: BotContext, edit: bool = False) -> None:
    """Throw the draft away and say so."""
    t = context.t
    user = user_of(update)
    had = await context.repos.concerns.discard_draft(user.id)
    # An officer's pending answer (✍️ Reply, a closing message) is cancelled by /cancel too.
    staff_draft = await context.repos.staff_drafts.get(user.id)
    if staff_draft is not None and staff_draft.kind in ("reply", "closing"):
        had = await context.repos.staff_drafts.discard(user.id) or had
    text = t._("Cancelled. Nothing was sent.") if had else t._("There is nothing to cancel.")
    query = update.callback_query
    if edit and query is not None:
        await edit_text(query, text)
        if isinstance(query.message, Message):
            await query.message.reply_text(
                t._("What would you like to do?"), reply_markup=main_menu(t)
            )
        return
    await message_of(update).reply_text(text, reply_markup=main_menu(t))


async def cancel_command(update: Update, context: BotContext) -> None:
    """/cancel at any step."""
    await cancel_draft(update, context)


async def on_input(update: Update, context: BotContext) -> None:
    """A resident's typed input: a reply to a concern message, a draft step, or unexpected."""
    message = message_of(update)
    user = user_of(update)
    repos = context.repos
    reply_to = message.reply_to_message
    if reply_to is not None and (
        message.text or voice_of(message) or message.photo or message.location
    ):
        concern = await repos.concerns.linked(message.chat_id, reply_to.message_id)
        if concern is not None and concern.resident_id == user.id:
            await resident_follow_up(update, context, concern)
            return
    draft = await repos.concerns.draft(user.id)
    if draft is None:
        if message.text and not message.text.startswith("/"):
            await offer_question(update, context)
        else:
            await answer_unrecognised(update, context)
        return
    if draft.step == "text":
        await take_description(update, context, draft)
    elif draft.step == "topic":
        await ask_topic(message, context)
    elif draft.step == "summary":
        await message.reply_text(context.t._("Please use the buttons below the summary."))
        await show_summary(message, context, draft)
    elif draft.step == "contact" and (message.photo or message.location):
        await add_attachment(update, context, draft)
    else:
        await message.reply_text(context.t._("Please choose one of the buttons above."))
        steps = {"contact": ask_contact, "consent": ask_consent, "change": ask_what_to_change}
        await steps[draft.step](message, context)


async def add_attachment(update: Update, context: BotContext, draft: Draft) -> None:
    """A photo or a location sent right after the description still belongs to the concern."""
    message = message_of(update)
    fields: dict[str, object] = {}
    if message.photo:
        fields["photo_file_id"] = message.photo[-1].file_id
    if message.location:
        fields["latitude"] = message.location.latitude
        fields["longitude"] = message.location.longitude
    await context.repos.concerns.update_draft(draft.user_id, **fields)
    t = context.t
    added = t._("📷 A photo is attached.") if message.photo else t._("📍 A location is attached.")
    await message.reply_text(added)
    await ask_contact(message, context)


def question_topic(context: BotContext) -> str:
    """The topic a free question is filed under: "other" where the quarter has it."""
    topics = [topic.id for topic in context.repos.config.topics]
    return "other" if "other" in topics else topics[-1]


async def offer_question(update: Update, context: BotContext) -> None:
    """Free text outside any conversation ("when are you open?"): not thrown away, but offered
    to the quarter office as a question, which then travels like a concern (reference, reply)."""
    message = message_of(update)
    t = context.t
    resident = context.resident
    quarter = context.repos.config.quarter(resident.quarter_id if resident else None)
    text = plain_text(message.text or "")
    if resident is None or resident.language is None or quarter is None or not text:
        await answer_unrecognised(update, context)
        return
    if len(text) > MAX_DESCRIPTION:
        await message.reply_text(too_long(text, t))
        return
    repository = context.repos.concerns
    await repository.start_draft(resident.user_id, quarter.id)
    await repository.update_draft(
        resident.user_id,
        kind="question",
        topic_id=question_topic(context),
        text=text,
        contact_allowed=1,  # a question is asked to be answered
        step="summary",
    )
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t._("📨 Send it to the quarter office"), callback_data="cq:send"
                )
            ],
            [InlineKeyboardButton(t._("No, thanks"), callback_data="cq:no")],
        ]
    )
    await message.reply_text(
        t._(
            "I cannot answer that myself, but the quarter office can. Shall I send your "
            "message to them? They will answer you here."
        ),
        reply_markup=keyboard,
    )


async def on_question_decline(update: Update, context: BotContext) -> None:
    """'No, thanks' to sending free text: the question goes, nothing else (an old button must
    not throw away a concern written since)."""
    query = update.callback_query
    assert query is not None
    user = user_of(update)
    draft = await context.repos.concerns.draft(user.id)
    await query.answer()
    if draft is not None and draft.kind == "question":
        await context.repos.concerns.discard_draft(user.id)
    await edit_text(query, context.t._("Cancelled. Nothing was sent."))


async def on_question_send(update: Update, context: BotContext) -> None:
    """'Send it to the quarter office': after the privacy notice once, the question goes."""
    query = update.callback_query
    assert query is not None
    user = user_of(update)
    draft = await context.repos.concerns.draft(user.id)
    if draft is None or draft.kind != "question":
        await draft_gone(update, context)
        return
    resident = context.resident
    if resident is None or resident.consent_at is None:
        await query.answer()
        draft = await context.repos.concerns.update_draft(user.id, step="consent")
        await continue_in_place(
            query, context, draft, context.t._("Your message: {text}", text=str(draft.text))
        )
        return
    await submit(update, context)


def too_long(text: str, t: Translator) -> str:
    """The hint for a text over the limit, with both numbers in the reader's locale."""
    return t._(
        "Your text is too long ({length} characters). Please shorten it to at most "
        "{limit} characters.",
        length=t.fmt_number(len(text)),
        limit=t.fmt_number(MAX_DESCRIPTION),
    )


async def take_description(update: Update, context: BotContext, draft: Draft) -> None:
    """Text, a photo (with or without caption) or a location; anything else is asked again."""
    message = message_of(update)
    t = context.t
    repository = context.repos.concerns
    if message.text is not None:
        text = plain_text(message.text)
        if not text:
            await message.reply_text(t._("The message was empty. Please describe your concern."))
            return
        if len(text) > MAX_DESCRIPTION:
            await message.reply_text(too_long(text, t))
            return
        # Typed text after a photo, a location or a voice message completes the description
        # (after a voice message, it corrects the transcript).
        draft = await repository.update_draft(
            draft.user_id, text=text, transcribed=0, step=following_text_step(draft, context)
        )
        await continue_after(message, context, draft)
        return
    heard = voice_of(message)
    if heard is not None:
        await take_voice(update, context, draft, *heard)
        return
    if message.photo or message.location:
        fields: dict[str, object] = {}
        if message.photo:
            fields["photo_file_id"] = message.photo[-1].file_id
            if message.caption and plain_text(message.caption):
                fields["text"] = plain_text(message.caption)[:MAX_DESCRIPTION]
        if message.location:
            fields["latitude"] = message.location.latitude
            fields["longitude"] = message.location.longitude
        draft = await repository.update_draft(draft.user_id, **fields)
        if draft.text:
            draft = await repository.update_draft(
                draft.user_id, step=following_text_step(draft, context)
            )
            await continue_after(message, context, draft)
            return
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(t._("Continue without text"), callback_data="cflow:next")]]
        )
        await message.reply_text(
            t._("Thank you. You can add a few words now, or continue."), reply_markup=keyboard
        )
        return
    await message.reply_text(
        t._(
            "I can take text, a voice message, a photo or a location here. Stickers and files "
            "cannot be read. Please describe your concern in words."
        )
    )


def continue_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """Go on to the next question with what was sent."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t._("Continue"), callback_data="cflow:next")]]
    )


def voice_too_long(voice: Voice, context: BotContext) -> str:
    """The answer to a voice message over `[transcription] max_seconds`."""
    t = context.t
    return t._(
        "Your voice message is {duration} long; the quarter office takes voice messages of up "
        "to {limit}. Please send a shorter one, or type your concern.",
        duration=t.fmt_duration(voice.seconds),
        limit=t.fmt_duration(context.repos.transcription.settings.max_seconds),
    )


async def take_voice(
    update: Update, context: BotContext, draft: Draft, voice: Voice, size: int | None
) -> None:
    """A voice message as the description: kept by Telegram file id, for staff to listen to;
    with a transcription service, its transcript becomes the text, to confirm or correct."""
    message = message_of(update)
    t = context.t
    if context.repos.transcription.too_long(voice):
        await message.reply_text(voice_too_long(voice, context))
        return
    caption = plain_text(message.caption or "")[:MAX_DESCRIPTION]
    resident = context.resident
    # Before the first consent, no recording leaves the bot: it is written out after it.
    consented = resident is not None and resident.consent_at is not None
    transcript = None if caption or not consented else await hear(update, context, voice, size)
    # A text typed earlier stays; an earlier transcript belongs to the earlier recording.
    text = caption or transcript or (None if draft.transcribed else draft.text)
    await context.repos.concerns.update_draft(
        draft.user_id,
        voice_file_id=voice.file_id,
        voice_kind=voice.kind,
        voice_seconds=voice.seconds,
        text=text,
        transcribed=int(transcript is not None),
    )
    duration = t.fmt_duration(voice.seconds)
    if transcript is not None:
        answer = t._(
            "🎤 Your voice message ({duration}) says:\n\n{text}\n\nIf something is not right, "
            "type the corrected text now. Otherwise tap “Continue”.",
            duration=duration,
            text=transcript,
        )
    elif context.repos.transcription.enabled and consented and not caption:
        answer = t._(
            "🎤 Thank you, your voice message ({duration}) is attached. It could not be written "
            "out automatically; the quarter office will listen to it. You can add a few words "
            "now, or continue.",
            duration=duration,
        )
    else:
        answer = t._(
            "🎤 Thank you, your voice message ({duration}) is attached; the quarter office will "
            "listen to it. You can add a few words now, or continue.",
            duration=duration,
        )
    if draft.voice is not None:
        # One recording per concern: say so rather than lose the earlier one unnoticed.
        answer += "\n\n" + t._("It replaces the voice message you sent before.")
    await message.reply_text(answer, reply_markup=continue_keyboard(t))


async def resident_follow_up(update: Update, context: BotContext, concern: Concern) -> None:
    """A resident's Telegram reply to a message about their concern joins its thread."""
    message = message_of(update)
    t = context.t
    repos = context.repos
    heard = voice_of(message)
    photo = message.photo[-1].file_id if message.photo else None
    place = message.location
    captioned = heard is not None or photo is not None
    text = plain_text((message.caption if captioned else message.text) or "")
    if not text and heard is None and photo is None and place is None:
        return
    if len(text) > MAX_DESCRIPTION:
        await message.reply_text(too_long(text, t))
        return
    if heard is not None and repos.transcription.too_long(heard[0]):
        await message.reply_text(voice_too_long(heard[0], context))
        return
    sent = await repos.concerns.followups_within(user_of(update).id, timedelta(hours=1))
    if sent >= repos.config.limits.followups_per_hour:
        await message.reply_text(followup_limit_text(context))
        return
    transcript = None
    if heard is not None and not text:
        transcript = await hear(update, context, *heard)
    staff_chat = repos.config.staff_group_for(concern.quarter_id)
    await repos.concerns.add_resident_message(
        concern.id,
        user_of(update).id,
        text or transcript,
        staff_chat,
        voice=heard[0] if heard else None,
        transcribed=transcript is not None,
        photo_file_id=photo,
        location=(place.latitude, place.longitude) if place is not None else None,
    )
    # The staff group gets it through the outbox, under the concern's post.
    context.outbox.wake()
    await message.reply_text(
        t._("Thank you. Your message was added to {reference}.", reference=concern.reference)
    )


def register(app: QuartierApplication) -> None:
    """Install the intake conversation (typed input reaches `on_input` via handlers.text_input)."""
    app.resident_input = on_input
    catalogs = app.repos.catalogs
    app.add_handler(CommandHandler("concern", start_concern, filters=PRIVATE))
    app.add_handler(CommandHandler("cancel", cancel_command, filters=PRIVATE))
    app.add_handler(
        MessageHandler(
            PRIVATE & filters.Text(catalogs.all_translations(MENU_CONCERN)), start_concern
        )
    )
    app.add_handler(CallbackQueryHandler(on_topic, pattern=r"^ctopic:"))
    app.add_handler(CallbackQueryHandler(on_contact, pattern=r"^ccontact:(yes|no)$"))
    app.add_handler(CallbackQueryHandler(on_consent, pattern=r"^cconsent:yes$"))
    app.add_handler(CallbackQueryHandler(on_flow, pattern=r"^cflow:"))
    app.add_handler(CallbackQueryHandler(on_change, pattern=r"^cchange:"))
    app.add_handler(CallbackQueryHandler(on_question_send, pattern=r"^cq:send$"))
    app.add_handler(CallbackQueryHandler(on_question_decline, pattern=r"^cq:no$"))
