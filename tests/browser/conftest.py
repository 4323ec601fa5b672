"""The console in a real browser: Playwright driving Debian's Chromium (`/usr/bin/chromium`,
`apt-get install -y chromium`; Playwright's own browser download is not used) against a real
uvicorn server on a loopback port, over the office of `tests/web/conftest.py::console_app`.

Required in CI (`CI=true`): without Chromium or the `playwright` package the tests fail
there; elsewhere they are skipped, saying why. `check_page` takes each page's screenshots at
1366×768 and at a tablet's width, checks that nothing scrolls sideways, and runs axe-core's
WCAG 2 A and AA rules on it. Screenshots go to `BACKOFFICE_SCREENSHOTS` when it is set (a
folder), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from adapters.clock import FixedClock
from application.service import Backoffice
from tests.conftest import required_in_ci
from tests.http.conftest import PASSWORD
from tests.serving import serving
from tests.stub_systems import Stub
from tests.web.conftest import claro_systems, console_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("BACKOFFICE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe-4.11.0.min.js"
SIZES = {"desktop": (1366, 768), "tablet": (768, 1024)}
"""The screens each page is checked at."""
WAIT_MS = 10_000
"""How long a browser test waits for what it expects (a live update, a page), at most."""


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Chromium, for the tests of this folder: Playwright's synchronous driver runs an event
    loop in the main thread while it lives, which code run after it (the demo's SMTP client)
    must not find: it stops when this folder's tests end."""
    missing = _missing()
    if missing is not None:
        required_in_ci(missing, "the browser (Chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


class Served:
    """The console served by uvicorn on a loopback port, and the office behind it."""

    def __init__(self, url: str, office: Backoffice, clock: FixedClock, stub: Stub) -> None:
        self.url = url
        self.office = office
        self.clock = clock
        self.stub = stub

    def case_id(self, key: str) -> str:
        return str(self.office.resolve(key))


@pytest.fixture
def served(tmp_path: Path, clock: FixedClock) -> Iterator[Served]:
    with claro_systems() as (systems, url):
        yield from _serve(tmp_path, clock, systems, url)


def _serve(tmp_path: Path, clock: FixedClock, systems: Stub, url: str) -> Iterator[Served]:
    app, _accounts, office = console_app(tmp_path, clock, "sqlite", url)
    with serving(app, "served-console") as base:
        yield Served(base, office, clock, systems)


@pytest.fixture
def signed_in(browser: Browser, served: Served) -> Iterator[Callable[..., Page]]:
    """Opens a new browser window (its own cookies) signed in as `login` through the
    sign-in page, at `width`×`height`."""
    contexts: list[Any] = []

    def open_as(login: str, width: int = 1366, height: int = 768) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale="es-CO", timezone_id="America/Bogota")  # fmt: skip
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.console_errors = errors  # type: ignore[attr-defined]
        page.goto(f"{served.url}/console/")
        page.locator("#login").fill(login)
        page.locator("#password").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(lambda url: "/sign-in" not in url)
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = os.environ.get("BACKOFFICE_SCREENSHOTS")
    target = Path(folder) if folder else tmp_path / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def check_page(screenshots: Path) -> Callable[[Page, str], None]:
    """Check the page open in `page` at each size: a screenshot, no sideways scrolling, and
    no violation of axe-core's WCAG 2 A/AA rules (labels, names, contrast, structure)."""

    def check(page: Page, name: str) -> None:
        for size, (width, height) in SIZES.items():
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_load_state("load")
            page.screenshot(path=str(screenshots / f"{name}-{size}.png"), full_page=True)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
        page.set_viewport_size({"width": 1366, "height": 768})
        # Evaluated by the driver, as a tool's script: the page's own policy allows no inline
        # script, and it must keep refusing them (`refused` below).
        page.evaluate("() => {" + AXE.read_text(encoding="utf-8") + "\n}")
        found = page.evaluate(
            """async () => {
                const result = await axe.run(document, {
                    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
                });
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact,
                    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
                }));
            }"""
        )
        assert found == [], f"{name}: accessibility violations {found}"
        refused = [m for m in page.console_errors if "Content Security" in m]  # type: ignore[attr-defined]
        assert refused == [], f"{name}: the page broke its own content security policy {refused}"

    return check
