"""The Chainlit app: customer chat at `/`, agent portal at `/portal`, one process. Hooks only."""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from functools import partial

import chainlit as cl
from chainlit.server import app as chainlit_app
from chainlit.server import sio as chainlit_sio
from chainlit.types import ThreadDict
from chainlit.utils import utc_now
from starlette.datastructures import Headers

from agent_portal.server import PortalServer
from chat.avatars import avatar_route
from chat.chainlit_ci import drop_placeholder_key
from chat.event_loop import restore_stock_asyncio
from chat.feedback import feedback_routes
from chat.history import ResumeLatestThread, create_history_tables, customer_threads, make_data_layer
from chat.identity import CustomerSignIn, customer_user, ensure_auth_secret
from chat.limits import limits_route
from chat.page_policy import SameOriginPages
from chat.render import (
    ASSISTANT,
    GREETING,
    LEAVE_QUEUE,
    RATING_PROMPT,
    connected_sessions,
    connected_socket_count,
    queue_text,
    remember_agent,
    remove_stop_notice,
    render,
    show_in_other_tabs,
    show_who_answers,
    still_open_text,
    support_message,
    thread_renderer,
    without_images,
)
from chat.resume import add_missing_messages, restore_status_line
from chat.session_guard import KnownSessionsOnly
from chat.subscriptions import ThreadSubscriptions
from chat.typing import typing_route
from engine.config import get_settings
from engine.logs import about_conversation, configure_logging
from engine.metrics import CHAT_SOCKETS
from engine.service import ActionRefused, ConversationService
from ops.endpoints import operator_routes
from ops.header_timeout import time_out_slow_request_heads
from ops.malformed_packets import quiet_malformed_frames
from ops.request_limits import BodyLimit
from ops.socket_handshake import close_unconnected_sockets

log = logging.getLogger("escalation_engine")
SEND_AGAIN = "send_again"  # the button on the notice that a customer's message did not reach us
UNDELIVERED = "undelivered"  # session key: message id -> (the message, its storable text) to send again
TURN_ORDER = "turn_order"  # session key: the lock that keeps the chat's turns in the order they were sent
restore_stock_asyncio()
dropped_placeholder_key = drop_placeholder_key()  # before the settings are read
settings = get_settings()
configure_logging(settings.log_format)
quiet_malformed_frames()
time_out_slow_request_heads(settings.request_head_seconds)
if dropped_placeholder_key:
    log.warning(
        "CI is set, so `chainlit run` replaced OPENAI_API_KEY with a placeholder; it is ignored. "
        "Put the key in .env or unset CI to use your LLM."
    )
ensure_auth_secret(settings.data_dir)
portal = PortalServer(settings)
for socket_server in (chainlit_sio, portal.sio):
    close_unconnected_sockets(socket_server)
CHAT_SOCKETS.set_function(connected_socket_count)

# Routes must sit ahead of Chainlit's catch-all GET route, which is registered before this file loads.
chainlit_app.router.routes[0:0] = [
    avatar_route,
    *feedback_routes,
    limits_route(settings),
    *portal.routes(),
    *operator_routes(settings, lambda: service),
]
chainlit_app.add_middleware(ResumeLatestThread, settings=settings)
chainlit_app.add_middleware(CustomerSignIn, id_header=settings.customer_id_header)
chainlit_app.add_middleware(SameOriginPages)
chainlit_app.add_middleware(BodyLimit)
chainlit_app.add_middleware(KnownSessionsOnly)

service: ConversationService | None = None
subscriptions: ThreadSubscriptions | None = None


def engine() -> ConversationService:
    assert service is not None, "the engine starts with the app"
    return service


chainlit_app.router.routes.insert(0, typing_route(settings, engine))


@cl.on_app_startup
async def start_engine() -> None:
    global service, subscriptions
    configure_logging(settings.log_format)  # again: uvicorn set up its own loggers since this file loaded
    try:
        await create_history_tables(settings)
        service = await ConversationService.open(settings)
        subscriptions = ThreadSubscriptions(service.bus, thread_renderer)
        await portal.start(service)
    except Exception:
        log.critical("the engine could not start", exc_info=True)
        raise SystemExit(1) from None  # Chainlit would swallow an Exception and serve a broken app


@cl.on_app_shutdown
async def stop_engine() -> None:
    await portal.stop()
    if service:
        await service.close()


@cl.data_layer
def history_layer() -> cl.data.BaseDataLayer:
    return make_data_layer(settings)


@cl.header_auth_callback
async def identify_customer(headers: Headers) -> cl.User | None:
    return customer_user(headers, settings.customer_id_header)


def _thread_id() -> str:
    return cl.context.session.thread_id


@cl.on_chat_start
async def open_chat() -> None:
    assert subscriptions is not None
    subscriptions.watch(_thread_id())
    await cl.Message(author=ASSISTANT, content=GREETING).send()
    user: cl.User | None = cl.user_session.get("user")
    elsewhere = await engine().open_ticket_among(await customer_threads(user.identifier)) if user else None
    if elsewhere and elsewhere.thread_id != _thread_id():  # "New chat" while a person is with them
        await support_message(still_open_text(elsewhere)).send()


@cl.on_chat_resume
async def reopen_chat(thread: ThreadDict) -> None:
    """Back after a refresh or a while away: the whole conversation, and where the handoff stands."""
    assert subscriptions is not None
    thread_id = thread["id"]
    subscriptions.watch(thread_id)
    await add_missing_messages(thread, await engine().history(thread_id))
    ticket = await engine().customer_presence(thread_id, online=True)
    if ticket and ticket.assigned_agent:
        remember_agent(ticket.assigned_agent)
        await restore_status_line(thread, f"You're chatting with {ticket.assigned_agent}.")
        await show_who_answers("person")
    elif ticket:
        await restore_status_line(thread, queue_text(await engine().queue_position(ticket)))
        await show_who_answers("waiting")


