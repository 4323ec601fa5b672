"""Whether a sign-in was sent by a page of this service or by another site's
(`entrypoints.web.origin`): the `Origin` header, or without it the `Referer`, against the
request's own host and port (and a proxy's forwarded host)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Request

from entrypoints.web.origin import FROM_ANOTHER_SITE, cross_site_sign_in, foreign_origin


def request(host: str | None = "office.example:8000", **headers: str) -> Request[Any, Any, Any]:
    """A `POST /console/sign-in` sent to `host` (None: no `Host` header: the server's
    address, 10.0.0.5:8000), with `headers` (underscores for dashes)."""
    sent = [] if host is None else [(b"host", host.encode())]
    sent += [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    scope: dict[str, Any] = {
        "type": "http", "method": "POST", "path": "/console/sign-in", "raw_path": b"",
        "query_string": b"", "headers": sent, "scheme": "http",
        "server": ("10.0.0.5", 8000), "root_path": "",
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
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://office.example:8001"},  # another port: another origin
        {"origin": "http://office.example"},  # port 80, not 8000
        {"origin": "http://office.example.evil.example:8000"},
        {"origin": "null"},  # a sandboxed page, a redirect between sites
        {"origin": "file://"},
        {"origin": "http://office.example:99999"},  # no port: not an address
        {"referer": "https://evil.example/form.html"},
        {"origin": "https://evil.example", "referer": "http://office.example:8000/console/"},
    ],
)
def test_a_post_from_another_sites_page_is_refused(
    headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    sent = headers.get("origin") or headers["referer"]
    assert foreign_origin(request(**headers)) == sent
    assert cross_site_sign_in(request(**headers)) == FROM_ANOTHER_SITE
    assert "another site" in caplog.text


def test_the_default_port_is_the_browsers_schemes() -> None:
    assert foreign_origin(request("office.example", origin="https://office.example")) is None
    assert foreign_origin(request("office.example:443", origin="https://office.example")) is None
    assert foreign_origin(request("office.example", origin="http://office.example")) is None
    assert foreign_origin(request("[::1]:8000", origin="http://[::1]:8000")) is None
    assert foreign_origin(request("office.example:443", origin="http://office.example"))


def test_a_proxys_forwarded_host_is_this_service_too() -> None:
    """Behind a proxy that sends the service's address as `Host` and the browser's host in
    `X-Forwarded-Host` or `Forwarded`."""
    upstream = "127.0.0.1:8000"
    public = "https://backoffice.example"
    assert foreign_origin(request(upstream, origin=public)) == public
    for forwarded in (
        {"x_forwarded_host": "backoffice.example"},
        {"x_forwarded_host": "backoffice.example, 127.0.0.1:8000"},
        {"forwarded": 'for=192.0.2.60;proto=https;host="backoffice.example"'},
        {"forwarded": "for=192.0.2.60, host=backoffice.example"},
    ):
        assert foreign_origin(request(upstream, origin=public, **forwarded)) is None, forwarded
    other = request(upstream, origin="https://evil.example", x_forwarded_host="backoffice.example")
    assert foreign_origin(other) == "https://evil.example"


def test_without_a_host_header_the_servers_address_is_this_service() -> None:
    assert foreign_origin(request(None, origin="http://10.0.0.5:8000")) is None
    assert foreign_origin(request(None, origin="https://evil.example")) == "https://evil.example"


def test_a_long_foreign_origin_is_cut_for_the_log() -> None:
    long = "https://evil.example/" + "a" * 500
    found = foreign_origin(request(referer=long))
    assert found is not None
    assert len(found) == 100
