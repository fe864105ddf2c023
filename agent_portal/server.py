"""The portal's socket.io server and HTTP routes. Handlers validate, call the engine, and answer.

Rooms are decided here, never by a client: `agent:<name>` (all of an agent's tabs), `skill:<skill>`
(the queue an agent sees), `supervisors`, and `agents` (presence).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import socketio
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from chat.identity import stored_secret
from engine.config import Settings
from engine.events import PORTAL_TOPIC, Event, TicketView
from engine.logs import about_conversation
from engine.metrics import PORTAL_SOCKETS
from engine.service import PRESENCE_SECONDS, ActionRefused, ConversationService
from engine.tickets import WAITING, AgentProfile

from .login_throttle import LoginThrottle
from .protocol import (
    REQUESTS,
    AvailabilityRequest,
    CannedReplyRequest,
    DraftRequest,
    EmptyRequest,
    FillCannedReplyRequest,
    NoteRequest,
    ReplyRequest,
    SaveCannedReplyRequest,
    SearchRequest,
    TicketRequest,
    TransferRequest,
    TypingRequest,
)
from .reports import ReportRoutes

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
# Built by `npm run build` (make install) from agent_portal/web/; its assets load from /portal/static/portal/.
PORTAL_PAGE = STATIC / "portal" / "index.html"
SOCKET_IO_CLIENT = Path(__file__).resolve().parent.parent / "node_modules" / "socket.io-client" / "dist"
MAX_PACKET_BYTES = 256 * 1024
PRESENCE_HEARTBEAT_SECONDS = PRESENCE_SECONDS / 3  # three beats may be missed before an agent counts as gone
MAX_LOGIN_BYTES = 16 * 1024
# The page runs only its own files: no inline script, no framing, nothing from elsewhere.
PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

Action = Callable[[AgentProfile, Any], Awaitable[dict[str, Any]]]

DEMO_AGENTS = [
    # name, password, skills, supervisor, languages
    ("Dana", "dana-demo", ["Billing", "Account", "General"], False, ["en", "es", "pt"]),
    ("Sam", "sam-demo", ["Technical", "Shipping", "General"], False, ["en", "de", "nl"]),
    ("Alex", "alex-demo", ["Billing", "Technical", "Account", "Shipping", "General"], True, ["en", "fr", "it"]),
]


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def _ticket_json(ticket: TicketView) -> dict[str, Any]:
    data = ticket.model_dump(mode="json")
    data["waited_seconds"] = int((datetime.now(UTC) - ticket.waiting_since).total_seconds())
    return data


def _ticket_rooms(ticket: TicketView, released_by: str | None = None) -> tuple[list[str], list[str]]:
    """The rooms of the agents who may take the ticket (its skills), and of those who may read all of
    it: supervisors, its holder, and the agent who just passed it on."""
    holders = {ticket.assigned_agent, released_by} - {None}
    return sorted(f"skill:{skill}" for skill in ticket.skills), [
        "supervisors",
        *sorted(f"agent:{name}" for name in holders),
    ]


def _visible_in_queue(ticket: TicketView, agent: AgentProfile) -> bool:
    return (
        agent.is_supervisor
        or ticket.assigned_agent == agent.name
        or (ticket.status == WAITING and bool(set(ticket.skills) & set(agent.skills)))
    )


class PortalServer:
    def __init__(self, settings: Settings) -> None:
        from agent_portal.tokens import AgentTokens

        self.settings = settings
        manager = (
            socketio.AsyncRedisManager(settings.redis_url, channel="escalation-portal") if settings.redis_url else None
        )
        self.sio = socketio.AsyncServer(
            async_mode="asgi", client_manager=manager, max_http_buffer_size=MAX_PACKET_BYTES, cors_allowed_origins=[]
        )
        secret = settings.portal_secret or stored_secret(settings.data_dir, "portal_secret")
        self.tokens = AgentTokens(secret, settings.portal_token_hours)
        self._service: ConversationService | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._online: Counter[str] = Counter()
        self._process_id = uuid.uuid4().hex  # names this process's rows of agent presence
        self._heartbeat: asyncio.Task[None] | None = None
        self._expiries: dict[str, asyncio.TimerHandle] = {}
        self._login_throttle = LoginThrottle(settings.redis_url)
        self._reports = ReportRoutes(self.tokens, lambda: self.service, STATIC, PAGE_SECURITY_HEADERS)
        PORTAL_SOCKETS.set_function(lambda: len(self._expiries))  # one entry per connected agent socket
        self._register_handlers()

    # ----- lifecycle and HTTP -----------------------------------------------------------------

    @property
    def service(self) -> ConversationService:
        assert self._service is not None, "the portal starts with the app"
        return self._service

    async def start(self, service: ConversationService) -> None:
        self._service = service
        # Every process reads every event from the bus and sends it to its own agents' sockets: events
        # published while Redis was away arrive when it is back (socket.io's manager would drop them).
        self._unsubscribe = service.bus.subscribe(PORTAL_TOPIC, self._relay)
        if self.settings.demo_agents and not await service.tickets.agents():
            for name, password, skills, supervisor, languages in DEMO_AGENTS:
                await service.tickets.add_agent(name, password, skills, is_supervisor=supervisor, languages=languages)
        self._heartbeat = asyncio.create_task(self._keep_presence())

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        if self._heartbeat:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await self._login_throttle.close()

    async def _keep_presence(self) -> None:
        """Renews this process's agents' presence, so every process knows who is on duty (customers
        are told when nobody is); a database fault skips a beat, it never ends the loop."""
        while True:
            await self._report_presence()
            self.service.assign_soon()  # catches up on anything a missed trigger left waiting
            await asyncio.sleep(PRESENCE_HEARTBEAT_SECONDS)

    async def _report_presence(self) -> None:
        try:
            await self.service.agents_present(self._process_id, set(self._online))
        except Exception:  # a beat is retried anyway; the log says why it failed
            log.warning("could not record which agents are online", exc_info=True)

    def routes(self) -> list[BaseRoute]:
        return [
            Mount("/portal/socket.io", socketio.ASGIApp(self.sio, socketio_path="")),
            Route("/portal", self._page, methods=["GET"]),
            Route("/portal/login", self._login, methods=["POST"]),
            *self._reports.routes(),
            Mount("/portal/static", StaticFiles(directory=STATIC)),
            Mount("/portal/vendor", StaticFiles(directory=SOCKET_IO_CLIENT, check_dir=False)),
        ]

    async def _page(self, request: Request) -> Response:
        if not PORTAL_PAGE.exists():  # started without `make install`: say what is missing, not a bare 500
            return PlainTextResponse(
                "The agent portal page is not built: run `make install` (or `npm ci && npm run build`).", 503
            )
        return FileResponse(PORTAL_PAGE, headers={"Cache-Control": "no-store", **PAGE_SECURITY_HEADERS})

    async def _login(self, request: Request) -> Response:
        received = bytearray()
        async for chunk in request.stream():
            received += chunk
            if len(received) > MAX_LOGIN_BYTES:
                return JSONResponse({"error": f"a login is at most {MAX_LOGIN_BYTES:,} bytes"}, status_code=413)
        try:
            body = json.loads(received)
            name, password = str(body["name"]).strip()[:64], str(body["password"])[:256]
            name.encode(), password.encode()  # a lone surrogate cannot be a name or a password
        except (ValueError, KeyError, TypeError, RecursionError):
            return JSONResponse({"error": 'send JSON {"name": ..., "password": ...}'}, status_code=400)
        address = request.client.host if request.client else "unknown"
        if wait := await self._login_throttle.attempt(name, address):
            return JSONResponse(
                {"error": f"too many wrong passwords for {name} from your address; try again in {wait} s"},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        agent = await self.service.tickets.verify_agent(name, password)
        if agent is None:
            return JSONResponse({"error": "wrong name or password"}, status_code=401)
        await self._login_throttle.succeeded(name, address)
        return JSONResponse({"token": self.tokens.issue(agent.name), "agent": agent.model_dump()})

    # ----- socket handlers --------------------------------------------------------------------

    def _register_handlers(self) -> None:
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("*", self._unknown_event)
        actions: dict[str, Action] = {
            "queue": self._queue,
            "claim": self._claim,
            "open": self._open,
            "reply": self._reply,
            "typing": self._typing,
            "note": self._note,
            "transfer": self._transfer,
            "hand_back": self._hand_back,
            "resolve": self._resolve,
            "discard_draft": self._discard_draft,
            "request_draft": self._request_draft,
            "overview": self._overview,
            "availability": self._availability,
            "canned_replies": self._canned_replies,
            "save_canned_reply": self._save_canned_reply,
            "delete_canned_reply": self._delete_canned_reply,
            "canned_reply": self._canned_reply,
            "search": self._search,
        }
        for event, action in actions.items():
            self.sio.on(event, self._validated(event, action))

    def _reserved_event(self, sid: str) -> dict[str, Any] | None:
        """An error when a connected client sends an event named 'connect' or 'disconnect'.

        python-socketio routes such an event to the same handler as the handshake; during a real
        handshake or disconnect the socket is not counted as connected."""
        if self.sio.manager.is_connected(sid, "/"):
            return _error("'connect' and 'disconnect' are reserved event names; see docs/portal-protocol.md")
        return None

    async def _connect(self, sid: str, environ: Any = None, auth: Any = None, *_: Any) -> dict[str, Any] | None:
        if refused := self._reserved_event(sid):
            return refused
        token = auth.get("token") if isinstance(auth, dict) else None
        holder = self.tokens.holder(token) if isinstance(token, str) else None
        agent = await self.service.tickets.agent(holder[0]) if holder else None
        if agent is None or holder is None:
            raise socketio.exceptions.ConnectionRefusedError("authentication failed: log in again")
        await self._join_rooms(sid, {"agent": agent.name, "rooms": []}, agent)
        # A socket outlives its token otherwise: at expiry the agent logs in again, with current rights.
        self._expiries[sid] = asyncio.get_running_loop().call_later(
            max(0.0, holder[1]), lambda: asyncio.ensure_future(self._end_session(sid, "Your login expired"))
        )
        self._online[agent.name] += 1
        if self._online[agent.name] == 1:
            await self._report_presence()
            await self.sio.emit(
                "presence",
                {"agent": agent.name, "online": True, "away": agent.away, "skills": agent.skills},
                to="agents",
            )
            self.service.assign_soon()
        return None

    async def _join_rooms(self, sid: str, session: dict[str, Any], agent: AgentProfile) -> None:
        """Puts the socket in exactly the rooms the agent's current rights give; the server decides.
        `session` is the socket's session, which records the rooms it is in."""
        rooms = {"agents", f"agent:{agent.name}", *(f"skill:{skill}" for skill in agent.skills)}
        if agent.is_supervisor:
            rooms.add("supervisors")
        joined = set(session.get("rooms", []))
        if rooms == joined:
            return
        for room in joined - rooms:
            await self.sio.leave_room(sid, room)
        for room in rooms - joined:
            await self.sio.enter_room(sid, room)
        session["rooms"] = sorted(rooms)
        await self.sio.save_session(sid, session)
        if joined:  # a change of rights while connected: the page reloads its queue
            await self.sio.emit("rights_changed", agent.model_dump(), to=sid)

    async def _end_session(self, sid: str, reason: str) -> None:
        await self.sio.emit("session_ended", {"reason": reason}, to=sid)
        await self.sio.disconnect(sid)

    async def _disconnect(self, sid: str, reason: Any = None, *_: Any) -> dict[str, Any] | None:
        if refused := self._reserved_event(sid):
            return refused
        if expiry := self._expiries.pop(sid, None):
            expiry.cancel()
        session = await self.sio.get_session(sid)
        name = session.get("agent")
        if not name:
            return None
        self._online[name] -= 1
        if self._online[name] <= 0:
            del self._online[name]
            await self._report_presence()
            await self.sio.emit("presence", {"agent": name, "online": False, "away": False}, to="agents")
        return None

    async def _unknown_event(self, event: Any, sid: str, *data: Any) -> dict[str, Any]:
        # A raw frame can name an event with a number or a list (`42[123,{}]`): it is answered, not raised.
        return _error(f"unknown event {str(event)[:64]!r}; see docs/portal-protocol.md")

    def _validated(self, event: str, action: Action) -> Callable[..., Awaitable[dict[str, Any]]]:
        request_type = REQUESTS[event]

        async def handle(sid: str, data: Any = None, *more: Any) -> dict[str, Any]:
            if more:
                return _error(f"invalid {event}: send one payload object, not {1 + len(more)} arguments")
            try:
                request = request_type.model_validate({} if data is None else data)
            except ValidationError as invalid:
                problem = invalid.errors()[0]
                where = ".".join(str(part) for part in problem["loc"]) or "payload"
                return _error(f"invalid {event}: {where}: {problem['msg']}")
            session = await self.sio.get_session(sid)
            try:
                return await self._act(sid, session, event, action, request)
            except Exception:
                # A fault of ours (a database that does not answer, say): the page is told at once,
                # instead of waiting for an acknowledgement that never comes; the log has the why.
                log.exception("the portal action %s by %s failed", event, session.get("agent"))
                return _error(
                    f"{event} failed on our side and may not have taken effect; reload to see where it stands"
                )

        return handle

    async def _act(self, sid: str, session: dict[str, Any], event: str, action: Action, request: Any) -> dict[str, Any]:
        # Re-read the agent each time, so a change of rights applies at once, to rooms too.
        agent = await self.service.tickets.agent(session.get("agent", ""))
        if agent is None:
            asyncio.get_running_loop().call_soon(
                lambda: asyncio.ensure_future(self._end_session(sid, "Your agent account no longer exists"))
            )
            return _error("your agent account no longer exists")
        await self._join_rooms(sid, session, agent)
        with about_conversation(ticket_id=getattr(request, "ticket_id", None)):
            try:
                return {"ok": True, **await action(agent, request)}
            except ActionRefused as refused:
                return _error(str(refused))

    async def _queue(self, agent: AgentProfile, request: EmptyRequest) -> dict[str, Any]:
        tickets = [_ticket_json(t) for t in await self.service.tickets.open_tickets() if _visible_in_queue(t, agent)]
        return {"agent": agent.model_dump(), "tickets": tickets, **await self._who_is_online()}

    async def _who_is_online(self) -> dict[str, Any]:
        """Agents with the portal open on any process, those of them who set Away, and each one's skills
        (the page offers a transfer to the available agents with the ticket's skills)."""
        online = await self.service.agents_online()
        return {
            "online": sorted(agent.name for agent in online),
            "away": sorted(agent.name for agent in online if agent.away),
            "skills": {agent.name: agent.skills for agent in online},
        }

    async def _availability(self, agent: AgentProfile, request: AvailabilityRequest) -> dict[str, Any]:
        updated = await self.service.set_availability(agent, request.away)
        await self.sio.emit(
            "presence",
            {"agent": agent.name, "online": True, "away": updated.away, "skills": updated.skills},
            to="agents",
        )
        return {"agent": updated.model_dump()}

    async def _claim(self, agent: AgentProfile, request: TicketRequest) -> dict[str, Any]:
        return {"ticket": _ticket_json(await self.service.claim(request.ticket_id, agent))}

    async def _open(self, agent: AgentProfile, request: TicketRequest) -> dict[str, Any]:
        return await self.service.conversation(request.ticket_id, agent)

    async def _reply(self, agent: AgentProfile, request: ReplyRequest) -> dict[str, Any]:
        message = await self.service.reply(request.ticket_id, agent, request.text)
        if request.draft_id:
            await self.service.record_draft_outcome(request.ticket_id, agent, request.draft_id, "sent")
        return {"message": message}

    async def _typing(self, agent: AgentProfile, request: TypingRequest) -> dict[str, Any]:
        await self.service.agent_typing(request.ticket_id, agent, request.is_typing)
        return {}

    async def _note(self, agent: AgentProfile, request: NoteRequest) -> dict[str, Any]:
        note = await self.service.add_note(request.ticket_id, agent, request.text)
        await self.sio.emit("note_added", note, to=[f"agent:{agent.name}", "supervisors"])
        return {"note": note}

    async def _transfer(self, agent: AgentProfile, request: TransferRequest) -> dict[str, Any]:
        ticket = await self.service.transfer(request.ticket_id, agent, skills=request.skills, to_agent=request.to_agent)
        return {"ticket": _ticket_json(ticket)}

    async def _hand_back(self, agent: AgentProfile, request: TicketRequest) -> dict[str, Any]:
        return {"ticket": _ticket_json(await self.service.hand_back(request.ticket_id, agent))}

    async def _resolve(self, agent: AgentProfile, request: TicketRequest) -> dict[str, Any]:
        return {"ticket": _ticket_json(await self.service.resolve(request.ticket_id, agent))}

    async def _discard_draft(self, agent: AgentProfile, request: DraftRequest) -> dict[str, Any]:
        await self.service.record_draft_outcome(request.ticket_id, agent, request.draft_id, "discarded")
        return {}

    async def _request_draft(self, agent: AgentProfile, request: TicketRequest) -> dict[str, Any]:
        return await self.service.fresh_draft(request.ticket_id, agent)

    async def _overview(self, agent: AgentProfile, request: EmptyRequest) -> dict[str, Any]:
        if not agent.is_supervisor:
            raise ActionRefused("only supervisors see every open ticket")
        return {
            "tickets": [_ticket_json(t) for t in await self.service.tickets.open_tickets()],
            **await self._who_is_online(),
        }

    async def _canned_replies(self, agent: AgentProfile, request: EmptyRequest) -> dict[str, Any]:
        return await self._canned_replies_list()

    async def _save_canned_reply(self, agent: AgentProfile, request: SaveCannedReplyRequest) -> dict[str, Any]:
        saved = await self.service.save_canned_reply(agent, request.id, request.shortcut, request.title, request.text)
        await self._canned_replies_changed()
        return {"reply": saved.model_dump()}

    async def _delete_canned_reply(self, agent: AgentProfile, request: CannedReplyRequest) -> dict[str, Any]:
        await self.service.delete_canned_reply(agent, request.id)
        await self._canned_replies_changed()
        return {}

    async def _canned_replies_changed(self) -> None:
        """Every agent's page, on every process, gets the team's replies as they are now."""
        await self.sio.emit("canned_replies_changed", await self._canned_replies_list(), to="agents")

    async def _canned_replies_list(self) -> dict[str, Any]:
        return {"replies": [reply.model_dump() for reply in await self.service.canned_replies.all()]}

    async def _canned_reply(self, agent: AgentProfile, request: FillCannedReplyRequest) -> dict[str, Any]:
        return await self.service.canned_reply_for(request.ticket_id, agent, request.reply_id)

    async def _search(self, agent: AgentProfile, request: SearchRequest) -> dict[str, Any]:
        found = await self.service.find_tickets(agent, request.query, request.scope)
        return {"tickets": [_ticket_json(ticket) for ticket in found]}

    # ----- engine events to agents ------------------------------------------------------------

    async def _relay(self, event: Event) -> None:
        """Sends an engine event to this process's agents who should see it, and no one else."""
        emit = partial(self.sio.emit, ignore_queue=True)  # the other processes read the event themselves
        ticket: TicketView | None
        if event.type in ("escalation_request", "ticket_updated"):
            ticket = event.ticket
            skill_rooms, private_rooms = _ticket_rooms(ticket, getattr(event, "released_by", None))
            if ticket.status == WAITING:
                await emit(event.type, _ticket_json(ticket), to=skill_rooms + private_rooms)
                return
            # The skill queues only learn that the ticket left them (and who took it); what is in it
            # stays with its holder, the agent who passed it on, and the supervisors. Sent first, so
            # the full view arrives last.
            departed = {key: getattr(ticket, key) for key in ("id", "status", "assigned_agent", "skills")}
            await emit(event.type, departed, to=skill_rooms)
            await emit(event.type, _ticket_json(ticket), to=private_rooms)
            return
        if event.type == "customer_presence":
            ticket = await self.service.tickets.get(event.ticket_id)
            if ticket:  # a waiting customer who left matters to the whole queue
                skill_rooms, private_rooms = _ticket_rooms(ticket)
                listeners = (skill_rooms if ticket.status == WAITING else []) + private_rooms
                await emit(event.type, event.model_dump(mode="json"), to=listeners)
            return
        if event.type == "typing":
            ticket = await self.service.tickets.open_for_thread(event.thread_id)
        elif event.type in ("customer_message", "agent_message", "copilot_suggestion"):
            ticket = await self.service.tickets.get(event.ticket_id)
        else:
            return
        if ticket is None:
            return
        payload = event.model_dump(mode="json") | {"ticket_id": ticket.id}
        rooms = {"supervisors"} | ({f"agent:{ticket.assigned_agent}"} if ticket.assigned_agent else set())
        if event.type == "copilot_suggestion":
            rooms.discard("supervisors")
        if rooms:  # never emit with no room: python-socketio would broadcast to every client
            await emit(event.type, payload, to=sorted(rooms))
