"""The console's Jinja environment: its templates (`pages_html/`), escaped by default, with
the helpers every page uses."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

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
