"""The console's pages: server-rendered HTML over the same service, permissions and one door
for commands as the HTTP API (`entrypoints.http`); no use case lives here.

Every page reads who is asking as the API does (the session's cookie, or the trusted
proxy's header) and checks the account again; a form posts its session's CSRF token as a
field (the page works without scripts). A page does its storage work and its rendering in
one worker thread: the event loop only parses and answers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import anyio.to_thread
import attrs
from litestar import Request, Response, get, post
from litestar.enums import MediaType
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from application.access.accounts import Principal, SignInRefused
from application.access.permissions import Reading, may_command, may_give, may_read, may_take
from application.case.commands import StaleCase
from application.case.next_steps import next_steps, other_steps
from application.ports.accounts import AccessRole
from application.ports.cases import CaseQuery
from domain.calendar import BusinessCalendar
from domain.case.state import CaseState
from domain.errors import CaseNotFound, DomainError, InvalidValue
from domain.values import CaseStatus
from entrypoints.http.common import (
    Asking,
    asking_of,
    csrf_refusal,
    csrf_token,
    form_asking,
    new_session,
    record_reads,
    service_of,
)
from entrypoints.http.problems import Refused
from entrypoints.http.requests_log import note
from entrypoints.http.sessions import end_session
from entrypoints.web import views
from entrypoints.web.carried import carry, take
from entrypoints.web.forms import command_from, form_of
from entrypoints.web.i18n import LANGUAGE_COOKIE, LANGUAGES, Speaker, speaker
from entrypoints.web.origin import cross_site_sign_in
from entrypoints.web.refusals import refusal_text
from entrypoints.web.templates import PAGE_HEADERS, People, render

CONSOLE = "/console"
MY_CASES = 50
"""The agent's day lists at most this many of the agent's open cases (the most urgent)."""
TIMELINE_EVENTS = 50
"""The case page's timeline shows the latest events; the replay walks the whole history."""
STALE = (
    "The case changed while you had this page open. Here it is as it is now: check it and "
    "send the step again."
)
"""A stale form's refusal, said once, on the form (neither blaming someone else: the same
person in another tab, or the system's sweep, changes a case too)."""
HTML = MediaType.HTML


# --- who is asking -------------------------------------------------------------------------


def _speaker(request: Request[Any, Any, Any]) -> Speaker:
    return speaker(request.cookies.get(LANGUAGE_COOKIE))


def _page_asking(request: Request[Any, Any, Any]) -> Asking | None:
    """Who a page's request says it is (None: nobody signed in: the sign-in page)."""
    if request.headers.get("Authorization"):
        return None  # a token is an integration's: the console is for people
    try:
        return asking_of(request)
    except (NotAuthorizedException, Refused):
        return None


OUT_OF_DATE = "the form is out of date: reload the page and send it again"


def _form_asking(request: Request[Any, Any, Any], posted: Mapping[str, str]) -> Asking | None:
    """Who posted a form: as `asking_of`, with the session's CSRF token in the form's `csrf`
    field (a page of another site cannot post it). None: nobody signed in (a bearer token
    posts no forms); a missing or wrong token is refused, saying the form is out of date."""
    if request.headers.get("Authorization"):
        return None
    try:
        asking = form_asking(request, posted.get("csrf", ""))
    except NotAuthorizedException:
        return None
    except Refused:
        raise Refused(OUT_OF_DATE) from None
    if asking.refusal is not None:  # the proxy's user: said once the account is read
        return attrs.evolve(asking, refusal=OUT_OF_DATE)
    return asking