@cl.on_chat_end
async def leave_chat() -> None:
    """The tab closed or lost its connection: agents learn the customer left, unless another tab is open."""
    thread_id = _thread_id()
    if thread_id and not [tab for tab in connected_sessions(thread_id) if tab.id != cl.context.session.id]:
        await engine().customer_presence(thread_id, online=False)


def _in_turn_order() -> asyncio.Lock:
    """The chat's turns in the order they were sent. Chainlit runs each message as a task of its own; a
    message awaiting anything (the customer's other conversations, say) before the engine's thread lock
    could be overtaken by the next one. Taken before the hook's first await: asyncio's lock is FIFO."""
    lock: asyncio.Lock | None = cl.user_session.get(TURN_ORDER)
    if lock is None:
        lock = asyncio.Lock()
        cl.user_session.set(TURN_ORDER, lock)
    return lock


@cl.on_message
async def on_customer_message(message: cl.Message) -> None:
    async with _in_turn_order():
        await _take_customer_message(message)


async def _take_customer_message(message: cl.Message) -> None:
    said = [message]  # what the customer's other tabs should show when the turn is over
    stored, notices = engine().prepare_customer_text(message.content)
    shown = without_images(stored)  # the engine keeps the customer's words; the chat shows images as links
    if shown != message.content:
        message.content = shown  # Chainlit stored the message before this hook: the stored copy too
        await message.update()
    for notice in notices:
        await cl.context.emitter.send_toast(notice, "warning")
    with about_conversation(thread_id=_thread_id()):
        await _run_customer_turn(message, stored, said)


@cl.action_callback(SEND_AGAIN)
async def send_again(action: cl.Action) -> None:
    """The customer's retry of a message that did not reach us: the same message (same id) again."""
    undelivered: dict[str, tuple[cl.Message, str]] = cl.user_session.get(UNDELIVERED) or {}
    await action.remove()
    if (pending := undelivered.pop(action.payload.get("message_id", ""), None)) is None:
        await support_message("That message was sent already.").send()
        return
    message, stored = pending
    async with _in_turn_order():
        await message.update()  # Chainlit's own copy of it may not have been stored either
        with about_conversation(thread_id=_thread_id()):
            await _run_customer_turn(message, stored, [message])


async def _run_customer_turn(message: cl.Message, stored: str, said: list[cl.Message]) -> None:
    answer: cl.Message | None = None
    try:
        user: cl.User | None = cl.user_session.get("user")
        others = partial(customer_threads, user.identifier) if user else None
        async with aclosing(engine().customer_message(_thread_id(), stored, message.id, others)) as events:
            async for event in events:
                if event.type == "token_stream":
                    answer = answer or cl.Message(
                        id=event.message_id, author=ASSISTANT, content="", created_at=utc_now()
                    )
                    await answer.stream_token(event.token)
                elif event.type == "assistant_answer":
                    answer = answer or cl.Message(
                        id=event.message_id, author=ASSISTANT, content="", created_at=utc_now()
                    )
                    answer.content = event.content + _source_line(event.content, event.sources)
                    answer.content += "\n\n_(stopped)_" if event.stopped else ""
                    await answer.send()
                    said.append(answer)
                    answer = None
                else:
                    await render(event)
    except asyncio.CancelledError:
        # Chainlit cancelled us for the stop button; the engine kept the partial answer, and so do we.
        if answer is not None and answer.content:
            answer.content += "\n\n_(stopped)_"
            await asyncio.shield(answer.send())
            said.append(answer)
        raise
    except Exception:
        # Chainlit would show the customer the exception's text (SQL and its parameters included).
        log.exception("a customer message on thread %s failed", _thread_id())
        undelivered: dict[str, tuple[cl.Message, str]] = cl.user_session.get(UNDELIVERED) or {}
        undelivered[message.id] = (message, stored)
        cl.user_session.set(UNDELIVERED, undelivered)
        await support_message(
            "Sorry, your last message did not reach us: something failed on our side. "
            "Press **Send again** to retry it (nothing is sent twice).",
            actions=[cl.Action(name=SEND_AGAIN, payload={"message_id": message.id}, label="Send again")],
        ).send()
    finally:
        try:
            await asyncio.shield(show_in_other_tabs(_thread_id(), said))
        except Exception:  # the other tabs are a courtesy: their failure is not this turn's
            log.warning("could not show the turn in the chat's other tabs", exc_info=True)


@cl.on_stop
async def stop_answer() -> None:
    engine().stop(_thread_id())
    await remove_stop_notice()


def _source_line(content: str, sources: list[str]) -> str:
    """Names the help article the answer came from, unless the answer already does."""
    missing = [title for title in sources if title not in content]
    return f"\n\n_Source: {', '.join(missing)}_" if missing else ""


@cl.action_callback(LEAVE_QUEUE)
async def leave_queue(action: cl.Action) -> None:
    if await engine().leave_queue(_thread_id()) is None:
        await action.remove()
        await support_message(
            "There is no queue to leave any more: an agent has joined, or the request was closed."
        ).send()


@cl.action_callback("rate")
async def rate_conversation(action: cl.Action) -> None:
    prompt: cl.Message | None = cl.user_session.get(RATING_PROMPT)
    try:
        await engine().rate(_thread_id(), int(action.payload.get("rating", 0)))
    except (ActionRefused, ValueError, TypeError) as refused:
        await support_message(f"Your rating was not saved: {refused}").send()
        return
    finally:
        for button in prompt.actions if prompt else [action]:  # one rating per conversation
            await button.remove()
    await support_message("Thank you for your feedback!").send()
