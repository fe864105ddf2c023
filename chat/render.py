"""Shows engine events in a customer's Chainlit chat: the answer stream, live status, agents' words."""

from __future__ import annotations

import asyncio
import contextvars
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal, TypedDict, Unpack

import chainlit as cl
from chainlit.chat_context import chat_context
from chainlit.context import init_ws_context
from chainlit.server import sio
from chainlit.session import WebsocketSession, ws_sessions_id
from chainlit.step import StepDict

from engine.events import Event, QueuePosition, TicketView

ASSISTANT = "Assistant"
GREETING = (
    "Hi! I'm the Northwind assistant. Ask me anything about your account, billing, shipping or our API. "
    "If you'd rather talk to a person, just say so and I'll bring one in."
)
SUPPORT = "Support"
_STATUS = "ee_status_message"
_TYPING = "ee_typing_message"
_AGENT = "ee_agent_name"
RATING_WORDS = ("Poor", "Fair", "Good", "Very good", "Excellent")  # what each number of stars means, on its button
RATING_PROMPT = "ee_rating_prompt"


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"about {minutes} minute{'s' if minutes != 1 else ''}"


# Chainlit posts this after the stop button; our stopped answer already says "(stopped)".
CHAINLIT_STOP_NOTICE = "Task manually stopped."


async def remove_stop_notice() -> None:
    """Takes Chainlit's stop notice (developer wording) out of the customer's chat."""
    notice = next((m for m in reversed(chat_context.get()) if m.content == CHAINLIT_STOP_NOTICE), None)
    if notice is not None:
        await notice.remove()


# Every "!" that opens a markdown image: "!![x](u)" with one of them taken away would still be an image.
_NO_IMAGES = re.compile(r"!+(?=\[)")


def without_images(text: str) -> str:
    """Markdown images as links: a browser showing the text fetches nothing the writer named."""
    return _NO_IMAGES.sub("", text)


def agent_text(name: str, text: str) -> str:
    """An agent's words as the customer sees them: under their name, where Chainlit shows only an
    initial, with any image as a link."""
    return f"**{name}** · support team\n\n{without_images(text)}"


class _MessageOptions(TypedDict, total=False):
    """What callers pass on to a support message's cl.Message."""

    id: str
    actions: list[cl.Action]


def support_message(text: str, *, status: bool = False, **extra: Unpack[_MessageOptions]) -> cl.Message:
    """A message from Support (not the assistant, not an agent), under the support avatar."""
    metadata = {"avatarName": "support", "status": True} if status else {"avatarName": "support"}
    return cl.Message(author=SUPPORT, content=text, metadata=metadata, **extra)


LEAVE_QUEUE = "leave_queue"  # the status line's button for a customer who no longer needs a person


def status_line(text: str, message_id: str | None = None) -> cl.Message:
    return support_message(text, status=True, id=message_id or str(uuid.uuid4()))


def is_status_line(step: StepDict) -> bool:
    return bool((step.get("metadata") or {}).get("status"))


def adopt_status_line(status: cl.Message) -> None:
    """Makes this the status line that later handoff news updates in place."""
    cl.user_session.set(_STATUS, status)


async def show_who_answers(mode: Literal["assistant", "waiting", "person"]) -> None:
    """Tells the page who answers now, for its footer (public/customer.js): the assistant, the queue for a
    person, or a person. Chainlit posts a window message to the page itself when it is not embedded."""
    await cl.send_window_message({"escalation_mode": mode})


async def show_status(text: str, event_id: str | None = None) -> None:
    """One status line per conversation, updated in place as the handoff moves along."""
    status: cl.Message | None = cl.user_session.get(_STATUS)
    if status is None:
        status = status_line(text, event_id)
        adopt_status_line(status)
        await status.send()
    else:
        status.content = text
        await status.update()