def _sign_in_address(request: Request[Any, Any, Any]) -> Redirect:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"{CONSOLE}/sign-in?next={quote(target, safe='')}", status_code=303)


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console address of this site only."""
    if not target:
        return f"{CONSOLE}/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{CONSOLE}/"):
        return f"{CONSOLE}/"
    return target


def _anonymous(request: Request[Any, Any, Any], template: str, **context: Any) -> str:
    """A page for someone not signed in (or whose form was refused before reading who)."""
    return render(template, t=_speaker(request), me=None, csrf="", nav=[],
                  path=request.url.path, here=here(request), languages=list(LANGUAGES),
                  **context)  # fmt: skip


def here(request: Request[Any, Any, Any]) -> str:
    """The page's address with its query (where the language's link comes back to)."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _html(body: str, status: int = 200) -> Response[str]:
    return Response(body, media_type=HTML, status_code=status, headers=PAGE_HEADERS)


def _calendar(page: Page) -> BusinessCalendar | None:
    deadlines = page.service.office.policies.deadlines
    return deadlines.calendar if deadlines is not None else None


class Page:
    """What a page's work needs: who asks (checked), how to speak, the service, the CSRF
    token of its forms; `render` gives the template with the layout's context."""

    def __init__(self, request: Request[Any, Any, Any], principal: Principal) -> None:
        self.request = request
        self.principal = principal
        self.t = _speaker(request)
        self.service = service_of(request.app.state)
        self.csrf = csrf_token(request, principal) or ""
        accounts = self.service.accounts
        self.people = People(lambda: {a.login: a.name for a in accounts.list()})
        """Who the page names, by name (`person(login)` in the templates)."""

    def may(self, reading: Reading) -> bool:
        return may_read(self.principal.role, self.principal.scope, reading) is None

    def require(self, reading: Reading) -> None:
        why = may_read(self.principal.role, self.principal.scope, reading)
        if why is not None:
            raise Refused(why)

    def record_reads(self, case_ids: Iterable[uuid.UUID], through: str) -> None:
        """Record that this page shows these cases' personal data (`console:…`)."""
        record_reads(self.service, self.principal, case_ids, through)

    def render(self, template: str, status: int = 200, **context: Any) -> Response[str]:
        body = render(
            template,
            t=self.t,
            me=self.principal,
            csrf=self.csrf,
            nav=views.navigation(self.principal.role, self.t),
            path=self.request.url.path,
            here=here(self.request),
            languages=list(LANGUAGES),
            person=self.people,
            **context,
        )
        return _html(body, status)


async def serve_page(
    request: Request[Any, Any, Any], work: Callable[[Page], Response[Any]]
) -> Response[Any]:
    """A page for a signed-in person: the account read and checked, then `work`, in one
    worker thread; the sign-in page for nobody; the error page for a refusal."""
    asking = _page_asking(request)
    if asking is None:
        return _sign_in_address(request)

    def run() -> Response[Any]:
        try:
            principal = asking.principal()
        except NotAuthorizedException:
            return _sign_in_address(request)
        page = Page(request, principal)
        return _guarded(page, lambda: work(page))

    return await anyio.to_thread.run_sync(run)


def _guarded(page: Page, work: Callable[[], Response[Any]]) -> Response[Any]:
    """`work`, or the error page for what refuses it: a role that may not (403), an unknown
    case (404)."""
    try:
        return work()
    except Refused as refused:
        return page.render("error.html", 403, title=page.t("Not allowed"),
                           message=refusal_text(str(refused.detail), page.t))  # fmt: skip
    except CaseNotFound:
        return page.render("error.html", 404, title=page.t("Case not found"),
                           message=page.t("No case answers to that reference."))  # fmt: skip


# --- signing in and out --------------------------------------------------------------------


@get(f"{CONSOLE}/sign-in", include_in_schema=False)
async def sign_in_page(
    request: Request[Any, Any, Any],
    next: FromQuery[str | None] = None,
) -> Response[str]:
    return _html(_anonymous(request, "sign_in.html", next=_safe_next(next), error=None, login=""))


