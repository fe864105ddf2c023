"""When people are at the desk: `BUSINESS_HOURS` ("Mon-Fri 09:00-18:00 Europe/Berlin") and holidays."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(
    r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)
FORMAT = (
    'days and hours, then a time zone: "Mon-Fri 09:00-18:00 Europe/Berlin" '
    'or "Mon-Fri 09:00-18:00; Sat 10:00-14:00 UTC"'
)


@dataclass(frozen=True)
class BusinessHours:
    spans: tuple[tuple[frozenset[int], time, time], ...]  # (weekdays, opens, closes)
    zone: ZoneInfo
    holidays: frozenset[date]
    text: str  # as configured, to tell the customer

    @classmethod
    def parse(cls, text: str, holidays: list[date] | None = None) -> BusinessHours:
        """The hours from their setting; a setting that is not of FORMAT is a ValueError saying so."""
        body, _, zone_name = text.strip().rpartition(" ")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"BUSINESS_HOURS ends with an unknown time zone {zone_name!r}; it is {FORMAT}") from None
        spans = []
        for part in filter(None, (piece.strip().lower() for piece in body.split(";"))):
            match = _SPAN.match(part)
            if not match:
                raise ValueError(f"BUSINESS_HOURS has {part!r}; it is {FORMAT}")
            opens, closes = (time.fromisoformat(match[key].zfill(5)) for key in ("start", "end"))
            if closes <= opens:
                raise ValueError(f"BUSINESS_HOURS has {part!r}, which closes before it opens")
            spans.append((_weekdays(match["days"], part), opens, closes))
        if not spans:
            raise ValueError(f"BUSINESS_HOURS names no days; it is {FORMAT}")
        return cls(tuple(spans), zone, frozenset(holidays or []), text.strip())

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        if local.date() in self.holidays:
            return False
        return any(local.weekday() in days and opens <= local.time() < closes for days, opens, closes in self.spans)

    def next_opening(self, moment: datetime) -> datetime:
        """When the desk next opens after `moment` (the moment itself if it is open)."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.zone)
        for offset in range(400):  # a year of holidays at most
            day = local.date() + timedelta(days=offset)
            if day in self.holidays:
                continue
            openings = sorted(opens for days, opens, _ in self.spans if day.weekday() in days)
            for opens in openings:
                candidate = datetime.combine(day, opens, self.zone)
                if candidate > local:
                    return candidate
        raise ValueError("the business hours never open")


def _weekdays(days: str, part: str) -> frozenset[int]:
    chosen: set[int] = set()
    for piece in days.split(","):
        first, _, last = piece.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"BUSINESS_HOURS has {part!r}: days are {', '.join(DAYS)}")
        start, end = DAYS.index(first), DAYS.index(last or first)
        chosen.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)])
    return frozenset(chosen)
