"""Automatic assignment (ASSIGNMENT=auto): which available agent takes a waiting ticket."""

from __future__ import annotations

from datetime import datetime

from .events import TicketView
from .tickets import AgentProfile


def pick_agent(
    ticket: TicketView, available: list[AgentProfile], holding: dict[str, int], last_assigned: dict[str, datetime]
) -> AgentProfile | None:
    """The agent to give `ticket` to, or None when no available agent has its skill and a free slot.

    Among those who could take it: one who speaks the customer's language first, then the most free
    capacity under `max_chats`, then the one whose last assignment is oldest (never assigned: oldest of all)."""
    able = [
        agent
        for agent in available
        if set(agent.skills) & set(ticket.skills) and holding.get(agent.name, 0) < agent.max_chats
    ]
    if not able:
        return None

    def rank(agent: AgentProfile) -> tuple[bool, int, float]:
        last = last_assigned.get(agent.name)
        return (
            ticket.language in agent.languages,
            agent.max_chats - holding.get(agent.name, 0),
            -(last.timestamp() if last else float("-inf")),
        )

    return max(able, key=rank)