@post(f"{CONSOLE}/sign-in", include_in_schema=False, status_code=303)
async def sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    """The sign-in form: the same accounts, lock-out and session cookie as `POST /session`."""
    form = await request.form()
    login = str(form.get("login", "")).strip()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")) or None)
    t = _speaker(request)
    if cross_site_sign_in(request) is not None:  # login CSRF: another site's page posting it
        body = _anonymous(request, "sign_in.html", next=target, login="",
                          error=refusal_text(OUT_OF_DATE, t))  # fmt: skip
        return _html(body, 403)
    accounts = service_of(request.app.state).accounts
    try:
        principal = await anyio.to_thread.run_sync(accounts.sign_in, login, password)
    except SignInRefused as refused:
        body = _anonymous(request, "sign_in.html", next=target, login=login[:120],
                          error=refusal_text(str(refused), t))  # fmt: skip
        return _html(body, 401)
    new_session(request, principal)
    note(request.scope, user=principal.login)
    return Redirect(target, status_code=303)


@post(f"{CONSOLE}/sign-out", include_in_schema=False, status_code=303)
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    """Sign out: the form's CSRF token checked (another site cannot sign one out), and no
    more, as `DELETE /session`: who the session's account is now is not asked, so that
    someone who left the roster or was disabled signs out too. A password's session ends
    for good, with every session of its account issued before (`end_session`), and its
    cookie is cleared."""
    session = request.session if "session" in request.scope else {}
    if isinstance(session, dict) and session.get("login"):
        posted = await request.form()
        if csrf_refusal(request, session, str(posted.get("csrf", ""))) is not None:
            t = _speaker(request)
            return _html(_anonymous(request, "error.html", title=t("Not allowed"),
                                    message=refusal_text(OUT_OF_DATE, t)), 403)  # fmt: skip
        accounts = service_of(request.app.state).accounts
        await anyio.to_thread.run_sync(end_session, accounts, session)
    request.clear_session()
    return Redirect(f"{CONSOLE}/sign-in", status_code=303)


@get(f"{CONSOLE}/language/{{language:str}}", include_in_schema=False)
async def choose_language(
    language: FromPath[str],
    next: FromQuery[str | None] = None,
) -> Response[Any]:
    """Speak `language` from now on (a cookie for a year), back to the page it was chosen on."""
    if language not in LANGUAGES:
        language = "es-CO"
    response: Response[Any] = Redirect(_safe_next(next), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86_400, samesite="lax",
                        httponly=True)  # fmt: skip
    return response


# --- the pages -------------------------------------------------------------------------------


