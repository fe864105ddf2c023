"""The conversation service: the one async API the transports call, for customers and for agents.

It runs the graph (one run per thread at a time, across processes too), checks who may do what,
and turns what the graph did into events: yielded to the customer's own turn, published on the
bus for everything that happens outside it.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
import uuid
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, aclosing, asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command
from sqlalchemy import text as sql_text
from sqlalchemy.exc import DBAPIError

from .assignment import pick_agent
from .brief import MODEL_SUMMARY
from .bus import EventBus, make_bus
from .canned_replies import CannedReply, CannedReplyStore, ShortcutTaken, fill
from .checkpoints import PruneSchedule, keep_latest
from .config import Settings
from .events import (
    PORTAL_TOPIC,
    AgentJoined,
    AgentMessage,
    AssistantAnswer,
    CopilotSuggestion,
    CustomerMessage,
    CustomerPresence,
    ErrorEvent,
    EscalationRequest,
    Event,
    HandedBack,
    QueuePosition,
    Resolved,
    StatusChange,
    TicketUpdated,
    TicketView,
    TokenStream,
    Typing,
    thread_topic,
)
from .facts import customer_facts, mask_card_numbers
from .graph import ChatMessage, EngineContext, answer_id, build_graph, now_iso
from .handoff_tool import handoff_tool
from .knowledge import KnowledgeBase
from .llm_errors import LLM_ERRORS
from .logs import about_conversation, learn_conversation
from .metrics import (
    CONVERSATIONS,
    CSAT_RATING,
    FIRST_RESPONSE_SECONDS,
    LLM_FAILURES,
    TURN_SECONDS,
    WAIT_SECONDS,
    count_escalation,
    exposition,
)
from .models import make_chat_model
from .outbox import DurableOutbox
from .prompts import copilot_prompt, summary_prompt
from .queue import places
from .readiness import failing_parts
from .reports import CUSTOMER_LEFT, CUSTOMER_RETURNED, ReportReader
from .search import Scope, TicketSearch
from .signals import sentiment
from .storage import make_lock_engine, make_sql_engine, open_checkpointer
from .text import storable
from .tickets import (
    ASSIGNED,
    HANDED_BACK,
    RESOLVED,
    WAITING,
    WITHDRAWN,
    AgentProfile,
    TicketStore,
)
from .transcript import TranscriptStore
from .understanding import Understanding, load_understanding

log = logging.getLogger(__name__)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        # A coroutine has a __qualname__; typeshed's Coroutine and Generator do not declare one.
        log.error("background task %s failed", task.get_coro().__qualname__, exc_info=error)  # type: ignore[union-attr]


# How long a stopped turn may take to wind down on its own before it is cancelled outright.
TURN_STOP_GRACE_SECONDS = 5.0


class ActionRefused(Exception):
    """A request a customer or agent may not make now; the message says why. Nothing changed."""


def _waiting_text(reason: str | None) -> str:
    if reason == "assistant_unavailable":
        return "Our assistant is unavailable right now, so I'm connecting you to a person."
    return "Connecting you to an agent. They will see everything you've told us, so you won't need to repeat it."


# An assignment pass that lost races is run again, at most this many times per trigger: every trigger
# (a new ticket, a freed slot, the portal's heartbeat) starts another.
_ASSIGNMENT_PASSES = 5
# The customer's wait estimate uses the median handle time of the latest resolved conversations, once
# there are enough of them to say something.
_HANDLE_SAMPLE, _HANDLE_SAMPLE_MIN, _HANDLE_ESTIMATE_SECONDS = 50, 5, 60.0
PRESENCE_SECONDS = 45.0  # an agent counts as on duty this long after a process last saw their portal open
DRAFT, REPLIED = "draft", "replied"  # audit-trail kinds: a copilot draft was written, an agent replied


class ConversationService:
    def __init__(
        self, settings: Settings, checkpointer: Any, sql_engine: Any, bus: EventBus, understanding: Understanding
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.tickets = TicketStore(sql_engine)
        self.transcript = TranscriptStore(sql_engine)
        self.reports = ReportReader(sql_engine)
        self.canned_replies = CannedReplyStore(sql_engine)
        self.search = TicketSearch(sql_engine)
        self.knowledge = KnowledgeBase(settings.kb_dir, settings.model_cache_path)
        self.model = make_chat_model(settings, self.knowledge, understanding.turns.handoff_words)
        answer_model = self.model.bind_tools([handoff_tool(settings.skills)])
        self.context = EngineContext(
            settings, self.knowledge, understanding, self.model, answer_model, self.tickets, self.transcript
        )
        self.graph = build_graph().compile(checkpointer=checkpointer)
        self._sql_engine = sql_engine
        self._checkpointer = checkpointer
        self._lock_engine = make_lock_engine(settings) if settings.uses_postgres else None
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._background: set[asyncio.Task[None]] = set()
        self._stack: AsyncExitStack | None = None
        self._single_process = not settings.redis_url
        self._announced_positions: dict[str, int] = {}  # ticket id -> the place its customer was last told
        self._prunes = PruneSchedule(settings.checkpoint_prune_turns)
        self._handle_estimate: tuple[float, float] | None = None  # (monotonic time read, seconds)
        self._assigning = False  # an assignment pass runs in this process
        self._assign_again = False  # something changed during it: run another

    @classmethod
    async def open(cls, settings: Settings) -> ConversationService:
        """Connects the databases and the bus; `close()` releases them."""
        # Trained in a thread (seconds, the first time for a corpus): the event loop keeps serving.
        understanding = await asyncio.to_thread(load_understanding, settings.model_cache_path, settings.intent_examples)
        stack = AsyncExitStack()
        sql_engine = make_sql_engine(settings)
        stack.push_async_callback(sql_engine.dispose)
        checkpointer = await open_checkpointer(settings, stack)
        outbox = DurableOutbox(sql_engine) if settings.uses_postgres else None
        if outbox is not None and settings.redis_url:
            await outbox.create_table()
        bus = make_bus(settings.redis_url, outbox)
        await bus.start()
        stack.push_async_callback(bus.close)
        service = cls(settings, checkpointer, sql_engine, bus, understanding)
        service._stack = stack
        if service._lock_engine is not None:
            stack.push_async_callback(service._lock_engine.dispose)
        await service.tickets.create_tables()
        await service.repair_interrupted_escalations()
        return service

    async def repair_interrupted_escalations(self) -> int:
        """Completes the runs a crash cut short after their ticket was written and before the thread
        paused for a person, and announces those tickets; returns how many. Run at start, so a ticket is
        never left in the queue with a conversation no agent can join."""
        repaired = 0
        for ticket in await self.tickets.open_tickets((WAITING,)):
            try:
                async with self._thread_lock(ticket.thread_id):
                    if await self._paused_for_human(ticket.thread_id):
                        continue
                    if not await self._finish_interrupted_run(ticket.thread_id):
                        await self._close_left_behind(ticket)
                        continue
            except Exception:  # one conversation that cannot be repaired must not keep the service from starting
                log.exception("could not repair the conversation of ticket %s", ticket.id)
                continue
            await self.bus.publish(PORTAL_TOPIC, EscalationRequest(thread_id=ticket.thread_id, ticket=ticket))
            repaired += 1
        return repaired

    async def _close_left_behind(self, ticket: TicketView) -> None:
        """A waiting ticket whose conversation went back to the assistant after it was opened (a crash
        between the withdrawal and closing the ticket) closes as withdrawn: no agent could join it."""
        snapshot = await self.graph.aget_state(self._config(ticket.thread_id))
        if snapshot.next or snapshot.values.get("mode") != "ai":
            return
        if await self._close_as_withdrawn(ticket):
            log.warning("closed ticket %s as withdrawn: its conversation had left the queue", ticket.id)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._stack:
            await self._stack.aclose()

    # ----- runs -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _thread_lock(self, thread_id: str) -> AsyncIterator[None]:
        """Serialises runs of one thread: an asyncio lock here, a Postgres advisory lock across processes."""
        lock = self._locks.get(thread_id)
        if lock is None:
            lock = self._locks[thread_id] = asyncio.Lock()
        async with lock:
            if self._lock_engine is None:  # not on Postgres: this process is the only one
                yield
                return
            # A transaction-scoped lock is released by the rollback even when the run is cancelled. Its
            # connection comes from a pool of its own: the run needs the work pool for itself.
            async with self._lock_engine.connect() as connection:
                transaction = await connection.begin()
                await connection.execute(sql_text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": thread_id})
                try:
                    yield
                finally:
                    try:
                        await asyncio.shield(transaction.rollback())
                    except DBAPIError:
                        # Postgres ended the lock's connection (a failover, a restart): the lock went with
                        # it, and the run's own work, stored through other connections, stands.
                        log.warning("the lock of thread %s was lost with its connection", thread_id)

    def _config(self, thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}}

    async def _paused_for_human(self, thread_id: str) -> bool:
        snapshot = await self.graph.aget_state(self._config(thread_id))
        return "human" in snapshot.next

    async def _finish_interrupted_run(self, thread_id: str) -> bool:
        """Completes a run that a crash cut short between opening the ticket and pausing the thread
        (the escalate node reuses the ticket it opened); True if the thread now waits for a person.
        The caller holds the thread lock.

        A turn's checkpoint is written at its end, so such a crash mostly leaves no trace of the run
        but its ticket: the thread is then set as the escalate node would have left it, from the ticket."""
        config = self._config(thread_id)
        snapshot = await self.graph.aget_state(config)
        if not snapshot.next:
            ticket = await self.tickets.open_for_thread(thread_id)
            # Only a ticket opened after the thread's latest checkpoint: one from before it was left
            # open by a crash after the thread moved on (a withdrawal), not by the run that opened it.
            checkpointed = datetime.fromisoformat(snapshot.created_at) if snapshot.created_at else None
            if ticket is None or (checkpointed is not None and checkpointed > ticket.waiting_since):
                return False
            brief = await self.tickets.brief(ticket.id)
            escalated = {"mode": "waiting", "brief": brief, "ticket_id": ticket.id, "assigned_agent": None}
            await self.graph.aupdate_state(
                config, {**escalated, "escalation_reason": ticket.reason, "last_action": None}, as_node="escalate"
            )
        log.warning("completing the run of thread %s that stopped before pausing for a person", thread_id)
        async for _ in self.graph.astream(None, config, context=self.context):
            pass
        return await self._paused_for_human(thread_id)

    async def state(self, thread_id: str) -> dict[str, Any]:
        """The thread's current state values (empty for a thread never seen)."""
        return (await self.graph.aget_state(self._config(thread_id))).values

    async def history(self, thread_id: str) -> list[ChatMessage]:
        """Everything said in the thread, in order: customer, assistant and agents."""
        return await self.transcript.read(thread_id)  # type: ignore[return-value]

    def _spawn(self, coroutine: Any) -> None:
        """Runs work nobody waits for (copilot drafts, summaries); a failure is logged, not lost."""
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    # ----- operating it -----------------------------------------------------------------------

    async def readiness(self) -> dict[str, str]:
        """The parts that do not answer now (database, checkpointer, Redis), each with why; empty when ready."""
        return await failing_parts(self._sql_engine, self._checkpointer, self.bus)

    async def metrics(self) -> tuple[bytes, str]:
        """This process's metrics in Prometheus's text format, the queue read from the shared database."""
        try:
            waiting = await self.tickets.open_tickets((WAITING,))
        except Exception:  # the counters are still worth scraping; the queue gauge goes absent, not stale
            log.warning("could not read the queue for /metrics", exc_info=True)
            waiting = None
        return exposition(waiting, self.settings.skills)

    # ----- the customer -----------------------------------------------------------------------

    @staticmethod
    def prepare_customer_text(text: str) -> tuple[str, list[str]]:
        """The text as it will be stored, and what to tell the customer about how it changed."""
        notices = []
        if (masked := mask_card_numbers(text)) != text:
            notices.append("We hid your card number. Please never share it in a chat.")
        if (cleaned := storable(masked)) != masked:
            notices.append("We removed characters from your message that we cannot store (such as control characters).")
        return cleaned, notices

    def check_customer_text(self, text: str) -> str | None:
        """Why this text cannot be accepted, or None when it can."""
        if len(text) > self.settings.max_message_chars:
            return (
                f"Your message is {len(text):,} characters long; the limit is {self.settings.max_message_chars:,}. "
                "It was not passed on: copy it from above to shorten it or split it into parts."
            )
        return None

    async def customer_message(
        self,
        thread_id: str,
        text: str,
        message_id: str | None = None,
        other_threads: Callable[[], Awaitable[Sequence[str]]] | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Handles one customer message, yielding this turn's events as they happen, tokens included.

        An empty message is ignored; one over the size limit yields an error and stores nothing. The
        front end names the message; a name already recorded from another thread or with other words is
        not the client's to reuse: it gets a fresh one. The same message sent again (the customer's retry
        after a failure) is ignored once the conversation holds it, and finishes a turn that was cut short.
        `other_threads` finds the customer's other conversations (asked only for a turn the assistant
        takes): asking for a person here while one of them has an open ticket joins that ticket instead
        of opening a second one.
        """
        text = self.prepare_customer_text(text)[0].strip()  # whatever the transport: no card number, nothing unstorable
        if not text:
            return
        if problem := self.check_customer_text(text):
            yield ErrorEvent(thread_id=thread_id, message=problem)
            return
        recorded = await self.transcript.find(message_id) if message_id else None
        if recorded is not None and recorded != (thread_id, text):
            message_id, recorded = None, None
        message: ChatMessage = {
            "id": message_id or str(uuid.uuid4()),
            "role": "customer",
            "author": "Customer",
            "content": text,
            "at": now_iso(),
        }
        received = time.perf_counter()
        async with self._thread_lock(thread_id):
            snapshot = await self.graph.aget_state(self._config(thread_id))
            if not snapshot.values:
                CONVERSATIONS.inc()
            handling: Callable[[str, ChatMessage], AsyncGenerator[Event, None]]
            if "human" in snapshot.next:
                if recorded:  # the person has it already
                    return
                handling = self._customer_to_agent
            elif snapshot.values.get("message", {}).get("id") == message["id"]:  # this message's run is stored
                if not snapshot.next:  # and answered
                    return
                handling = partial(self._assistant_turn, cut_short=True)  # it failed before its end: finish it
            elif recorded and await self.transcript.find(answer_id(message["id"])):
                return  # answered, in a turn since followed by others (the chat failed after the answer)
            # A message recorded without a stored run was cut short by a crash (a turn's checkpoint is
            # written at its end): it is taken again from the start, recording it again changes nothing.
            elif other_threads and (elsewhere := await self._open_elsewhere(thread_id, other_threads)):
                handling = partial(self._assistant_turn, open_elsewhere=elsewhere)
            else:
                handling = self._assistant_turn
            # The turn runs in a task of its own and stops through its stop signal, which the answer
            # node watches beside the LLM stream: so stopping works wherever our consumer is suspended.
            stop = self.context.stop_requests[thread_id] = asyncio.Event()
            events: asyncio.Queue[Event | None] = asyncio.Queue()
            turn = asyncio.create_task(self._run_turn(thread_id, handling(thread_id, message), events))
            try:
                if (event := await events.get()) is not None:
                    TURN_SECONDS.observe(time.perf_counter() - received)
                    yield event
                while (event := await events.get()) is not None:
                    yield event
                turn.result()  # a failure of the turn is the caller's failure too
                self._turn_done(thread_id)
            finally:
                if not turn.done():  # our consumer went away mid-turn (the stop button closed it)
                    stop.set()
                    try:
                        await asyncio.wait_for(asyncio.shield(turn), TURN_STOP_GRACE_SECONDS)
                    except TimeoutError:
                        turn.cancel()
                    await asyncio.gather(turn, return_exceptions=True)
                if self.context.stop_requests.get(thread_id) is stop:
                    del self.context.stop_requests[thread_id]

    @staticmethod
    async def _run_turn(thread_id: str, turn: AsyncGenerator[Event, None], events: asyncio.Queue[Event | None]) -> None:
        try:
            with about_conversation(thread_id=thread_id):
                async with aclosing(turn) as produced:
                    async for event in produced:
                        events.put_nowait(event)
        finally:
            events.put_nowait(None)

    def stop(self, thread_id: str) -> bool:
        """The customer's stop button: ends the running answer now, keeping what was said. False if none runs."""
        stop = self.context.stop_requests.get(thread_id)
        if stop is None or stop.is_set():
            return False
        stop.set()
        return True

    async def _assistant_turn(
        self,
        thread_id: str,
        message: ChatMessage,
        *,
        left_queue: bool = False,
        cut_short: bool = False,
        open_elsewhere: TicketView | None = None,
    ) -> AsyncGenerator[Event, None]:
        """The assistant's turn; `left_queue`: with this message the customer just left the queue;
        `cut_short`: the thread holds the message already, its run stopped early and goes on;
        `open_elsewhere`: another conversation of the customer's has this open ticket, which a request
        for a person joins (the run stops before opening a ticket of its own)."""
        answering = answer_id(message["id"])
        # Given a list of stream modes, astream is an async generator of (mode, payload) pairs; langgraph
        # types it as an AsyncIterator of dict | Any.
        run = cast(
            AsyncGenerator[tuple[str, Any], None],
            self.graph.astream(
                None if cut_short else {"message": message, "left_queue": left_queue},
                self._config(thread_id),
                context=self.context,
                stream_mode=["messages", "custom", "updates"],
                interrupt_before=["escalate"] if open_elsewhere else None,
                # One checkpoint per turn, at its end (or its pause for a person), not one per step: the
                # transcript holds the turn's messages first, and a turn a crash cuts short is taken again.
                durability="exit",
            ),
        )
        escalated: dict[str, Any] | None = None
        async with aclosing(run) as updates:
            async for mode, payload in updates:
                if mode == "messages":
                    chunk, metadata = payload
                    if metadata.get("langgraph_node") == "answer" and chunk.content:
                        yield TokenStream(thread_id=thread_id, message_id=answering, token=str(chunk.content))
                    continue
                if mode == "custom":  # the answer node's reply
                    yield AssistantAnswer(
                        thread_id=thread_id,
                        message_id=payload["id"],
                        content=payload["content"],
                        sources=payload.get("sources", []),
                        stopped=payload.get("stopped", False),
                    )
                    continue
                if "escalate" in payload:
                    escalated = payload["escalate"]
        if open_elsewhere and "escalate" in (await self.graph.aget_state(self._config(thread_id))).next:
            if joined := await self._join_open_ticket(thread_id, message, open_elsewhere):
                yield joined
            else:  # that ticket closed meanwhile: this conversation gets a ticket of its own
                async for event in self._assistant_turn(thread_id, message, cut_short=True):
                    yield event
            return
        # Announced once the run has ended paused for a person, with that checkpoint written: an agent
        # never sees a ticket whose conversation cannot yet be claimed.
        if escalated is not None:
            for event in await self._announce_escalation(thread_id, escalated):
                yield event

    async def _join_open_ticket(
        self, thread_id: str, message: ChatMessage, ticket: TicketView
    ) -> AssistantAnswer | None:
        """Passes the message to the customer's open ticket in their other conversation, ends this run
        without a ticket of its own, and says where the conversation with a person goes on. None if
        that ticket is no longer open."""
        async with self._thread_lock(ticket.thread_id):
            current = await self.tickets.open_for_thread(ticket.thread_id)
            if current is None:
                return None
            passed_on: ChatMessage = {**message, "id": str(uuid.uuid4())}  # an id of that conversation's own
            async for _ in self._customer_to_agent(ticket.thread_id, passed_on):
                pass
        who = current.assigned_agent or "our team"
        reply: ChatMessage = {
            "id": answer_id(message["id"]),
            "role": "assistant",
            "author": "Assistant",
            "content": (
                f"You already have a conversation open with {who}, so I've passed this message on there "
                f"instead of starting a second one. [Continue that conversation](/thread/{ticket.thread_id})"
            ),
            "at": now_iso(),
        }
        # As if the answer node had said it: the run ends here, with no ticket of this conversation's own.
        await self.graph.aupdate_state(
            self._config(thread_id), {"escalation_reason": None, "window": None}, as_node="answer"
        )
        await self.transcript.record(thread_id, [reply])
        return AssistantAnswer(thread_id=thread_id, message_id=reply["id"], content=reply["content"], sources=[])

    async def _announce_escalation(self, thread_id: str, update: dict[str, Any]) -> list[Event]:
        """Tells the agents about the new ticket; returns what the customer is shown."""
        ticket = await self.tickets.get(update["ticket_id"])
        assert ticket is not None, "the escalate node opened this ticket"
        learn_conversation(ticket_id=ticket.id)
        count_escalation(ticket)
        await self.bus.publish(PORTAL_TOPIC, EscalationRequest(thread_id=thread_id, ticket=ticket))
        place = await self._announce_queue(newsworthy=ticket) or await self.queue_position(ticket)
        self.assign_soon()
        if self.settings.uses_llm_endpoint and MODEL_SUMMARY not in ticket.summary:  # not summarised by its tool call
            self._spawn(self._refine_summary(ticket))
        return [
            StatusChange(thread_id=thread_id, mode="waiting", text=_waiting_text(ticket.reason)),
            place,
        ]

    async def queue_position(self, ticket: TicketView) -> QueuePosition:
        waiting = await self.tickets.open_tickets((WAITING,))
        return self._at_position(
            ticket, places(waiting).get(ticket.id, 1), await self._on_duty(), await self._handle_seconds()
        )

    async def agents_present(self, process_id: str, names: set[str]) -> None:
        """The portal's heartbeat: these agents have it open on that process now."""
        await self.tickets.mark_present(process_id, names)

    async def _on_duty(self) -> list[AgentProfile]:
        """The agents with the portal open now, on any process, and not away."""
        return [agent for agent in await self.agents_online() if not agent.away]

    async def agents_online(self) -> list[AgentProfile]:
        """Every agent with the portal open now, on any process (`away` says who set Away)."""
        present = await self.tickets.present_agents(PRESENCE_SECONDS)
        return [agent for agent in await self.tickets.agents() if agent.name in present] if present else []

    async def set_availability(self, agent: AgentProfile, away: bool) -> AgentProfile:
        """Available or Away: an away agent gets no assignments and is not counted on duty."""
        updated = await self.tickets.set_away(agent.name, away)
        if updated is None:
            raise ActionRefused("your agent account no longer exists")
        if not away:
            self.assign_soon()
        return updated

    def assign_soon(self) -> None:
        """Runs an assignment pass in the background (ASSIGNMENT=auto): something that frees an agent
        or adds a ticket calls this; it never waits for it (a claim takes the thread's lock)."""
        if self.settings.assignment == "auto":
            self._spawn(self._assign_waiting())

    async def _assign_waiting(self) -> None:
        """Gives waiting tickets, in queue order, to available agents with their skill and a free slot.
        Passes in one process are coalesced; across processes the claim's conditional UPDATE decides,
        so a ticket is assigned once and no agent goes over `max_chats`."""
        self._assign_again = True
        if self._assigning:
            return
        self._assigning = True
        try:
            passes = 0
            while self._assign_again and passes < _ASSIGNMENT_PASSES:
                self._assign_again = False
                passes += 1
                await self._assignment_pass()
        finally:
            self._assigning = False

    async def _assignment_pass(self) -> None:
        available = await self._on_duty()
        if not available:
            return
        holding, last_assigned = await self.tickets.workload()
        for ticket in await self.tickets.open_tickets((WAITING,)):
            agent = pick_agent(ticket, available, holding, last_assigned)
            if agent is None:
                continue
            try:
                await self.claim(ticket.id, agent, automatic=True)
            except ActionRefused as refused:  # taken by another process, or the agent filled up there
                log.info("could not assign ticket %s to %s: %s", ticket.id, agent.name, refused)
                self._assign_again = True
                holding, last_assigned = await self.tickets.workload()
                continue
            holding[agent.name] = holding.get(agent.name, 0) + 1
            last_assigned[agent.name] = datetime.now(UTC)

    async def _handle_seconds(self) -> float:
        """How long a conversation with a person takes here: the median of the latest resolved ones
        (read at most once a minute), or AVERAGE_HANDLE_MINUTES until there are enough of them."""
        now = time.monotonic()
        if self._handle_estimate is None or now - self._handle_estimate[0] > _HANDLE_ESTIMATE_SECONDS:
            recent = await self.tickets.recent_handle_seconds(_HANDLE_SAMPLE)
            measured = statistics.median(recent) if len(recent) >= _HANDLE_SAMPLE_MIN else None
            self._handle_estimate = (now, measured or self.settings.average_handle_minutes * 60)
        return self._handle_estimate[1]

    def _at_position(
        self, ticket: TicketView, position: int, on_duty: list[AgentProfile], handle_seconds: float
    ) -> QueuePosition:
        """The customer's place, and a wait estimated from the agents who could take the ticket now."""
        self._announced_positions[ticket.id] = position
        able = sum(1 for agent in on_duty if agent.is_supervisor or set(agent.skills) & set(ticket.skills))
        wait = position * handle_seconds / able if able else 0
        hours, now = self.settings.business_hours, datetime.now(UTC)
        closed = hours is not None and not hours.is_open(now)
        return QueuePosition(
            thread_id=ticket.thread_id,
            ticket_id=ticket.id,
            position=position,
            estimated_wait_seconds=int(wait),
            agents_online=able,
            opens_at=hours.next_opening(now).isoformat() if hours and closed else None,
            business_hours=hours.text if hours and closed else None,
        )

    async def _announce_queue(self, newsworthy: TicketView | None = None) -> QueuePosition | None:
        """Tells each waiting customer whose place changed their new place after the queue moved, but
        `newsworthy`'s customer, whom the caller tells with its own news: returns that place, if it waits.

        One query for the whole queue. In a single process, a customer whose place is what they were
        last told hears nothing (with hundreds waiting, every escalation would otherwise message them
        all); across processes each one only knows what it said itself, so everyone is told."""
        waiting = await self.tickets.open_tickets((WAITING,))
        on_duty = await self._on_duty()
        handle_seconds = await self._handle_seconds()
        still_waiting = {ticket.id for ticket in waiting}
        for ticket_id in [known for known in self._announced_positions if known not in still_waiting]:
            del self._announced_positions[ticket_id]
        positions = places(waiting)
        news: QueuePosition | None = None
        for ticket in waiting:
            position = positions[ticket.id]
            if newsworthy and ticket.id == newsworthy.id:
                news = self._at_position(ticket, position, on_duty, handle_seconds)
            elif not (self._single_process and self._announced_positions.get(ticket.id) == position):
                await self.bus.publish(
                    thread_topic(ticket.thread_id), self._at_position(ticket, position, on_duty, handle_seconds)
                )
        return news

    async def _customer_to_agent(self, thread_id: str, message: ChatMessage) -> AsyncGenerator[Event, None]:
        ticket = await self.tickets.open_for_thread(thread_id)
        assert ticket is not None, "a thread paused for a human has an open ticket"
        if ticket.status == WAITING and self._withdraws(message["content"]):
            # "never mind, found it" while nobody has joined yet: out of the queue, and the assistant
            # takes the message as its own turn (it answers a question that came with it).
            yield await self._withdraw(ticket)
            async for event in self._assistant_turn(thread_id, message, left_queue=True):
                yield event
            return
        await self._resume(
            thread_id, {"kind": "customer_message", "message": message, "sentiment": sentiment(message["content"])}
        )
        delivered = CustomerMessage(
            thread_id=thread_id, ticket_id=ticket.id, message_id=message["id"], content=message["content"]
        )
        await self.bus.publish(PORTAL_TOPIC, delivered)
        yield delivered
        await self._update_facts(ticket, message["content"])
        if ticket.assigned_agent:
            self._spawn(self._draft_reply(ticket))

    async def _update_facts(self, ticket: TicketView, text: str) -> None:
        """A name or order number given while waiting reaches the ticket's brief too."""
        if not customer_facts([text]):
            return
        history = await self.transcript.read(ticket.thread_id)
        facts = customer_facts([m["content"] for m in history if m["role"] == "customer"])
        if facts != ticket.customer_facts:
            updated = await self.tickets.update_facts(ticket.id, facts)
            if updated:
                await self.bus.publish(PORTAL_TOPIC, TicketUpdated(thread_id=ticket.thread_id, ticket=updated))

    async def _open_elsewhere(
        self, thread_id: str, other_threads: Callable[[], Awaitable[Sequence[str]]]
    ) -> TicketView | None:
        return await self.tickets.open_among([other for other in await other_threads() if other != thread_id])

    async def open_ticket_among(self, thread_ids: list[str]) -> TicketView | None:
        """The open ticket (waiting or with a person) of any of these conversations of one customer."""
        return await self.tickets.open_among(thread_ids)

    async def customer_presence(self, thread_id: str, online: bool) -> TicketView | None:
        """Tells the agents whether the customer of an open ticket still has the chat open; returns
        that ticket, if there is one."""
        ticket = await self.tickets.open_for_thread(thread_id)
        if ticket:
            if ticket.status == WAITING:  # a customer who leaves before anyone joins abandoned the wait (reports)
                await self.tickets.note(ticket.id, "customer", CUSTOMER_RETURNED if online else CUSTOMER_LEFT, {})
            await self.bus.publish(
                PORTAL_TOPIC, CustomerPresence(thread_id=thread_id, ticket_id=ticket.id, online=online)
            )
        return ticket

    async def customer_typing(self, thread_id: str, is_typing: bool) -> None:
        ticket = await self.tickets.open_for_thread(thread_id)
        if ticket and ticket.assigned_agent:
            await self.bus.publish(
                PORTAL_TOPIC, Typing(thread_id=thread_id, who="customer", name="Customer", is_typing=is_typing)
            )

    async def rate(self, thread_id: str, rating: int) -> TicketView:
        """Stores the customer's 1–5 satisfaction rating on the thread's resolved ticket."""
        ticket = await self.tickets.latest_for_thread(thread_id)
        if ticket is None or ticket.status != RESOLVED:
            raise ActionRefused("there is no resolved conversation to rate")
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ActionRefused("a rating is a whole number from 1 to 5")
        rated = await self.tickets.rate(ticket.id, rating)
        if rated is None:  # one rating per conversation: the first one counts
            raise ActionRefused("this conversation was already rated; thank you")
        CSAT_RATING.observe(rating)
        await self.bus.publish(PORTAL_TOPIC, TicketUpdated(thread_id=thread_id, ticket=rated))
        return rated

    def _withdraws(self, text: str) -> bool:
        """Whether a message written while waiting says the customer no longer needs a person. It reads
        as it did in the corpus: after the waiting notice, so as a turn after a message of ours."""
        reading = self.context.understanding.turns.read(text, after_answer=True)
        return reading["withdraw"] >= self.settings.withdraw_probability

    async def leave_queue(self, thread_id: str) -> TicketView | None:
        """The customer no longer needs a person: their ticket, if it still waits, closes as withdrawn
        and the assistant is back. None when no ticket of theirs waits (an agent already has it)."""
        async with self._thread_lock(thread_id):  # a claim takes it too: the two cannot interleave
            ticket = await self.tickets.open_for_thread(thread_id)
            if ticket is None or ticket.status != WAITING or not await self._paused_for_human(thread_id):
                return None
            left = await self._withdraw(ticket)
        await self.bus.publish(thread_topic(thread_id), left)
        return await self.tickets.get(ticket.id)

    async def _withdraw(self, ticket: TicketView) -> StatusChange:
        """Closes the waiting ticket as withdrawn and puts the assistant back; returns what the customer
        is told. The caller holds the thread lock, so no claim can run meanwhile."""
        await self._resume(ticket.thread_id, {"kind": "withdraw"})
        closed = await self._close_as_withdrawn(ticket)
        assert closed, "no claim can run while the thread lock is held"
        left = "You've left the queue, so no one will join. I'm here if you need anything else."
        return StatusChange(thread_id=ticket.thread_id, mode="ai", text=left)

    async def _close_as_withdrawn(self, ticket: TicketView) -> bool:
        """Closes the ticket as withdrawn if it still waits, tells the agents and moves the queue up."""
        withdrawn = await self.tickets.close(ticket.id, "customer", WITHDRAWN, only_from=(WAITING,))
        if withdrawn is None:
            return False
        await self.bus.publish(PORTAL_TOPIC, TicketUpdated(thread_id=ticket.thread_id, ticket=withdrawn))
        await self._announce_queue()  # those behind move up
        return True

    # ----- agents -----------------------------------------------------------------------------

    async def _resume(self, thread_id: str, action: dict[str, Any]) -> None:
        """Resumes the paused thread with one action; the caller holds the thread lock."""
        async for _ in self.graph.astream(Command(resume=action), self._config(thread_id), context=self.context):
            pass
        if action["kind"] in ("resolve", "hand_back", "withdraw"):  # closed: only the final checkpoint is kept
            self._spawn(self._prune_checkpoints(thread_id))
        else:
            self._turn_done(thread_id)

    def _turn_done(self, thread_id: str) -> None:
        if self._prunes.turn_done(thread_id):
            self._spawn(self._prune_checkpoints(thread_id))

    async def _prune_checkpoints(self, thread_id: str) -> None:
        """Deletes the thread's superseded checkpoints, between its runs (under the thread's lock)."""
        async with self._thread_lock(thread_id):
            await keep_latest(self._checkpointer, thread_id)

    async def _held_ticket(
        self, ticket_id: str, agent: AgentProfile, *, read_only: bool = False, preview: bool = False
    ) -> TicketView:
        """The ticket, if this agent holds it now (or, to read it, is a supervisor; or, with `preview`,
        it waits and the agent has one of its skills); else refused."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise ActionRefused(f"ticket {ticket_id} does not exist")
        learn_conversation(thread_id=ticket.thread_id, ticket_id=ticket.id)
        holds_it = ticket.status == ASSIGNED and ticket.assigned_agent == agent.name
        could_claim = ticket.status == WAITING and bool(set(ticket.skills) & set(agent.skills))
        if holds_it or (read_only and agent.is_supervisor) or (preview and could_claim):
            return ticket
        if ticket.status == WAITING:
            raise ActionRefused(f"ticket {ticket_id} is waiting in the queue; claim it first")
        if ticket.status != ASSIGNED:
            raise ActionRefused(f"ticket {ticket_id} is {ticket.status.replace('_', ' ')}; it takes no more actions")
        raise ActionRefused(f"ticket {ticket_id} is held by {ticket.assigned_agent}, not by you")

    @asynccontextmanager
    async def _holding(self, ticket_id: str, agent: AgentProfile) -> AsyncIterator[TicketView]:
        """The ticket, under its thread's lock, re-checked there: this agent holds it and the thread is
        paused for a person. Everything done inside happens before any other run of the thread."""
        ticket = await self._held_ticket(ticket_id, agent)
        async with self._thread_lock(ticket.thread_id):
            ticket = await self._held_ticket(ticket_id, agent)
            if not await self._paused_for_human(ticket.thread_id):
                raise ActionRefused(f"the conversation of ticket {ticket.id} is not waiting for an agent")
            yield ticket

    async def claim(self, ticket_id: str, agent: AgentProfile, *, automatic: bool = False) -> TicketView:
        """Gives the ticket to this agent (`automatic`: by automatic assignment). Of agents racing for
        one ticket exactly one succeeds, and an agent never holds more than their `max_chats`."""
        waiting = await self.tickets.get(ticket_id)
        if waiting is None:
            raise ActionRefused(f"ticket {ticket_id} does not exist")
        async with self._thread_lock(waiting.thread_id):
            current_skills = (await self.tickets.get(ticket_id) or waiting).skills  # a transfer may have moved it
            if not agent.is_supervisor and not set(current_skills) & set(agent.skills):
                raise ActionRefused(
                    f"ticket {ticket_id} needs {' or '.join(current_skills)}; your skills are {', '.join(agent.skills)}"
                )
            # The conditional UPDATE decides.
            ticket = await self.tickets.claim(ticket_id, agent.name, agent.max_chats, automatic=automatic)
            if ticket is None:
                current = await self.tickets.get(ticket_id)
                assert current is not None
                if current.status == WAITING:  # still free: the limit refused it
                    raise ActionRefused(f"you already hold {agent.max_chats} conversations, your limit")
                if current.status == ASSIGNED:
                    raise ActionRefused(f"ticket {ticket_id} was already taken by {current.assigned_agent}")
                raise ActionRefused(
                    f"ticket {ticket_id} is {current.status.replace('_', ' ')}; it takes no more actions"
                )
            if not await self._paused_for_human(ticket.thread_id) and not await self._finish_interrupted_run(
                ticket.thread_id
            ):
                await self.tickets.unclaim(ticket.id, agent.name)
                raise ActionRefused(f"the conversation of ticket {ticket.id} is not waiting for an agent")
            await self._resume(
                ticket.thread_id, {"kind": "agent_joined", "agent": agent.name, "avatar_url": agent.avatar_url}
            )
        await self.bus.publish(
            thread_topic(ticket.thread_id),
            AgentJoined(
                thread_id=ticket.thread_id, ticket_id=ticket.id, agent_name=agent.name, avatar_url=agent.avatar_url
            ),
        )
        await self.bus.publish(PORTAL_TOPIC, TicketUpdated(thread_id=ticket.thread_id, ticket=ticket))
        WAIT_SECONDS.observe((datetime.now(UTC) - ticket.waiting_since).total_seconds())
        await self._announce_queue()
        self._spawn(self._draft_reply(ticket))
        return ticket

    async def reply(self, ticket_id: str, agent: AgentProfile, text: str) -> ChatMessage:
        """Sends the agent's message to the customer; it resumes the paused thread."""
        text = storable(text).strip()
        if not text:
            raise ActionRefused("an empty reply was not sent")
        if len(text) > self.settings.max_message_chars:
            raise ActionRefused(f"a reply is at most {self.settings.max_message_chars:,} characters")
        message: ChatMessage = {
            "id": str(uuid.uuid4()),  # a Chainlit step id too: the hyphenated form round-trips Postgres
            "role": "agent",
            "author": agent.name,
            "content": text,
            "at": now_iso(),
            "avatar_url": agent.avatar_url,
        }
        async with self._holding(ticket_id, agent) as ticket:
            event = AgentMessage(
                thread_id=ticket.thread_id,
                ticket_id=ticket.id,
                message_id=message["id"],
                agent_name=agent.name,
                avatar_url=agent.avatar_url,
                content=text,
            )
            # In the transcript first, so the customer never sees words that could be lost; then to
            # the customer, who should not wait for the graph's checkpoints; then into the thread.
            await self.transcript.record(ticket.thread_id, [message])
            await self.bus.publish(thread_topic(ticket.thread_id), event)
            await self._resume(ticket.thread_id, {"kind": "agent_message", "message": message})
            # Under the lock, so of two quick replies only the first counts as the first response.
            claimed = ticket.claimed_at or ticket.waiting_since
            if not await self.tickets.has_event_since(ticket.id, REPLIED, claimed):
                FIRST_RESPONSE_SECONDS.observe((datetime.now(UTC) - claimed).total_seconds())
            await self.tickets.note(ticket.id, agent.name, REPLIED, {"message_id": message["id"]})
        await self.bus.publish(PORTAL_TOPIC, event)
        return message

    async def agent_typing(self, ticket_id: str, agent: AgentProfile, is_typing: bool) -> None:
        ticket = await self._held_ticket(ticket_id, agent)
        await self.bus.publish(
            thread_topic(ticket.thread_id),
            Typing(thread_id=ticket.thread_id, who="agent", name=agent.name, is_typing=is_typing),
        )

    async def resolve(self, ticket_id: str, agent: AgentProfile) -> TicketView:
        return await self._close(ticket_id, agent, "resolve")

    async def hand_back(self, ticket_id: str, agent: AgentProfile) -> TicketView:
        return await self._close(ticket_id, agent, "hand_back")

    async def _close(self, ticket_id: str, agent: AgentProfile, kind: str) -> TicketView:
        async with self._holding(ticket_id, agent) as ticket:
            await self._resume(ticket.thread_id, {"kind": kind, "agent": agent.name})
            closed = await self.tickets.close(ticket.id, agent.name, RESOLVED if kind == "resolve" else HANDED_BACK)
        assert closed is not None
        topic = thread_topic(ticket.thread_id)
        if kind == "resolve":
            await self.bus.publish(
                topic,
                StatusChange(
                    thread_id=ticket.thread_id,
                    mode="resolved",
                    text=f"{agent.name} marked this conversation as resolved.",
                ),
            )
            await self.bus.publish(
                topic, Resolved(thread_id=ticket.thread_id, ticket_id=ticket.id, agent_name=agent.name)
            )
        else:
            await self.bus.publish(
                topic, HandedBack(thread_id=ticket.thread_id, ticket_id=ticket.id, agent_name=agent.name)
            )
            await self.bus.publish(
                topic, StatusChange(thread_id=ticket.thread_id, mode="ai", text="You're back with the assistant.")
            )
        await self.bus.publish(PORTAL_TOPIC, TicketUpdated(thread_id=ticket.thread_id, ticket=closed))
        self.assign_soon()  # the agent has a free slot
        return closed

    async def transfer(
        self, ticket_id: str, agent: AgentProfile, skills: list[str] | None = None, to_agent: str | None = None
    ) -> TicketView:
        """Passes the ticket to another skill's queue, or straight to a named agent."""
        if skills:
            skills = list(dict.fromkeys(skills))
            unknown = sorted(set(skills) - set(self.settings.skills))
            if unknown:
                raise ActionRefused(f"unknown skills: {', '.join(unknown)}")
        if to_agent:
            target = await self.tickets.agent(to_agent)
            if target is None:
                raise ActionRefused(f"there is no agent called {to_agent}")
        elif not skills:
            raise ActionRefused("a transfer names skills or an agent")
        async with self._holding(ticket_id, agent) as ticket:
            if to_agent == agent.name:
                raise ActionRefused("you already hold this ticket")
            await self._resume(
                ticket.thread_id, {"kind": "transfer", "agent": agent.name, "to_agent": to_agent, "skills": skills}
            )
            moved = await self.tickets.requeue(ticket.id, agent.name, skills, to_agent)
        assert moved is not None
        topic = thread_topic(ticket.thread_id)
        if to_agent:
            target = await self.tickets.agent(to_agent)
            assert target is not None
            await self.bus.publish(
                topic,
                AgentJoined(
                    thread_id=ticket.thread_id,
                    ticket_id=ticket.id,
                    agent_name=target.name,
                    avatar_url=target.avatar_url,
                ),
            )
        else:
            place = await self._announce_queue(newsworthy=moved) or await self.queue_position(moved)
            team = "/".join(moved.skills)
            passed = f"{agent.name} passed your conversation to our {team} team."  # the queue line follows
            await self.bus.publish(topic, StatusChange(thread_id=ticket.thread_id, mode="waiting", text=passed))
            await self.bus.publish(topic, place)
            await self.bus.publish(PORTAL_TOPIC, EscalationRequest(thread_id=ticket.thread_id, ticket=moved))
        await self.bus.publish(
            PORTAL_TOPIC, TicketUpdated(thread_id=ticket.thread_id, ticket=moved, released_by=agent.name)
        )
        self.assign_soon()  # back in a queue, and the agent has a free slot
        return moved

    async def add_note(self, ticket_id: str, agent: AgentProfile, text: str) -> dict[str, Any]:
        """A private note on the ticket: kept in its audit trail, never shown to the customer."""
        text = storable(text).strip()
        if not text or len(text) > self.settings.max_message_chars:
            raise ActionRefused(f"a note has 1 to {self.settings.max_message_chars:,} characters")
        ticket = await self._held_ticket(ticket_id, agent, read_only=True)
        await self.tickets.note(ticket.id, agent.name, "note", {"text": text})
        return {"ticket_id": ticket.id, "author": agent.name, "text": text}

    async def record_draft_outcome(self, ticket_id: str, agent: AgentProfile, draft_id: str, outcome: str) -> None:
        """Keeps what the agent did with a copilot draft (sent, discarded) in the ticket's audit trail."""
        ticket = await self._held_ticket(ticket_id, agent)
        await self.tickets.note(ticket.id, agent.name, f"draft_{outcome}", {"draft_id": draft_id})

    async def conversation(self, ticket_id: str, agent: AgentProfile) -> dict[str, Any]:
        """Everything the agent needs on one ticket: history, brief, sentiment trend, notes. A waiting
        ticket the agent could claim opens as a read-only preview (`preview`), to read before claiming."""
        ticket = await self._held_ticket(ticket_id, agent, read_only=True, preview=True)
        preview = ticket.status == WAITING and not agent.is_supervisor
        values = await self.state(ticket.thread_id)
        trail = await self.tickets.audit_trail(ticket.id)
        return {
            "ticket": ticket.model_dump(mode="json"),
            "messages": await self.history(ticket.thread_id),
            "brief": values.get("brief") or {},
            "sentiments": values.get("sentiments", []),
            "notes": [entry for entry in trail if entry["kind"] == "note"],
            "draft": None if preview else self.latest_draft(trail),
            "preview": preview,
            "earlier_tickets": [
                earlier.model_dump(mode="json")
                for earlier in await self.tickets.tickets_of_thread(ticket.thread_id)
                if earlier.id != ticket.id
            ],
        }

    # ----- canned replies and search ----------------------------------------------------------

    async def save_canned_reply(
        self, agent: AgentProfile, reply_id: str | None, shortcut: str, title: str, text: str
    ) -> CannedReply:
        """Creates or edits a team's saved reply (supervisors only)."""
        if not agent.is_supervisor:
            raise ActionRefused("only supervisors edit canned replies")
        text = storable(text).strip()
        if not text:
            raise ActionRefused("a canned reply needs a text")
        try:
            saved = await self.canned_replies.save(
                reply_id, shortcut, storable(title).strip() or shortcut, text, agent.name
            )
        except ShortcutTaken:
            raise ActionRefused(f"another canned reply already has the shortcut /{shortcut}") from None
        if saved is None:
            raise ActionRefused(f"there is no canned reply {reply_id}")
        return saved

    async def delete_canned_reply(self, agent: AgentProfile, reply_id: str) -> None:
        if not agent.is_supervisor:
            raise ActionRefused("only supervisors edit canned replies")
        if not await self.canned_replies.delete(reply_id):
            raise ActionRefused(f"there is no canned reply {reply_id}")

    async def canned_reply_for(self, ticket_id: str, agent: AgentProfile, reply_id: str) -> dict[str, Any]:
        """A saved reply's text for this ticket, its {placeholders} filled from the customer's facts;
        `missing` names those the facts do not hold (left in the text for the agent)."""
        ticket = await self._held_ticket(ticket_id, agent)
        reply = await self.canned_replies.get(reply_id)
        if reply is None:
            raise ActionRefused(f"there is no canned reply {reply_id}")
        text, missing = fill(reply.text, ticket.customer_facts)
        return {"text": text, "missing": missing}

    async def find_tickets(self, agent: AgentProfile, query: str, scope: Scope) -> list[TicketView]:
        """Tickets the agent may see, by their customer's facts, their words or the summary."""
        return await self.search.find(storable(query), scope, agent)

    # ----- the assistant's side jobs ----------------------------------------------------------

    async def _draft_reply(self, ticket: TicketView) -> CopilotSuggestion | None:
        """Drafts the agent's next reply and keeps it with the ticket (it survives a reload and reaches
        a transferred agent); it reaches the customer only if the agent sends it."""
        messages = await self.history(ticket.thread_id)
        last_customer = next((m for m in reversed(messages) if m["role"] == "customer"), None)
        if last_customer is None:
            return None
        retrieval = self.knowledge.search(
            self.context.understanding.turns.without_handoff_words(last_customer["content"])
        )
        try:
            draft = await self.model.ainvoke(copilot_prompt(messages, retrieval))
        except LLM_ERRORS:
            LLM_FAILURES.labels(job="copilot").inc()
            log.warning("copilot draft for ticket %s failed: the LLM is unavailable", ticket.id)
            return None
        suggestion = CopilotSuggestion(
            thread_id=ticket.thread_id, ticket_id=ticket.id, draft_id=uuid.uuid4().hex, content=str(draft.content)
        )
        await self.tickets.note(
            ticket.id, "assistant", DRAFT, {"draft_id": suggestion.draft_id, "content": suggestion.content}
        )
        await self.bus.publish(PORTAL_TOPIC, suggestion)
        return suggestion

    async def fresh_draft(self, ticket_id: str, agent: AgentProfile) -> dict[str, Any]:
        """A new copilot draft for the latest customer message, on the agent's request."""
        ticket = await self._held_ticket(ticket_id, agent)
        suggestion = await self._draft_reply(ticket)
        if suggestion is None:
            raise ActionRefused(
                "no draft could be written: the customer has not written yet, or the assistant is unavailable"
            )
        return {"draft": {"draft_id": suggestion.draft_id, "content": suggestion.content, "stale": False}}

    @staticmethod
    def latest_draft(trail: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The ticket's latest copilot draft unless it was sent or discarded; `stale` once an agent
        replied in their own words after it was written."""
        draft: dict[str, Any] | None = None
        for entry in trail:
            if entry["kind"] == DRAFT:
                draft = {"draft_id": entry["detail"]["draft_id"], "content": entry["detail"]["content"], "stale": False}
            elif (
                draft
                and entry["kind"] in ("draft_sent", "draft_discarded")
                and entry["detail"].get("draft_id") == draft["draft_id"]
            ):
                draft = None
            elif draft and entry["kind"] == REPLIED:
                draft["stale"] = True
        return draft

    async def _refine_summary(self, ticket: TicketView) -> None:
        """Adds the LLM's summary to the deterministic one once it is ready; the handoff never waits."""
        try:
            summary = await self.model.ainvoke(summary_prompt(await self.history(ticket.thread_id)))
        except LLM_ERRORS:
            LLM_FAILURES.labels(job="summary").inc()
            log.warning("summary refinement for ticket %s failed: the LLM is unavailable", ticket.id)
            return
        text = " ".join(mask_card_numbers(str(summary.content)).split())
        if not text:
            return
        refined = await self.tickets.update_summary(ticket.id, f"{ticket.summary} {MODEL_SUMMARY} {text}")
        if refined:
            await self.bus.publish(PORTAL_TOPIC, TicketUpdated(thread_id=ticket.thread_id, ticket=refined))
