"""Whether a sign-in was posted by a page of this service or by another site's (login CSRF).

A page of another site can post the sign-in form with the attacker's own login and password:
the victim's browser then holds the attacker's session, and what the victim does next (a
note with a customer's data, say) is done in the attacker's account, where the attacker
reads it. The session's CSRF token cannot guard the sign-in (there is no session yet), so a
sign-in is refused when its `Origin` header, or without one its `Referer`, names another
site: a browser sends `Origin` with every `POST`, and no page can change it. A request with
neither header (curl, a script, the tests) is no browser's, and goes on.

This service is the host and port the request was sent to: its `Host` header, and the
`X-Forwarded-Host` or `Forwarded: host=` a reverse proxy adds (no page of another site can
set either on a browser's request: a form sends no headers of its own, and a script's
request with them needs a CORS permission this service never gives). The scheme is not
compared: behind a proxy that ends TLS the server sees `http` where the browser said
`https`.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection

log = logging.getLogger("backoffice.http")

FROM_ANOTHER_SITE = "a sign-in sent from another site's page is refused: sign in on this site"
"""Why such a sign-in is refused (the HTTP API's `403`)."""
DEFAULT_PORTS = {"http": 80, "https": 443}
_FORWARDED_HOST = re.compile(r'(?:^|[;,\s])host="?([^";,\s]+)"?', re.IGNORECASE)
SHOWN = 100
"""The most characters of a foreign origin a log line shows."""


def foreign_origin(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The other site a post was sent from: its `Origin` (or, without one, its `Referer`)
    when that is not this service's host and port; None when it is this service's, or when
    the request sends neither (not a browser). An origin that is no `http(s)` address (the
    `null` of a sandboxed page, a `file:` page) is another site's."""
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        return None
    parts = _host_and_port(sent)
    if parts is not None and parts[1:] in _ours(request, parts[0]):
        return None
    return sent[:SHOWN]


def cross_site_sign_in(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """Why a sign-in may not go on (`FROM_ANOTHER_SITE`), logged with the other site; None
    when it may (`foreign_origin`)."""
    foreign = foreign_origin(request)
    if foreign is None:
        return None
    log.warning("a sign-in sent from another site's page was refused (from %r)", foreign)
    return FROM_ANOTHER_SITE


def _host_and_port(url: str) -> tuple[str, str, int] | None:
    """The scheme, host (lower case) and port of an `http(s)` address; None for anything
    else (`null`, another scheme, a malformed port)."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        return scheme, parts.hostname.rstrip("."), parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        return None


def _ours(request: ASGIConnection[Any, Any, Any, Any], scheme: str) -> set[tuple[str, int]]:
    """This service's hosts and ports as the request names them (`Host`, or the server's
    address without one, and a proxy's forwarded hosts), a port left out being `scheme`'s
    default (the scheme the browser said)."""
    names = [request.url.netloc]
    for value in request.headers.getall("x-forwarded-host", []):
        names += value.split(",")
    for value in request.headers.getall("forwarded", []):
        names += _FORWARDED_HOST.findall(value)
    ours = set()
    for name in names:
        try:
            parts = urlsplit(f"//{name.strip()}")
            if parts.hostname:
                port = parts.port or DEFAULT_PORTS[scheme]
                ours.add((parts.hostname.rstrip("."), port))
        except ValueError:
            continue
    return ours
