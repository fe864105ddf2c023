"""Where each waiting customer stands: only tickets that the same agents could take are ahead of them."""

from __future__ import annotations

from collections import Counter

from .events import TicketView


def places(waiting: list[TicketView]) -> dict[str, int]:
    """Each ticket's place (1 = next) given the waiting tickets in queue order (priority, then wait).

    A ticket is ahead of another when it comes first and shares one of its skills: a Billing
    customer does not wait for the Technical queue. Tickets are counted by skill set, of which there
    are few, so this is linear in the queue's length."""
    seen: Counter[frozenset[str]] = Counter()
    result: dict[str, int] = {}
    for ticket in waiting:
        skills = frozenset(ticket.skills)
        result[ticket.id] = 1 + sum(count for other, count in seen.items() if other & skills or not (other and skills))
        seen[skills] += 1
    return result
