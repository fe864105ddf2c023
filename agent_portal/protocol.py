"""The portal's socket protocol: one schema per incoming event. See docs/portal-protocol.md."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

TicketId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
MAX_TEXT = 4000


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketRequest(_Request):
    ticket_id: TicketId


class ReplyRequest(TicketRequest):
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    draft_id: str | None = Field(default=None, max_length=64)  # set when the agent sent a copilot draft


class TypingRequest(TicketRequest):
    is_typing: bool


class NoteRequest(TicketRequest):
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]


class TransferRequest(TicketRequest):
    skills: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] | None = Field(
        default=None, max_length=10
    )
    to_agent: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class DraftRequest(TicketRequest):
    draft_id: str = Field(max_length=64)


class EmptyRequest(_Request):
    pass


class AvailabilityRequest(_Request):
    away: bool


ReplyId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-f0-9]+$")]


class SaveCannedReplyRequest(_Request):
    id: ReplyId | None = None  # none: a new reply
    shortcut: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    title: Annotated[str, StringConstraints(max_length=80)] = ""
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]


class CannedReplyRequest(_Request):
    id: ReplyId


class FillCannedReplyRequest(TicketRequest):
    reply_id: ReplyId


class SearchRequest(_Request):
    query: Annotated[str, StringConstraints(max_length=200)] = ""
    scope: Literal["open", "closed", "all"] = "all"


REQUESTS: dict[str, type[_Request]] = {
    "queue": EmptyRequest,
    "claim": TicketRequest,
    "open": TicketRequest,
    "reply": ReplyRequest,
    "typing": TypingRequest,
    "note": NoteRequest,
    "transfer": TransferRequest,
    "hand_back": TicketRequest,
    "resolve": TicketRequest,
    "discard_draft": DraftRequest,
    "request_draft": TicketRequest,
    "overview": EmptyRequest,
    "availability": AvailabilityRequest,
    "canned_replies": EmptyRequest,
    "save_canned_reply": SaveCannedReplyRequest,
    "delete_canned_reply": CannedReplyRequest,
    "canned_reply": FillCannedReplyRequest,
    "search": SearchRequest,
}
