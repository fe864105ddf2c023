"""Every event the engine emits, with its payload. Transports render these; nothing else is sent."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

Mode = Literal["ai", "waiting", "human", "resolved"]

# Topics on the event bus: one per customer thread, one for the agent portal.
PORTAL_TOPIC = "portal"


def thread_topic(thread_id: str) -> str:
    return f"thread:{thread_id}"


class _Event(BaseModel):
    thread_id: str
    # Names what a front end shows for this event: every open tab of a chat renders it under one id.
    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()))


class TokenStream(_Event):
    """One streamed piece of the assistant's answer."""

    type: Literal["token_stream"] = "token_stream"
    message_id: str
    token: str


class AssistantAnswer(_Event):
    """The assistant's finished (or stopped) answer and the articles it drew on."""

    type: Literal["assistant_answer"] = "assistant_answer"
    message_id: str
    content: str
    sources: list[str] = []
    stopped: bool = False


class StatusChange(_Event):
    """The conversation changed mode; `text` is what the customer is shown."""

    type: Literal["status_change"] = "status_change"
    mode: Mode
    text: str


class QueuePosition(_Event):
    type: Literal["queue_position"] = "queue_position"
    ticket_id: str
    position: int
    estimated_wait_seconds: int
    agents_online: int  # agents with the portal open who could take this ticket; 0: nobody is coming soon
    opens_at: str | None = None  # outside business hours: when the desk opens (ISO 8601, the desk's offset)
    business_hours: str | None = None  # as configured ("Mon-Fri 09:00-18:00 Europe/Berlin"), when closed


class TicketView(BaseModel):
    """What an agent sees of a ticket in the queue."""

    id: str
    thread_id: str
    status: str
    reason: str
    summary: str
    skills: list[str]
    priority: float
    sentiment: float
    frustration: float
    customer_facts: dict[str, str]
    language: str = "en"
    assigned_agent: str | None = None
    waiting_since: datetime
    claimed_at: datetime | None = None  # when the agent who holds it took it
    closed_at: datetime | None = None  # when it was resolved, handed back or withdrawn
    rating: int | None = None


class EscalationRequest(_Event):
    type: Literal["escalation_request"] = "escalation_request"
    ticket: TicketView


class TicketUpdated(_Event):
    type: Literal["ticket_updated"] = "ticket_updated"
    ticket: TicketView
    released_by: str | None = None  # the agent who held it until now (a transfer)


class AgentJoined(_Event):
    type: Literal["agent_joined"] = "agent_joined"
    ticket_id: str
    agent_name: str
    avatar_url: str


class AgentMessage(_Event):
    type: Literal["agent_message"] = "agent_message"
    ticket_id: str
    message_id: str
    agent_name: str
    avatar_url: str
    content: str


class CustomerMessage(_Event):
    """A customer's message while a human holds (or will hold) the conversation."""

    type: Literal["customer_message"] = "customer_message"
    ticket_id: str
    message_id: str
    content: str


class Typing(_Event):
    type: Literal["typing"] = "typing"
    who: Literal["customer", "agent"]
    name: str
    is_typing: bool


class CustomerPresence(_Event):
    """Whether the customer still has the chat open: a live chat and an abandoned one look alike otherwise."""

    type: Literal["customer_presence"] = "customer_presence"
    ticket_id: str
    online: bool


class CopilotSuggestion(_Event):
    type: Literal["copilot_suggestion"] = "copilot_suggestion"
    ticket_id: str
    draft_id: str
    content: str


class Resolved(_Event):
    type: Literal["resolved"] = "resolved"
    ticket_id: str
    agent_name: str


class HandedBack(_Event):
    type: Literal["handed_back"] = "handed_back"
    ticket_id: str
    agent_name: str


class ErrorEvent(_Event):
    """Something the customer must be told went wrong; nothing was lost."""

    type: Literal["error"] = "error"
    message: str


Event = Annotated[
    TokenStream
    | AssistantAnswer
    | StatusChange
    | QueuePosition
    | EscalationRequest
    | TicketUpdated
    | AgentJoined
    | AgentMessage
    | CustomerMessage
    | Typing
    | CustomerPresence
    | CopilotSuggestion
    | Resolved
    | HandedBack
    | ErrorEvent,
    Field(discriminator="type"),
]

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
