"""The console's Jinja environment: its templates (`pages_html/`), escaped by default, with
the helpers every page uses."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

PAGES = Path(__file__).parent / "pages_html"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PAGES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals["static"] = static_address
    env.globals["language_names"] = {"es-CO": "Español", "en": "English"}
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


STATIC = "/console/static"

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
"""What every console answer carries: not kept by caches (it shows customers' data), scripts
and styles only from the console itself, never inside another site's frame (a click there
must not reassign cases), no address with a search in it sent to another site."""


@functools.cache
def static_address(name: str) -> str:
    """A static file's address, with its content's digest so a new release is fetched again
    (the files are cached for a year)."""
    import hashlib

    from entrypoints.web import ASSETS

    digest = hashlib.sha256((ASSETS / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC}/{name}?v={digest}"


class People:
    """The people a page names, by their names (the accounts' names given by
    `backoffice users add`), the login kept beside it: on the page as the name with the login
    as its title, in a list's option as "name (login)". Read once per page, the first time
    the page names someone; a login with no account (a roster's agent who never signs in)
    is shown as it is."""

    def __init__(self, read: Callable[[], Mapping[str, str]]) -> None:
        self._read = read
        self._names: Mapping[str, str] | None = None
        self._lock = threading.Lock()

    def name(self, login: str) -> str:
        """The person's name, or the login when there is none."""
        with self._lock:
            if self._names is None:
                self._names = dict(self._read())
            name = self._names.get(login, "").strip()
        return name or login

    def __call__(self, login: str | None, nobody: str = "") -> Markup:
        """The person as the page shows them: the name, the login as its title (`nobody`
        when there is no one)."""
        if not login:
            return Markup.escape(nobody)
        name = self.name(login)
        if name == login:
            return Markup('<span class="person">{}</span>').format(login)
        return Markup('<span class="person" title="{}">{}</span>').format(login, name)

    def label(self, login: str) -> str:
        """The person in plain text, as a list's option shows them: "name (login)"."""
        name = self.name(login)
        return login if name == login else f"{name} ({login})"
