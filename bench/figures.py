"""Each benchmark figure: drive the real app over real sockets and time what a user would feel."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from pathlib import Path

import httpx
import socketio

from engine.assessment import analyze_latest_turn
from engine.config import Settings
from engine.knowledge import KnowledgeBase
from engine.service import ConversationService
from engine.understanding import load_understanding
from tests.clients import ChainlitCustomer, PortalAgent, RunningApp
from tests.conftest import free_port
from tests.fake_openai import FakeOpenAI
from tests.helpers import LONG_CONVERSATION

ROOT = Path(__file__).resolve().parent.parent


async def gather_limited(coroutines: list, limit: int = 20) -> list:
    gate = asyncio.Semaphore(limit)

    async def run(coroutine):
        async with gate:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


# ----- baseline: the bare relay -----------------------------------------------------------------


async def relay_latencies(samples: int, database: str | None = None) -> list[float]:
    """Client A emits, a bare python-socketio server relays, client B receives: seconds per hop. With a
    `database` (a Postgres URL or a SQLite path) the relay commits each message there before passing it on."""
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.relay", str(port), *([database] if database else []), cwd=ROOT
    )
    sender, receiver = socketio.AsyncClient(), socketio.AsyncClient()
    arrived: dict[str, float] = {}
    waiters: dict[str, asyncio.Event] = {}

    @receiver.on("relayed")
    async def on_relayed(data: dict) -> None:
        arrived[data["id"]] = time.perf_counter()
        waiters[data["id"]].set()

    try:
        for _ in range(100):
            try:
                await sender.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
                break
            except socketio.exceptions.ConnectionError:
                await asyncio.sleep(0.1)
        await receiver.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        await receiver.call("join", "customer")
        latencies = []
        for _ in range(samples):
            message_id = uuid.uuid4().hex
            waiters[message_id] = asyncio.Event()
            started = time.perf_counter()
            await sender.emit("relay", {"id": message_id, "room": "customer", "text": "Hello from the relay"})
            await asyncio.wait_for(waiters[message_id].wait(), 10)
            latencies.append(arrived[message_id] - started)
        return latencies
    finally:
        await sender.disconnect()
        await receiver.disconnect()
        server.terminate()
        await server.wait()


# ----- the app's handoff ------------------------------------------------------------------------


class Handoffs:
    """N customers escalated and held by one bench agent in a running app."""

    def __init__(self, app: RunningApp) -> None:
        self.app = app
        self.agent: PortalAgent | None = None
        self.customers: list[tuple[ChainlitCustomer, str]] = []  # (customer, ticket id)
        self.escalation_latencies: list[float] = []

    async def start_agent(self) -> None:
        await self.app.add_agent("Bench", self.app.settings.skills, max_chats=100_000)
        self.agent = await PortalAgent(self.app, "Bench").connect()

    async def escalate_one(self, timed: bool) -> None:
        assert self.agent is not None
        customer = await ChainlitCustomer(self.app).connect()
        marker = uuid.uuid4().hex[:10]
        started = time.perf_counter()
        await customer.say(f"I want to talk to a person about case {marker}")
        ticket = await self.agent.log.wait_for("escalation_request", lambda t: marker in t["summary"], timeout=60)
        if timed:
            self.escalation_latencies.append(self.agent.log.arrival_of(ticket) - started)
        claimed = await self.agent.call("claim", {"ticket_id": ticket["id"]})
        assert claimed["ok"], claimed
        await customer.text_shown("joined the conversation", timeout=60)
        self.customers.append((customer, ticket["id"]))

    async def grow_to(self, count: int, timed: bool = False) -> None:
        """Escalates more customers. Timed growth goes one at a time, so it measures latency, not queueing."""
        missing = count - len(self.customers)
        await gather_limited([self.escalate_one(timed) for _ in range(missing)], limit=1 if timed else 10)

    async def reply_latencies(self, samples: int) -> list[float]:
        """Agent emits a reply → the customer's socket receives it, one reply at a time.

        Each sample waits for the previous reply's acknowledgement, so it measures one reply's
        latency rather than the queue behind the one before.
        """
        assert self.agent is not None
        latencies = []
        for index in range(samples):
            customer, ticket_id = self.customers[index % len(self.customers)]
            text = f"Reply {uuid.uuid4().hex[:12]}"
            acknowledged = asyncio.get_running_loop().create_future()
            started = time.perf_counter()
            await self.agent.sio.emit("reply", {"ticket_id": ticket_id, "text": text}, callback=acknowledged.set_result)
            message = await customer.message_from("Bench", text, timeout=30)
            latencies.append(customer.log.arrival_of(message) - started)
            assert (await asyncio.wait_for(acknowledged, 30))["ok"]
        return latencies

    async def close(self) -> None:
        await gather_limited([customer.close() for customer, _ in self.customers], limit=50)
        if self.agent:
            await self.agent.close()


# ----- first token and stop ---------------------------------------------------------------------


async def direct_first_token(fake_llm: FakeOpenAI, samples: int) -> list[float]:
    """Time to the first content chunk reading the test LLM's stream directly."""
    latencies = []
    async with httpx.AsyncClient() as http:
        for _ in range(samples):
            started = time.perf_counter()
            body = {
                "model": "m",
                "stream": True,
                "messages": [{"role": "user", "content": "How do I reset my password?"}],
            }
            async with http.stream("POST", f"{fake_llm.url}/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: {") and '"content"' in line:
                        latencies.append(time.perf_counter() - started)
                        break
    return latencies


