"""A chat reopened after a refresh: Chainlit's stored thread, completed from the engine's record.

Chainlit calls on_chat_resume before it sends the stored thread to the page, and the page then
replaces whatever it holds with that thread, so a message sent from the hook would be wiped. What
the stored thread lacks is therefore added to the thread itself (and stored for the next visit).
"""

from __future__ import annotations

from datetime import datetime

import chainlit as cl
from chainlit.data import get_data_layer
from chainlit.step import StepDict
from chainlit.types import ThreadDict

from engine.graph import ChatMessage

from .render import ASSISTANT, CHAINLIT_STOP_NOTICE, adopt_status_line, agent_text, is_status_line, status_line


def _chainlit_time(iso: str) -> str:
    return iso.replace("+00:00", "Z")


def _when(step: StepDict) -> datetime:
    return datetime.fromisoformat(step.get("createdAt") or "1970-01-01T00:00:00+00:00")


async def add_missing_messages(thread: ThreadDict, transcript: list[ChatMessage]) -> None:
    """An agent's reply sent while the customer was away, or a turn the page closed on before
    Chainlit stored it: the engine's transcript is the record, and its ids are Chainlit's."""
    layer = get_data_layer()
    # Chainlit's stop notice may be stored after the page removed it: its write and delete race.
    steps: list[StepDict] = [step for step in thread.get("steps", []) if step.get("output") != CHAINLIT_STOP_NOTICE]
    thread["steps"] = steps
    stored = {step["id"] for step in steps}
    for message in transcript:
        if message["id"] in stored:
            continue
        customer = message["role"] == "customer"
        step = cl.Message(
            id=message["id"],
            author=ASSISTANT if message["role"] == "assistant" else message["author"],
            content=agent_text(message["author"], message["content"])
            if message["role"] == "agent"
            else message["content"],
            type="user_message" if customer else "assistant_message",
            created_at=_chainlit_time(message["at"]),
        ).to_dict()
        step["threadId"] = thread["id"]
        steps.append(step)
        if layer:
            await layer.create_step(step)
    steps.sort(key=_when)


async def restore_status_line(thread: ThreadDict, text: str) -> None:
    """Shows where the handoff stands on the chat's latest status line, which later news updates."""
    layer = get_data_layer()
    steps: list[StepDict] = thread.setdefault("steps", [])
    latest = next((step for step in reversed(steps) if is_status_line(step)), None)
    status = status_line(text, latest["id"] if latest else None)
    step = status.to_dict()
    step["threadId"] = thread["id"]
    if latest:
        latest["output"] = text
        if layer:
            await layer.update_step({**latest, "metadata": step["metadata"]})
    else:
        steps.append(step)
        if layer:
            await layer.create_step(step)
    adopt_status_line(status)
