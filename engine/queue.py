"""Where each waiting customer stands: only tickets that the same agents could take are ahead of them."""

from __future__ import annotations

from collections import Counter

from .events import TicketView


def places(waiting: list[TicketView]) -> dict[str, int]:
    """Each waiting ticket's place (1 = next).

    A ticket is ahead of another when it has waited longer and shares one of its skills: a Billing
    customer does not wait for the Technical queue. Places are first come, first served, so a
    customer's place only ever goes down while they wait: a more urgent newcomer goes to the top of
    the agents' queue but never moves back someone already told their place (priority orders only
    tickets that arrive at the same moment). Tickets are counted by skill set, of which there are
    few, so this is linear in the queue's length."""
    seen: Counter[frozenset[str]] = Counter()
    result: dict[str, int] = {}
    for ticket in sorted(waiting, key=lambda ticket: (ticket.waiting_since, -ticket.priority)):
        skills = frozenset(ticket.skills)
        result[ticket.id] = 1 + sum(count for other, count in seen.items() if other & skills or not (other and skills))
        seen[skills] += 1
    return result
