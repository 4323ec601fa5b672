"""Whether a sign-in was posted by a page of this service or by another site's (login CSRF).

A page of another site can post the sign-in form with the attacker's own login and password:
the victim's browser then holds the attacker's session, and what the victim does next (a
note with a customer's data, say) is done in the attacker's account, where the attacker
reads it. The session's CSRF token cannot guard the sign-in (there is no session yet), so a
sign-in is refused when its `Origin` header, or without one its `Referer`, names another
site: a browser sends `Origin` with every `POST`, and no page can change it. A request with
neither header (curl, a script, the tests) is no browser's, and goes on.

This service is the host and port the request was sent to: its `Host` header, and the
`X-Forwarded-Host` or `Forwarded: host=` a reverse proxy adds. No page of another site can
set either on a browser's request (a form sends no headers of its own, and a script's
request with them needs a CORS permission this service never gives); still, they are
believed only from the trusted proxies (`BACKOFFICE_TRUSTED_PROXIES`, the addresses the
single sign-on's header is believed from) and from the loopback (a proxy on this machine):
a proxy that passed on what its client sent would otherwise let anyone name any host as
this service's. The scheme is not compared: behind a proxy that ends TLS the server sees
`http` where the browser said `https`.

The log names the other site by its scheme, host and port only: a `Referer` is a page's
whole address, and its path and query (what was searched there) are that site's business.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection

from entrypoints.http.common import TrustedHeader, client_host, within

if TYPE_CHECKING:
    from entrypoints.settings import IpNetwork

log = logging.getLogger("backoffice.http")

FROM_ANOTHER_SITE = "a sign-in sent from another site's page is refused: sign in on this site"
"""Why such a sign-in is refused (the HTTP API's `403`)."""
DEFAULT_PORTS = {"http": 80, "https": 443}
_FORWARDED_HOST = re.compile(r'(?:^|[;,\s])host="?([^";,\s]+)"?', re.IGNORECASE)
SHOWN = 100
"""The most characters of a foreign site's host and port a log line shows."""
LOOPBACK: tuple[IpNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
"""Clients whose forwarded host is believed besides the trusted proxies: a proxy on this
machine."""


def foreign_origin(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The other site a post was sent from, as `scheme://host[:port]`: its `Origin` (or,
    without one, its `Referer`, its path and query left out) when that is not this service's
    host and port; None when it is this service's, or when the request sends neither (not a
    browser). An origin that is no `http(s)` address (the `null` of a sandboxed page, a
    `file:` page) is another site's."""
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        return None
    parts = _host_and_port(sent)
    if parts is not None and parts[1:] in _ours(request, parts[0]):
        return None
    return _site(sent)


def _site(sent: str) -> str:
    """What the log shows of another site's `Origin` or `Referer`: its scheme, host and port
    as sent (`https://evil.example:8443`), without a user name, path, query or fragment;
    `null` as it is; of an address with no host, its scheme (`file:`)."""
    text = sent.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return "(not an address)"
    scheme = parts.scheme.lower()[:20]
    host = parts.netloc.rpartition("@")[2].lower()[:SHOWN]
    if scheme and host:
        return f"{scheme}://{host}"
    if text == "null":
        return text
    return f"{scheme}:" if scheme else "(not an address)"


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
    address without one, and the forwarded hosts of a proxy it believes, `_forwarded`), a
    port left out being `scheme`'s default (the scheme the browser said)."""
    names = [request.url.netloc]
    if _forwarded(request):
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


def _forwarded(request: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the request came from a proxy whose forwarded host is believed: one of the
    trusted proxies (`BACKOFFICE_TRUSTED_PROXIES`, as the single sign-on's header is,
    `TrustedHeader`) or the loopback."""
    app = request.scope.get("app")
    trusted = app.state.get("trusted") if app is not None else None
    proxies = trusted.proxies if isinstance(trusted, TrustedHeader) else ()
    return within(client_host(request), LOOPBACK + proxies)
