"""Real clients over real sockets: the running app, a Chainlit customer, and a portal agent."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import socketio

from chat.render import ASSISTANT, GREETING
from engine.config import Settings
from engine.storage import make_sql_engine
from engine.tickets import AgentProfile, TicketStore

ROOT = Path(__file__).resolve().parent.parent


class RunningApp:
    """`chainlit run app.py` in a child process, on its own port and data directory."""

    started: ClassVar[list[RunningApp]] = []  # every app of this run, so a failing test's report can show their logs

    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.port = port
        self.env = env
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: asyncio.subprocess.Process | None = None
        self.log_path = Path(env["DATA_DIR"]) / "app.log"

    @property
    def settings(self) -> Settings:
        return Settings(**{key: value for key, value in self.env.items() if key in SETTING_NAMES})

    def log_since(self, moment: float, lines: int = 60) -> str:
        """The tail of the app's log if it was written after `moment`, else an empty string."""
        if not self.log_path.exists() or self.log_path.stat().st_mtime < moment:
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def start(self) -> RunningApp:
        Path(self.env["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
        RunningApp.started.append(self)
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chainlit",
            "run",
            "app.py",
            "--headless",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            cwd=ROOT,
            env={**_inherited_environment(), **self.env},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if self.process.returncode is not None:
                    raise RuntimeError(f"the app exited: {self.log_path.read_text()[-3000:]}")
                try:
                    if (await client.get(f"{self.base_url}/portal", timeout=1)).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the app did not start: {self.log_path.read_text()[-3000:]}")

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                os.killpg(self.process.pid, signal.SIGKILL)
                await self.process.wait()

    async def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill ends a process: nothing is flushed or closed."""
        if self.process and self.process.returncode is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()

    async def add_agent(
        self, name: str, skills: list[str], supervisor: bool = False, max_chats: int = 3
    ) -> AgentProfile:
        """Creates an agent in the app's own database, as `python -m agent_portal add-agent` does."""
        engine = make_sql_engine(self.settings)
        try:
            store = TicketStore(engine)
            await store.create_tables()
            return await store.add_agent(name, f"{name}-password", skills, supervisor, max_chats)
        finally:
            await engine.dispose()


SETTING_NAMES = {field.alias for field in Settings.model_fields.values() if field.alias}


def _inherited_environment() -> dict[str, str]:
    """The caller's environment minus the app's settings: the app runs on exactly what it was given."""
    return {name: value for name, value in os.environ.items() if name not in SETTING_NAMES}


def _summary(data: Any) -> str:
    """A payload as a failure message needs it: who said what, not ids."""
    if isinstance(data, dict) and "output" in data:
        return f"{data.get('name')}: {str(data.get('output'))[:100]}"
    return str(data)[:120]


class EventLog:
    """Every event a socket received, in order, with a way to await one."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.arrived_at: list[float] = []  # perf_counter() of each event, for the benchmarks
        self._changed = asyncio.Condition()

    async def add(self, name: str, data: Any) -> None:
        arrived = time.perf_counter()
        async with self._changed:
            self.events.append((name, data))
            self.arrived_at.append(arrived)
            self._changed.notify_all()

    def arrival_of(self, data: Any) -> float:
        """When the given event payload arrived."""
        return next(at for (_, seen), at in zip(self.events, self.arrived_at, strict=True) if seen is data)

    def named(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]

    async def wait_for(self, name: str, where: Callable[[Any], bool] = lambda _: True, timeout: float = 15.0) -> Any:
        def found() -> Any:
            return next((data for event, data in self.events if event == name and where(data)), None)

        async def arrive() -> Any:
            async with self._changed:
                await self._changed.wait_for(lambda: found() is not None)
                return found()

        try:
            return await asyncio.wait_for(arrive(), timeout)
        except TimeoutError:
            seen = [(event, _summary(data)) for event, data in self.events[-15:]]
            raise AssertionError(f"no {name!r} event arrived; last events: {seen}") from None


class ChainlitCustomer:
    """Acts as the Chainlit web page: header login by cookie, then Chainlit's socket protocol."""

    def __init__(self, app: RunningApp, cookies: httpx.Cookies | None = None) -> None:
        self.app = app
        self.cookies = cookies or httpx.Cookies()
        self.log = EventLog()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.thread_id: str | None = None

        @self.sio.on("*")
        async def record(event: str, data: Any = None) -> None:
            if event == "first_interaction":
                self.thread_id = data["thread_id"]
            await self.log.add(event, data)

    async def connect(self, thread_id: str | None = None) -> ChainlitCustomer:
        async with httpx.AsyncClient(base_url=self.app.base_url, cookies=self.cookies) as http:
            await http.get("/", headers={"Accept": "application/json"})
            (await http.post("/auth/header", json={})).raise_for_status()
            self.cookies = http.cookies
        cookie_header = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        self.session_id = str(uuid.uuid4())
        await self.sio.connect(
            self.app.base_url,
            socketio_path="/ws/socket.io",
            transports=["websocket"],
            headers={"Cookie": cookie_header},
            auth={
                "sessionId": self.session_id,
                "clientType": "webapp",
                "userEnv": "{}",
                "chatProfile": "",
                "threadId": thread_id or "",
            },
            wait_timeout=10,  # the client's default second is too short for a server under the benchmark's load
        )
        if thread_id:
            self.thread_id = thread_id
        await self.sio.emit("connection_successful")
        # Like the page, wait until the chat has started: a message sent earlier races on_chat_start
        # for the session's current task, which is the one the stop button cancels. (Chainlit also
        # sends a task_end right at connect, so that event alone proves nothing.)
        if thread_id:
            await self.log.wait_for("resume_thread")
        else:
            await self.log.wait_for("update_message", lambda step: step.get("name") == "on_chat_start")
        return self

    async def say(self, text: str, message_id: str | None = None) -> str:
        """Sends a message as the page does; the page names it (`message_id`: a name of the caller's)."""
        message_id = message_id or str(uuid.uuid4())
        await self.sio.emit(
            "client_message",
            {
                "message": {
                    "id": message_id,
                    "threadId": self.thread_id or "",
                    "name": "Customer",
                    "type": "user_message",
                    "output": text,
                    "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                },
                "fileReferences": [],
            },
        )
        return message_id

    async def stop(self) -> None:
        await self.sio.emit("stop")

    async def click(self, action: dict) -> dict:
        """Clicks an action button, as the page does: an HTTP call bound to this chat session."""
        async with httpx.AsyncClient(base_url=self.app.base_url, cookies=self.cookies) as http:
            response = await http.post("/project/action", json={"sessionId": self.session_id, "action": action})
            response.raise_for_status()
            return response.json()

    async def message_from(self, author: str, containing: str = "", timeout: float = 15.0) -> dict:
        """The first finished message by `author` whose text contains `containing`."""
        return await self.log.wait_for(
            "new_message", lambda m: m.get("name") == author and containing in (m.get("output") or ""), timeout
        )

    async def answer(self, containing: str = "", timeout: float = 15.0) -> dict:
        """The assistant's first finished answer containing the text (the greeting is not an answer)."""
        return await self.log.wait_for(
            "new_message",
            lambda m: (
                m.get("name") == ASSISTANT and m.get("output") != GREETING and containing in (m.get("output") or "")
            ),
            timeout,
        )

    async def text_shown(self, containing: str, timeout: float = 15.0) -> dict:
        """A message created or updated to contain the text (status lines update in place)."""
        for event in ("new_message", "update_message"):
            found = next((m for e, m in self.log.events if e == event and containing in (m.get("output") or "")), None)
            if found:
                return found
        waiters = [
            asyncio.create_task(self.log.wait_for(event, lambda m: containing in (m.get("output") or ""), timeout))
            for event in ("new_message", "update_message")
        ]
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return done.pop().result()

    async def close(self) -> None:
        await self.sio.disconnect()


class PortalAgent:
    """An agent's browser tab: login over HTTP, then the portal's socket.io protocol."""

    def __init__(self, app: RunningApp, name: str, password: str | None = None) -> None:
        self.app = app
        self.name = name
        self.password = password or f"{name}-password"
        self.log = EventLog()
        self.sio = socketio.AsyncClient(reconnection=False)

        @self.sio.on("*")
        async def record(event: str, data: Any = None) -> None:
            await self.log.add(event, data)

    async def login(self) -> str:
        async with httpx.AsyncClient(base_url=self.app.base_url) as http:
            response = await http.post("/portal/login", json={"name": self.name, "password": self.password})
            response.raise_for_status()
            return response.json()["token"]

    async def connect(self, token: str | None = None) -> PortalAgent:
        await self.sio.connect(
            self.app.base_url,
            socketio_path="/portal/socket.io",
            transports=["websocket"],
            auth={"token": token if token is not None else await self.login()},
        )
        return self

    async def call(self, event: str, payload: Any = None) -> dict:
        return await self.sio.call(event, payload if payload is not None else {}, timeout=15)

    async def close(self) -> None:
        await self.sio.disconnect()


async def escalate(customer: ChainlitCustomer, agent: PortalAgent, text: str = "can I talk to someone real?") -> dict:
    """The customer asks for a person; returns the ticket as the agent's queue received it."""
    await customer.say(text)
    await customer.text_shown("Connecting you to an agent")
    await customer.log.wait_for("first_interaction")  # it carries the thread id, and may come after the status
    return await agent.log.wait_for("escalation_request", lambda t: t["thread_id"] == customer.thread_id)
