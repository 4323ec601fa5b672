"""The web console: the agent's day, the case page with the procedure's next steps, the
supervisor's board, the indicators and the auditor's replay, server-rendered (Jinja) with a
little htmx, in Spanish (Colombia) by default. Served by `backoffice serve` beside the HTTP
API (`entrypoints.http`), over the same service, permissions and one door for commands."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).parent / "static"
"""The console's own style sheet, scripts and icon (`favicon.svg`, which every page links),
and the vendored htmx (with its licence)."""


def routes() -> list[Any]:
    """The console's pages, its static files and `/favicon.ico`."""
    from litestar import get
    from litestar.datastructures import CacheControlHeader
    from litestar.static_files import create_static_files_router

    from entrypoints.web.board import ROUTES as BOARD_ROUTES
    from entrypoints.web.indicators import ROUTES as INDICATORS_ROUTES
    from entrypoints.web.pages import ROUTES
    from entrypoints.web.replay import ROUTES as REPLAY_ROUTES
    from entrypoints.web.templates import STATIC

    files = create_static_files_router(
        path=STATIC,
        directories=[ASSETS],
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=365 * 86_400, public=True),
        name="console-static",
    )

    @get("/favicon.ico", status_code=204, include_in_schema=False, sync_to_thread=False,
         cache_control=CacheControlHeader(max_age=86_400, public=True))  # fmt: skip
    def favicon() -> None:
        """No icon here: the console's pages link theirs (`favicon.svg`); a browser (or a tool)
        that asks this address anyway, as for the API's pages, gets an empty answer it keeps
        for a day, not a 404 in the log."""

    return [*ROUTES, *REPLAY_ROUTES, *BOARD_ROUTES, *INDICATORS_ROUTES, files, favicon]


Handler = Callable[[Any, Any], Any]

ERROR_TITLES = {
    401: "Sign in",
    403: "Not allowed",
    404: "Not found",
    409: "That cannot be done now",
    412: "The case changed",
    422: "That cannot be done",
    503: "A system is not answering",
}


def with_console_pages(handlers: Mapping[Any, Handler]) -> dict[Any, Handler]:
    """The API's error handlers (problem details), each answering an HTML page instead for the
    console's addresses (an unknown page, a storage failure…), in the user's language."""

    def wrap(api: Handler) -> Handler:
        def handle(request: Any, error: Any) -> Any:
            answer = api(request, error)
            path: str = request.url.path
            if not path.startswith("/console/") or path.startswith("/console/static/"):
                return answer
            return error_page(request, answer.status_code, answer.content)

        return handle

    return {kind: wrap(handler) for kind, handler in handlers.items()}


def error_page(request: Any, status: int, problem: Any) -> Any:
    """The console's page for an error the API would answer as `problem`."""
    from litestar import Response

    from entrypoints.web.i18n import LANGUAGE_COOKIE, LANGUAGES, speaker
    from entrypoints.web.refusals import refusal_text
    from entrypoints.web.templates import PAGE_HEADERS, render

    t = speaker(request.cookies.get(LANGUAGE_COOKIE))
    detail = problem.get("detail", "") if isinstance(problem, dict) else ""
    kind = problem.get("type", "") if isinstance(problem, dict) else ""
    if (status >= 500 and status != 503) or not detail:
        message = t("Something went wrong. It was logged; try again.")
    elif status in (404, 405) and str(kind).startswith("urn:backoffice:http-"):
        message = t("No page of the console answers to this address.")  # the router's words
    else:
        message = refusal_text(str(detail), t)
    title = t(ERROR_TITLES.get(status, "Something went wrong"))
    body = render("error.html", t=t, me=None, csrf="", nav=[], path=request.url.path,
                  here=request.url.path, languages=list(LANGUAGES), title=title,
                  message=message)  # fmt: skip
    return Response(body, status_code=status, media_type="text/html", headers=PAGE_HEADERS)