async def app_first_token(app: RunningApp, samples: int) -> list[float]:
    """Time from the customer's message to the first streamed token at the customer's socket."""
    latencies = []
    for _ in range(samples):
        customer = await ChainlitCustomer(app).connect()
        try:
            started = time.perf_counter()
            await customer.say("How do I reset my password?")
            token = await customer.log.wait_for("stream_start", timeout=30)
            latencies.append(customer.log.arrival_of(token) - started)
            await customer.answer(timeout=30)
        finally:
            await customer.close()
    return latencies


async def app_cpu_per_turn(app: RunningApp, questions: list[str]) -> tuple[float, float]:
    """The app's CPU seconds per customer turn (a new chat and one answered question), and per chat that
    only connects and leaves (the baseline: what the turn adds is the difference)."""
    assert app.process is not None
    pid = app.process.pid

    async def chats(ask: bool) -> float:
        before = cpu_seconds(pid)
        for question in questions:
            customer = await ChainlitCustomer(app).connect()
            try:
                if ask:
                    await customer.say(question)
                    await customer.answer(timeout=30)
            finally:
                await customer.close()
        return (cpu_seconds(pid) - before) / len(questions)

    connect_only = await chats(ask=False)
    return await chats(ask=True), connect_only


def answerable_questions(settings: Settings, count: int) -> list[str]:
    """Distinct questions the app answers (not escalates), made from the knowledge base's own headings,
    so the benchmark stays in step with the articles: the fake LLM tells their streams apart by them."""
    knowledge = KnowledgeBase(settings.kb_dir, settings.model_cache_path)
    understanding = load_understanding(settings.model_cache_path)
    questions = [
        f"{passage.title}: {passage.heading}?" for passage in knowledge.passages if passage.heading != passage.title
    ]
    answered = [
        question
        for question in questions
        if analyze_latest_turn(
            [{"role": "customer", "content": question}],
            previous_frustration=None,
            previous_language=None,
            understanding=understanding,
            knowledge=knowledge,
            settings=settings,
        ).reason
        is None
    ]
    if len(answered) < count:
        raise RuntimeError(
            f"the knowledge base answers only {len(answered)} of its headings as questions; {count} needed"
        )
    return answered[:count]


async def stop_figures(app: RunningApp, fake_llm: FakeOpenAI, samples: int) -> tuple[list[float], list[int]]:
    """From the customer's stop to the upstream connection closing; tokens sent after the stop."""
    closings, late_tokens = [], []
    for question in answerable_questions(app.settings, samples):
        fake_llm.reset(reply=" ".join(f"word{i}" for i in range(2000)), token_delay=0.005)
        customer = await ChainlitCustomer(app).connect()
        try:
            await customer.say(question)
            await customer.log.wait_for("stream_token", lambda t: "word20" in t["token"], timeout=30)
            stream = fake_llm.stream_asking(question)  # other requests (copilot drafts) may be streaming too
            sent_before = stream.tokens_sent
            stopped = time.perf_counter()
            await customer.stop()
            await asyncio.wait_for(stream.closed.wait(), 10)
            assert stream.disconnected_at is not None, "the stream ran to its end instead of closing"
            closings.append(stream.disconnected_at - stopped)
            late_tokens.append(max(0, stream.tokens_sent - sent_before))
        finally:
            await customer.close()
    fake_llm.reset()
    return closings, late_tokens


# ----- capacity ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def idle_customer(app: RunningApp) -> ChainlitCustomer:
    customer = await ChainlitCustomer(app).connect()
    await customer.say("What are your support hours?")
    await customer.answer(timeout=120)
    return customer