NOBODY_ON_DUTY = (
    "No one from our team who handles this is online right now, so I can't promise a quick answer. "
    "Your conversation stays open: add anything they should know (an email too, if you'd like a reply "
    "there) and the first agent to come online will answer here, even if you have closed the chat by then."
)


def queue_text(position: QueuePosition) -> str:
    if position.opens_at:
        opens = datetime.fromisoformat(position.opens_at)
        return (
            f"Our team is away right now (our hours: {position.business_hours}); they are back on "
            f"{opens:%A %-d %B at %H:%M}. Your conversation stays open: add anything they should know (an "
            "email too, if you'd like a reply there) and an agent will answer here, even if you have closed the chat "
            "by then."
        )
    if not position.agents_online:
        return NOBODY_ON_DUTY
    place = "next in line" if position.position == 1 else f"number {position.position} in the queue"
    return f"Connecting you to an agent. You're {place}; estimated wait {_minutes(position.estimated_wait_seconds)}."


def remember_agent(name: str) -> None:
    """The agent who holds this chat, for a chat reopened mid-conversation (a transfer reads it)."""
    cl.user_session.set(_AGENT, name)


async def _drop_leave_button() -> None:
    """Takes "I no longer need a person" off the status line once nobody waits any more."""
    status: cl.Message | None = cl.user_session.get(_STATUS)
    if status is not None and status.actions:
        await status.remove_actions()
        status.actions = []


async def _clear_typing() -> None:
    typing: cl.Message | None = cl.user_session.get(_TYPING)
    if typing is not None:
        cl.user_session.set(_TYPING, None)
        await typing.remove()


async def render(event: Event) -> None:
    """Renders one non-token event into the current Chainlit session."""
    match event.type:
        case "status_change":
            if event.mode != "waiting":
                await _drop_leave_button()
            await show_who_answers("waiting" if event.mode == "waiting" else "assistant")
            if event.mode in ("ai", "resolved"):
                cl.user_session.set(_STATUS, None)  # the next handoff gets a fresh status line
                await support_message(event.text, id=event.event_id).send()
            else:
                if event.mode == "waiting" and cl.user_session.get(_AGENT):
                    # A transfer: said once at the bottom of the chat; the queue gets a line of its own.
                    await _clear_typing()
                    cl.user_session.set(_AGENT, None)
                    cl.user_session.set(_STATUS, None)
                    await support_message(event.text, id=event.event_id).send()
                else:
                    await show_status(event.text, event.event_id)
        case "queue_position":
            status: cl.Message | None = cl.user_session.get(_STATUS)
            if status is not None and status.actions and status.content == queue_text(event):
                return  # said already (with several processes, every waiting customer hears of every change)
            if status is not None and status.actions:  # a queue line (it has the leave button): the place moved
                # A new line at the bottom, where the customer is looking.
                await _drop_leave_button()
                cl.user_session.set(_STATUS, None)
            await show_status(queue_text(event), event.event_id)
            shown: cl.Message | None = cl.user_session.get(_STATUS)
            if shown is not None and not shown.actions:
                shown.actions = [cl.Action(name=LEAVE_QUEUE, payload={}, label="I no longer need a person")]
                await shown.update()
        case "agent_joined":
            await _drop_leave_button()
            await show_who_answers("person")
            previous: str | None = cl.user_session.get(_AGENT)
            cl.user_session.set(_AGENT, event.agent_name)
            # Said where the customer is looking: a new line at the bottom, not an edit far above.
            waiting_line: cl.Message | None = cl.user_session.get(_STATUS)
            if waiting_line is not None and previous is None:  # the queue line is over; the new line says who
                waiting_line.content = "You're out of the queue."
                await waiting_line.update()
            handover = (
                f"{previous} passed you to {event.agent_name}. " if previous and previous != event.agent_name else ""
            )
            cl.user_session.set(_STATUS, None)
            await show_status(
                f"{handover}{event.agent_name} joined the conversation and can see everything so far.", event.event_id
            )
        case "agent_message":
            await _clear_typing()
            await cl.Message(
                id=event.message_id, author=event.agent_name, content=agent_text(event.agent_name, event.content)
            ).send()
        case "typing":
            if event.is_typing and cl.user_session.get(_TYPING) is None:
                typing = cl.Message(author=event.name, content="")
                cl.user_session.set(_TYPING, typing)
                await typing.stream_token(f"{event.name} is typing…")
            elif not event.is_typing:
                await _clear_typing()
        case "customer_message":
            agent = cl.user_session.get(_AGENT)
            where = f"Delivered to {agent}" if agent else "Delivered: the agent will see it as soon as they join"
            await cl.context.emitter.send_toast(where, "success")
        case "resolved":
            await _clear_typing()
            await show_who_answers("assistant")
            cl.user_session.set(_AGENT, None)
            ratings = [
                cl.Action(
                    name="rate", payload={"rating": stars}, label=f"{'★' * stars} {word}", tooltip=f"{stars} of 5"
                )
                for stars, word in enumerate(RATING_WORDS, start=1)
            ]
            prompt = support_message(
                "How did we do? One tap to rate this conversation.", actions=ratings, id=event.event_id
            )
            cl.user_session.set(RATING_PROMPT, prompt)
            await prompt.send()
        case "handed_back":
            await _clear_typing()
            cl.user_session.set(_AGENT, None)
        case "error":
            await support_message(event.message).send()


