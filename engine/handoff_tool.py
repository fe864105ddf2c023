"""The `handoff_to_human` tool the answer call binds: how a model says a person should take over."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, get_args

from langchain_core.messages import AIMessageChunk, BaseMessage

from .policy import EscalationReason

TOOL_NAME = "handoff_to_human"
# The reasons a model may give; anything else it says is read as "it cannot help".
MODEL_REASONS: dict[str, str] = {
    "handoff_request": "the customer asks for a person",
    "frustration": "the customer is upset or angry",
    "account_action": "someone with access must look at or change the customer's account, order, invoice or payment",
    "assistant_cannot_help": "the help articles do not answer the question",
}
_FALLBACK_REASON: EscalationReason = "assistant_cannot_help"
assert set(MODEL_REASONS) <= set(get_args(EscalationReason))


@dataclass(frozen=True)
class HandoffCall:
    reason: EscalationReason
    summary: str  # the model's account of the problem, for the agent's brief
    skills: list[str]  # among the configured skills


def handoff_tool(skills: list[str]) -> dict[str, Any]:
    """The tool in OpenAI's function format, its skills limited to the desk's."""
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": (
                "Hand the conversation to a human support agent instead of answering. Call it when "
                + "; or when ".join(MODEL_REASONS.values())
                + ". The customer is told a person is coming; do not also write an answer."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "reason": {"type": "string", "enum": list(MODEL_REASONS)},
                    "summary": {
                        "type": "string",
                        "description": (
                            "For the agent, in one or two sentences: "
                            "what the customer needs and what they already said."
                        ),
                    },
                    "skills": {"type": "array", "items": {"type": "string", "enum": skills}},
                },
                "required": ["reason", "summary"],
            },
        },
    }


def handoff_call(message: BaseMessage, skills: list[str]) -> HandoffCall | None:
    """The handoff the model asked for in this message, if it called the tool."""
    for call in getattr(message, "tool_calls", None) or []:
        if call.get("name") != TOOL_NAME:
            continue
        arguments = call.get("args") or {}
        reason = str(arguments.get("reason", ""))
        return HandoffCall(
            reason=reason if reason in MODEL_REASONS else _FALLBACK_REASON,  # type: ignore[arg-type]
            summary=" ".join(str(arguments.get("summary", "")).split())[:1000],
            skills=[skill for skill in arguments.get("skills") or [] if skill in skills],
        )
    return None


def handoff_chunk(reason: str, summary: str) -> AIMessageChunk:
    """A streamed tool-call chunk, as a model that calls the tool sends it."""
    arguments = json.dumps({"reason": reason, "summary": summary})
    return AIMessageChunk(
        content="",
        tool_call_chunks=[{"name": TOOL_NAME, "args": arguments, "id": f"call_{uuid.uuid4().hex[:12]}", "index": 0}],
    )
