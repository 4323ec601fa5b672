"""What a page's POST carries in the session to the page it redirects to (Post/Redirect/Get):
a refusal, a report; shown once by the next page, and only within `CARRIED_SECONDS`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from litestar import Request

CARRIED_SECONDS = 300
"""How long what a POST carried is shown: a page opened later shows it no more."""


def carry(request: Request[Any, Any, Any], key: str, carried: dict[str, Any]) -> None:
    """Keep `carried` in the session under `key`, stamped with now."""
    request.set_session({**request.session, key: {**carried, "at": time.time()}})


def take(
    request: Request[Any, Any, Any],
    key: str,
    belongs: Callable[[dict[str, Any]], bool] = lambda _: True,
) -> dict[str, Any] | None:
    """What the session carries under `key`, taken out of it (shown once) when it `belongs`
    to this page (otherwise left for its own page); None when there is none, or it is older
    than `CARRIED_SECONDS`."""
    session = request.scope.get("session")
    carried = session.get(key) if isinstance(session, dict) else None
    if not isinstance(carried, dict) or not belongs(carried):
        return None
    request.set_session({k: v for k, v in request.session.items() if k != key})
    if not time.time() - float(carried.get("at", 0)) < CARRIED_SECONDS:
        return None
    return carried