def live_sessions(thread_id: str) -> list[WebsocketSession]:
    """The thread's sessions, a disconnected one included until Chainlit clears it (it may come back)."""
    return [session for session in list(ws_sessions_id.values()) if session.thread_id == thread_id]


def still_open_text(ticket: TicketView) -> str:
    """Said in a new chat while another conversation of the customer's still has a person (or a queue)."""
    link = f"[Go back to that conversation](/thread/{ticket.thread_id})"
    if ticket.assigned_agent:
        return (
            f"You're still in a conversation with {ticket.assigned_agent} from our team. {link} to carry on with them."
        )
    return f"You're still waiting for a person in another conversation; your place is kept. {link} to see it."


def connected_socket_count() -> int:
    """Customer chat sockets connected to this process now."""
    return sum(1 for session in list(ws_sessions_id.values()) if sio.manager.is_connected(session.socket_id, "/"))


def connected_sessions(thread_id: str) -> list[WebsocketSession]:
    """The thread's sessions whose socket is connected right now."""
    return [session for session in live_sessions(thread_id) if sio.manager.is_connected(session.socket_id, "/")]


async def _in_session(session: WebsocketSession, work: Callable[[], Awaitable[None]]) -> None:
    async def in_context() -> None:
        init_ws_context(session)
        await work()

    # A fresh context: the message must not nest under whatever step the caller happens to be in.
    await asyncio.create_task(in_context(), context=contextvars.Context())


async def render_in_session(session: WebsocketSession, event: Event) -> None:
    """Renders an event that arrived from outside the customer's own turn (an agent, the queue)."""
    await _in_session(session, lambda: render(event))


async def show_in_other_tabs(thread_id: str, messages: list[cl.Message]) -> None:
    """A turn's messages in the chat's other open tabs, and in a tab reopened while the turn ran
    (its stored copy of the thread was read before the answer was finished). The same ids: a page
    that has a message already updates it, and the history stores it once."""
    here = cl.context.session.id

    async def send_copies() -> None:
        for message in messages:
            await cl.Message(
                id=message.id,
                author=message.author,
                content=message.content,
                type=message.type,
                metadata=message.metadata,
                created_at=message.created_at,
            ).send()

    for session in connected_sessions(thread_id):
        if session.id != here:
            await _in_session(session, send_copies)


def thread_renderer(thread_id: str) -> Callable[[Event], Awaitable[None]]:
    """A bus handler that renders a thread's events into every open chat of that thread."""

    async def handle(event: Event) -> None:
        for session in live_sessions(thread_id):
            await render_in_session(session, event)

    return handle
