"""The console's icon: every page links its own (`static/favicon.svg`), so a browser's first
page load asks for nothing that is not there; `/favicon.ico`, which a browser or a tool may
still ask for (the API's pages link no icon), answers an empty 204, not a 404 in the log."""

from __future__ import annotations

import re

from tests.web.conftest import Console

ICON = re.compile(
    r'<link rel="icon" type="image/svg\+xml" href="(/console/static/favicon\.svg\?v=\w+)">'
)


def test_every_page_links_the_consoles_own_icon(console: Console) -> None:
    signing_in = console.get("/console/sign-in")
    assert signing_in.status_code == 200
    linked = ICON.search(console.page)
    assert linked is not None, console.page[:600]
    icon = console.client.get(linked.group(1))
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.lstrip().startswith("<svg")
    console.sign_in("maria.b")
    assert ICON.search(console.page) is not None  # the agent's day, as every page (base.html)
    console.get("/console/no-such-page")
    assert ICON.search(console.page) is not None  # the error pages too


def test_favicon_ico_is_an_empty_answer_not_a_404(console: Console) -> None:
    console.client.cookies.clear()
    answer = console.client.get("/favicon.ico")
    assert answer.status_code == 204
    assert answer.content == b""
    assert "max-age=86400" in answer.headers["cache-control"]