# What chatting customers ask: distinct questions the knowledge base answers. A customer who asked
# them all leaves and a new one takes the chat, as people do; repeating them would be the "loop of
# death" and escalate every chatter, which is another load than the one this figure is about.
QUESTIONS = [
    "How do I change my payment method?",
    "How do I turn on two-factor authentication?",
    "Where can I download my invoices?",
    "What happens if my card payment fails?",
    "How do I cancel my subscription?",
    "Can I get a refund for my annual plan?",
    "How do I upgrade to the Business plan?",
    "What are the API rate limits?",
    "How do I create an API key?",
    "How do I set up SAML single sign-on?",
    "How do I add a team member?",
    "How much storage do I get?",
    "How do I change the email address on my account?",
    "How do webhooks retry failed deliveries?",
    "Where can I see if the service is down?",
    "How do I track my hub order?",
    "How long does shipping take for the hub?",
    "How do I return a faulty hub?",
    "How do I export all my data?",
    "thanks, that helps!",
]


async def chatter(app: RunningApp, customers: list[ChainlitCustomer], stop: asyncio.Event) -> None:
    """Some customers keep chatting while we measure, each every 2 s on a phase of its own, as
    independent people do (all at once would measure a synchronised burst, not a load)."""

    async def one(slot: int, phase: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), phase)
        turn = 0
        while not stop.is_set():
            if turn and turn % len(QUESTIONS) == 0:
                try:
                    newcomer = await ChainlitCustomer(app).connect()
                except (socketio.exceptions.ConnectionError, AssertionError):
                    pass  # a saturated app refused or timed out: this customer stays a while longer
                else:
                    await customers[slot].close()
                    customers[slot] = newcomer
            await customers[slot].say(QUESTIONS[turn % len(QUESTIONS)])
            turn += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)

    await asyncio.gather(*(one(slot, 2.0 * slot / max(1, len(customers))) for slot in range(len(customers))))


# ----- checkpoint growth ------------------------------------------------------------------------


async def checkpoint_bytes(service: ConversationService, settings: Settings) -> int:
    """Everything the checkpointer has written so far, in bytes."""
    if settings.uses_postgres:
        import asyncpg

        connection = await asyncpg.connect(settings.psycopg_url)
        try:
            return int(
                await connection.fetchval(
                    "SELECT (SELECT coalesce(sum(pg_column_size(checkpoint)) + sum(pg_column_size(metadata)), 0)"
                    " FROM checkpoints)"
                    " + (SELECT coalesce(sum(octet_length(blob)), 0) FROM checkpoint_blobs)"
                    " + (SELECT coalesce(sum(octet_length(blob)), 0) FROM checkpoint_writes)"
                )
            )
        finally:
            await connection.close()
    import aiosqlite

    async with aiosqlite.connect(settings.checkpoint_path) as connection:
        row = await (
            await connection.execute(
                "SELECT (SELECT coalesce(sum(length(checkpoint)) + sum(length(metadata)), 0) FROM checkpoints)"
                " + (SELECT coalesce(sum(length(value)), 0) FROM writes)"
            )
        ).fetchone()
        return int(row[0])


async def checkpoint_growth(settings: Settings, turns: int) -> dict[int, tuple[int, float, int]]:
    """For each turn of one long conversation (no escalation): the change in stored checkpoint bytes
    (with pruning off: the bytes the turn wrote), its graph time, and the bytes stored after it."""
    service = await ConversationService.open(settings)
    per_turn: dict[int, tuple[int, float, int]] = {}
    try:
        before = await checkpoint_bytes(service, settings)
        for turn in range(1, turns + 1):
            started = time.perf_counter()
            async for _ in service.customer_message("growth", LONG_CONVERSATION[turn % len(LONG_CONVERSATION)]):
                pass
            elapsed = time.perf_counter() - started
            after = await checkpoint_bytes(service, settings)
            per_turn[turn] = (after - before, elapsed, after)
            before = after
        assert (await service.state("growth"))["mode"] == "ai", "the growth conversation must not escalate"
    finally:
        await service.close()
    return per_turn


def bench_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        "DATA_DIR": str(data_dir),
        "PORTAL_SECRET": "bench-secret",
        "OFFLINE_TOKEN_DELAY_SECONDS": "0",
        "LLM_TIMEOUT_SECONDS": "30",
        # One model cache for every app of the run: the classifier trains once, not once per app.
        "MODEL_CACHE_DIR": str(Settings().model_cache_path.resolve()),
    }
    env.update(overrides)
    return env