@get(f"{CONSOLE}/", include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    """Each role's first page: the agent's day; the board for a supervisor; the indicators for
    coordinators and managers; the case search for an auditor."""

    def work(page: Page) -> Response[Any]:
        return Redirect(views.home_of(page.principal.role), status_code=303)

    return await serve_page(request, work)


@get(f"{CONSOLE}/day", include_in_schema=False)
async def day(request: Request[Any, Any, Any]) -> Response[Any]:
    """My day: my shift today (from the roster and the shifts); follow-ups due today, overdue
    first, in the order of the customer's time; my open cases, the clock nearest its warning
    or breach first; the search box."""
    from entrypoints.web.board import team_of

    def work(page: Page) -> Response[Any]:
        page.require(Reading.CASES)
        office = page.service.office
        now = office.clock.now()
        today = BusinessCalendar.local_date(now)
        end = BusinessCalendar.end_of(today)
        login = page.principal.login
        team = team_of(office)
        shift = next((p for p in team.day(today) if p.agent == login), None)
        due = office.due_follow_ups(end, agent=login)
        # My open cases: the breached first, then those at warning, then the others by
        # their next follow-up, at most a page of them (the index picks; whole cases are
        # read only for the page and today's calls).
        mine = CaseQuery(agent=login, status=CaseStatus.OPEN, limit=MY_CASES)
        picked: dict[Any, None] = {}
        for query in (attrs.evolve(mine, breached=True), attrs.evolve(mine, warned=True), mine):
            for summary in office.cases(query):
                if len(picked) < MY_CASES:
                    picked.setdefault(summary.case_id, None)
        for d in due:
            picked.setdefault(d.case_id, None)
        states = {case_id: office.case(case_id) for case_id in picked}
        calendar = _calendar(page)
        shown = [states[case_id] for case_id in list(picked)[:MY_CASES]]
        page.record_reads(states, "console:day")  # the customers' names
        return page.render(
            "day.html",
            title=page.t("My day"),
            today=today,
            roster_in_use=team.in_use(),
            shift=shift,
            working=shift is not None and shift.working_at(now, today),
            due=views.due_rows(due, list(states.values()), now),
            cases=views.open_case_rows(shown, now, calendar, page.t),
            open_count=office.count(attrs.evolve(mine, limit=1)),
        )

    return await serve_page(request, work)


@get(f"{CONSOLE}/cases", include_in_schema=False)
async def cases(
    request: Request[Any, Any, Any],
    q: FromQuery[str | None] = None,
    filter: FromQuery[str | None] = None,
) -> Response[Any]:
    """The case search (account, phone, CUN, customer, case key) and the queue's filters."""

    def work(page: Page) -> Response[Any]:
        page.require(Reading.CASES)
        search = (q or "").strip() or None
        try:
            query = CaseQuery(search=search, limit=100, unassigned=filter == "unassigned",
                              missed=filter == "missed", waiting=filter == "waiting",
                              warned=filter == "warned", breached=filter == "breached")  # fmt: skip
            found = page.service.office.cases(query)
            error = None
            if search:  # found by the customer's account, phone or name: a read of each
                page.record_reads((s.case_id for s in found), "console:cases?search")
        except InvalidValue as invalid:
            found, error = [], refusal_text(str(invalid), page.t)
        return page.render("cases.html", title=page.t("Cases"), q=search or "",
                           filter=filter, filters=views.FILTERS, found=found,
                           error=error)  # fmt: skip

    return await serve_page(request, work)


@get(f"{CONSOLE}/cases/{{reference:str}}", include_in_schema=False)
async def case_page(
    request: Request[Any, Any, Any],
    reference: FromPath[str],
    done: FromQuery[str | None] = None,
) -> Response[Any]:
    """The case, its clocks, its notes, what the procedure asks next (forms), its timeline;
    `done`: the step just recorded (said at the top)."""

    def work(page: Page) -> Response[Any]:
        page.require(Reading.CASES)
        state = page.service.office.case(reference)
        note(request.scope, case=str(state.case_id))
        refused = _refusal_carried(request, state.case_id)
        if refused is not None:  # a form refused a moment ago, sent here (Post/Redirect/Get)
            return _case(page, state, **refused)
        kind = views.COMMAND_BY_NAME.get(done or "")
        return _case(page, state, done=views.title_of(kind, page.t) if kind else None)

    return await serve_page(request, work)


REFUSED = "refused"
"""The session's key for a refused form's outcome, kept for the case page it is sent to."""
REFUSED_MOST = 2_000
"""The most characters of typed values carried in the session cookie: it is sent with every
request, and past one 4 KB cookie a proxy's header limit (8 KB is common) may refuse them
all; a form with more is answered in place, on its POST address, as before."""


def _refused(page: Page, case_id: uuid.UUID, *, status: int, failed: str,
             posted: Mapping[str, str], error: str, stale: bool = False,
             error_field: str | None = None) -> Response[Any]:  # fmt: skip
    """A refused form of the case page: its outcome (why, on which form, what was typed) kept
    in the session and the browser sent to the case page, so that its address is the case's
    and a reload does not post the form again; the page shows it once. A form too long to
    carry in the session's cookie is answered here, as it was."""
    typed = {k: v for k, v in posted.items() if k not in ("csrf", "version")}
    carried = {
        "case": str(case_id), "status": status, "failed": failed, "error": error,
        "stale": stale, "error_field": error_field, "posted": typed,
    }  # fmt: skip
    request = page.request
    if "session" not in request.scope or len(json.dumps(typed)) > REFUSED_MOST:
        fresh = page.service.office.case(case_id)
        return _case(page, fresh, status=status, failed=failed, posted=posted, error=error,
                     stale=stale, error_field=error_field)  # fmt: skip
    carry(request, REFUSED, carried)
    return Redirect(f"{CONSOLE}/cases/{case_id}#step-{failed}", status_code=303)


def _refusal_carried(request: Request[Any, Any, Any], case_id: uuid.UUID) -> dict[str, Any] | None:
    """The refused form's outcome the session carries for this case (taken out: shown once),
    as `_case` takes it; None when there is none, or it is older than `CARRIED_SECONDS`."""
    carried = take(request, REFUSED, lambda c: c.get("case") == str(case_id))
    if carried is None:
        return None
    posted = carried.get("posted")
    return {
        "status": int(carried["status"]),
        "failed": str(carried["failed"]),
        "error": str(carried["error"]),
        "stale": bool(carried.get("stale")),
        "error_field": carried.get("error_field"),
        "posted": {str(k): str(v) for k, v in posted.items()} if isinstance(posted, dict) else {},
    }


def _case(
    page: Page,
    state: CaseState,
    *,
    status: int = 200,
    failed: str | None = None,
    error: str | None = None,
    posted: Mapping[str, str] | None = None,
    stale: bool = False,
    error_field: str | None = None,
    done: str | None = None,
) -> Response[str]:
    office = page.service.office
    now = office.clock.now()
    calendar = _calendar(page)
    offered = next_steps(state)
    others = other_steps(state, offered)
    kind = views.COMMAND_BY_NAME.get(failed or "")
    if kind is not None and kind not in offered and kind not in others:
        offered.insert(0, kind)  # the form sent stays on the page, with its values and why
    role, scope, me = page.principal.role, page.principal.scope, page.principal.login

    def allowed(command: type) -> bool:
        return may_give(role, scope, command) is None

    shown = (state, page.t, me, office.policies.markings)
    page.record_reads([state.case_id], "console:case")
    history: list[Any] = []
    if page.may(Reading.HISTORY):  # the latest events: the replay walks a long history
        after = max(0, state.version - TIMELINE_EVENTS)
        history = list(office.store.events_of(state.case_id, after=after))
    return page.render(
        "case.html",
        status,
        title=f"{page.t('Case')} {state.source.key}",
        case=state,
        now=now,
        clocks=views.clock_rows(state, now, calendar, page.t),
        next_forms=_named(
            [views.form_view(form_of(c), *shown) for c in offered if allowed(c)], page, state
        ),
        other_forms=_named(
            [views.form_view(form_of(c), *shown) for c in others if allowed(c)], page, state
        ),
        failed=failed,
        error=error,
        posted=posted or {},
        stale=stale,
        error_field=error_field,
        done=done,
        timeline=views.timeline(history, page.t, page.people.name),
        actor_text=lambda actor: views.actor_text(actor, page.t),
        source_text=lambda key, channel: views.source_text(key, channel, page.t),
        timeline_cut=state.version > TIMELINE_EVENTS,
        may_replay=page.may(Reading.REPLAY),
    )


def _named(forms: list[views.FormView], page: Page, state: CaseState) -> list[views.FormView]:
    """The forms with an agent to choose (assigning the case) offering the agents by name:
    the agents' accounts that may sign in, and the case's agent (login kept as the value)."""
    if not any(f.field.name == "agent" for form in forms for f in form.fields):
        return forms
    logins = {a.login for a in page.service.accounts.list()
              if a.role is AccessRole.AGENT and not a.disabled}  # fmt: skip
    if state.agent:
        logins.add(state.agent)
    people = page.people
    agents = tuple(sorted(((login, people.label(login)) for login in logins),
                          key=lambda choice: choice[1].casefold()))  # fmt: skip

    def offering(form: views.FormView) -> views.FormView:
        fields = tuple(attrs.evolve(f, choices=agents) if f.field.name == "agent" else f
                       for f in form.fields)  # fmt: skip
        return attrs.evolve(form, fields=fields)

    return [offering(form) for form in forms]


async def serve_form(
    request: Request[Any, Any, Any], work: Callable[[Page, dict[str, str]], Response[Any]]
) -> Response[Any]:
    """A form posted by a signed-in person: its CSRF token checked, the account read and
    checked, then `work(page, posted)`, in one worker thread; the sign-in page for nobody;
    the error page for a refusal (an out-of-date form, a role that may not)."""
    posted = {k: str(v) for k, v in (await request.form()).items()}
    try:
        asking = _form_asking(request, posted)
    except Refused as refused:
        t = _speaker(request)
        return _html(_anonymous(request, "error.html", title=t("Not allowed"),
                                message=refusal_text(str(refused.detail), t)), 403)  # fmt: skip
    if asking is None:
        return _sign_in_address(request)

    def run() -> Response[Any]:
        try:
            principal = asking.principal()
        except NotAuthorizedException:
            return _sign_in_address(request)
        except Refused as refused:
            t = _speaker(request)
            return _html(_anonymous(request, "error.html", title=t("Not allowed"),
                                    message=refusal_text(str(refused.detail), t)), 403)  # fmt: skip
        page = Page(request, principal)
        return _guarded(page, lambda: work(page, posted))

    return await anyio.to_thread.run_sync(run)


@post(f"{CONSOLE}/cases/{{reference:str}}/do/{{command:str}}", include_in_schema=False)
async def do(
    request: Request[Any, Any, Any], reference: FromPath[str], command: FromPath[str]
) -> Response[Any]:
    """A form of the case page: the command it gives, through the one door, as the signed-in
    user, on the version of the case the page showed (someone else's change in between is
    said, not overwritten). A refusal is shown on the form, in the user's language; a role
    that may not give the command, or not read cases at all, sees the error page only."""
    kind = views.COMMAND_BY_NAME.get(command)

    def work(page: Page, posted: dict[str, str]) -> Response[Any]:
        page.require(Reading.CASES)
        principal, office = page.principal, page.service.office
        if kind is None:
            return page.render("error.html", 404, title=page.t("Not found"),
                               message=page.t("The console has no such step."))  # fmt: skip
        why = may_give(principal.role, principal.scope, kind)
        if why is not None:
            raise Refused(why)
        state = office.case(reference)
        note(request.scope, case=str(state.case_id))
        seen = posted.get("version", "")
        if not seen.isdigit():
            raise Refused(OUT_OF_DATE)
        try:
            given = command_from(kind, state.case_id, posted)
            why = may_command(principal.role, principal.scope, given, principal.login)
            why = why or may_take(principal.role, principal.login, given, state.agent)
            if why is not None:
                return _refused(page, state.case_id, status=403, failed=command, posted=posted,
                                error=refusal_text(why, page.t))  # fmt: skip
            page.service.door.handle(given, principal.actor, expected_version=int(seen))
        except StaleCase:
            return _refused(page, state.case_id, status=409, failed=command, stale=True,
                            posted=posted, error=page.t(STALE))  # fmt: skip
        except InvalidValue as invalid:
            return _refused(page, state.case_id, status=422, failed=command, posted=posted,
                            error=refusal_text(str(invalid), page.t),
                            error_field=invalid.field)  # fmt: skip
        except (DomainError, ValueError) as refused:
            return _refused(page, state.case_id, status=422, failed=command, posted=posted,
                            error=refusal_text(str(refused), page.t))  # fmt: skip
        address = f"{CONSOLE}/cases/{quote(reference, safe='')}?done={command}#result"
        return Redirect(address, status_code=303)

    return await serve_form(request, work)


ROUTES: list[Any] = [sign_in_page, sign_in, sign_out, choose_language, home, day, cases,
                     case_page, do]  # fmt: skip
"""The console's core pages (`entrypoints.web.routes` adds the board, the indicators, the
replay and the static files)."""
