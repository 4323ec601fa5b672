"""Whether a sign-in was sent by a page of this service or by another site's
(`entrypoints.web.origin`): the `Origin` header, or without it the `Referer`, against the
request's own host and port (and the forwarded host of a proxy it believes: the trusted
proxies' and the loopback's); the other site logged by its scheme, host and port only."""

from __future__ import annotations

import ipaddress
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from litestar import Request
from litestar.datastructures import State

from entrypoints.http.common import TrustedHeader
from entrypoints.web.origin import FROM_ANOTHER_SITE, cross_site_sign_in, foreign_origin

PROXIES = TrustedHeader("X-Forwarded-User", (ipaddress.ip_network("10.1.0.0/16"),))
"""The single sign-on's proxies, whose forwarded host is believed."""


def request(host: str | None = "office.example:8000", **headers: str) -> Request[Any, Any, Any]:
    """A `POST /console/sign-in` sent to `host` (None: no `Host` header: the server's
    address, 10.0.0.5:8000) by a browser, with `headers` (underscores for dashes)."""
    return via(host, "198.51.100.7", PROXIES, headers)


def via(
    host: str | None, client: str, trusted: TrustedHeader | None, headers: dict[str, str]
) -> Request[Any, Any, Any]:
    """`request`, sent from the address `client` to a service with the `trusted` proxies."""
    sent = [] if host is None else [(b"host", host.encode())]
    sent += [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    scope: dict[str, Any] = {
        "type": "http", "method": "POST", "path": "/console/sign-in", "raw_path": b"",
        "query_string": b"", "headers": sent, "scheme": "http",
        "server": ("10.0.0.5", 8000), "client": (client, 50123), "root_path": "",
        "app": SimpleNamespace(state=State({"trusted": trusted})),
    }  # fmt: skip
    return Request(scope)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, a script, the tests: no browser's
        {"origin": "http://office.example:8000"},
        {"origin": "https://OFFICE.example:8000"},  # behind a proxy that ends TLS: scheme aside
        {"referer": "http://office.example:8000/console/sign-in?next=%2Fconsole%2F"},
        {"origin": "", "referer": "http://office.example:8000/console/"},
    ],
)
def test_a_post_from_this_services_pages_or_from_no_browser_goes_on(
    headers: dict[str, str],
) -> None:
    assert foreign_origin(request(**headers)) is None
    assert cross_site_sign_in(request(**headers)) is None


@pytest.mark.parametrize(
    ("headers", "shown"),
    [
        ({"origin": "https://evil.example"}, "https://evil.example"),
        ({"origin": "http://office.example:8001"}, "http://office.example:8001"),  # another port
        ({"origin": "http://office.example"}, "http://office.example"),  # port 80, not 8000
        ({"origin": "http://office.example.evil.example:8000"},
         "http://office.example.evil.example:8000"),
        ({"origin": "null"}, "null"),  # a sandboxed page, a redirect between sites
        ({"origin": "file://"}, "file:"),
        ({"origin": "http://office.example:99999"}, "http://office.example:99999"),  # no port
        ({"referer": "https://evil.example/form.html"}, "https://evil.example"),
        ({"origin": "https://evil.example", "referer": "http://office.example:8000/console/"},
         "https://evil.example"),
    ],
)  # fmt: skip
def test_a_post_from_another_sites_page_is_refused(
    headers: dict[str, str], shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert foreign_origin(request(**headers)) == shown
    assert cross_site_sign_in(request(**headers)) == FROM_ANOTHER_SITE
    assert "another site" in caplog.text


def test_the_default_port_is_the_browsers_schemes() -> None:
    assert foreign_origin(request("office.example", origin="https://office.example")) is None
    assert foreign_origin(request("office.example:443", origin="https://office.example")) is None
    assert foreign_origin(request("office.example", origin="http://office.example")) is None
    assert foreign_origin(request("[::1]:8000", origin="http://[::1]:8000")) is None
    assert foreign_origin(request("office.example:443", origin="http://office.example"))


FORWARDED = (
    {"x_forwarded_host": "backoffice.example"},
    {"x_forwarded_host": "backoffice.example, 127.0.0.1:8000"},
    {"forwarded": 'for=192.0.2.60;proto=https;host="backoffice.example"'},
    {"forwarded": "for=192.0.2.60, host=backoffice.example"},
)
"""How a proxy names the browser's host, `backoffice.example`."""


@pytest.mark.parametrize("proxy", ["127.0.0.1", "::1", "::ffff:127.0.0.1", "10.1.2.3"])
def test_a_proxys_forwarded_host_is_this_service_too(proxy: str) -> None:
    """Behind a proxy (on this machine, or a trusted one) that sends the service's address as
    `Host` and the browser's host in `X-Forwarded-Host` or `Forwarded`."""
    upstream = "127.0.0.1:8000"
    public = "https://backoffice.example"
    assert foreign_origin(via(upstream, proxy, PROXIES, {"origin": public})) == public
    for forwarded in FORWARDED:
        sent = via(upstream, proxy, PROXIES, {"origin": public, **forwarded})
        assert foreign_origin(sent) is None, forwarded
    other = via(upstream, proxy, PROXIES, {"origin": "https://evil.example",
                                           "x_forwarded_host": "backoffice.example"})  # fmt: skip
    assert foreign_origin(other) == "https://evil.example"


@pytest.mark.parametrize(
    ("client", "trusted"),
    [
        ("198.51.100.7", PROXIES),  # a browser, or a script: not a proxy
        ("10.2.0.1", PROXIES),  # next to the proxies, not one
        ("10.1.2.3", None),  # no trusted proxies configured
        ("testclient", PROXIES),  # not an address
    ],
)
def test_a_forwarded_host_from_a_client_that_is_no_trusted_proxy_is_ignored(
    client: str, trusted: TrustedHeader | None
) -> None:
    public = "https://backoffice.example"
    for forwarded in FORWARDED:
        sent = via("127.0.0.1:8000", client, trusted, {"origin": public, **forwarded})
        assert foreign_origin(sent) == public, forwarded
        assert cross_site_sign_in(sent) == FROM_ANOTHER_SITE
    ours = via("backoffice.example", client, trusted, {"origin": public})
    assert foreign_origin(ours) is None  # its own `Host` is believed, as always


def test_without_a_host_header_the_servers_address_is_this_service() -> None:
    assert foreign_origin(request(None, origin="http://10.0.0.5:8000")) is None
    assert foreign_origin(request(None, origin="https://evil.example")) == "https://evil.example"


def test_the_log_names_another_site_by_its_scheme_host_and_port_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = "https://user:secret@Evil.example:8443/buscar/cliente?cuenta=80012345#arriba"
    with caplog.at_level(logging.WARNING, logger="backoffice.http"):
        assert cross_site_sign_in(request(referer=page)) == FROM_ANOTHER_SITE
    assert "'https://evil.example:8443'" in caplog.text
    for hidden in ("user", "secret", "buscar", "cliente", "80012345", "arriba"):
        assert hidden not in caplog.text
    long = "https://" + "a" * 500 + ".example/" + "b" * 500
    found = foreign_origin(request(referer=long))
    assert found == "https://" + "a" * 100
    assert foreign_origin(request(referer="javascript:alert(document.cookie)")) == "javascript:"
    assert foreign_origin(request(origin="http://[::1")) == "(not an address)"
