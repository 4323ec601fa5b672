"""Date-times and actors to and from their stored text, cached (speed only).

A bulk import stores the same moments again and again (its own clock, minute-precision dates
from the CRM) and a catch-up decodes them again and again; these caches keep each conversion
to once per distinct value (at most 65,536 moments and 4,096 actors are kept). Without them
the results are the same: `datetime.isoformat`, `datetime.fromisoformat` and `Actor.parse`.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from domain.values import Actor


@functools.lru_cache(maxsize=65_536)
def iso(value: datetime) -> str:
    """A moment as stored: UTC, ISO 8601."""
    return value.astimezone(UTC).isoformat()


@functools.lru_cache(maxsize=65_536)
def parse_iso(value: str) -> datetime:
    """A stored moment back; one without a time zone is refused."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"stored date-time {value!r} has no time zone")
    return parsed


parse_actor = functools.lru_cache(maxsize=4_096)(Actor.parse)
actor_text = functools.lru_cache(maxsize=4_096)(Actor.__str__)
"""`Actor.parse` and its reverse, cached."""
