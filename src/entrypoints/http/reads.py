"""The register of reads of personal data over HTTP, for the auditor: `GET /audit/reads` (JSON)
and `GET /audit/reads.csv` (a download), as `backoffice audit reads` gives it; see `ROUTES`.

Who may: whoever `Reading.READS` names in `application.access.permissions` (the auditor). The
register is read as it is (`application.ports.reads.ReadRegister.reads`), oldest first (by
`at`, then by each read's `id`), a page at a time: `limit` reads, then the next page with
`after` the last one's `id`; reading it is not itself recorded (it shows case ids and logins,
no customer's data).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import attrs
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from application.access.permissions import Reading
from application.ports.reads import EXPORT_COLUMNS, MAX_READ_ID, PersonalRead, UnknownRead
from domain.errors import InvalidValue
from entrypoints.http.common import Asking, Service, query_moment, require, service_of

DEFAULT_ROWS = 1_000
MAX_ROWS = 100_000


@attrs.frozen(kw_only=True)
class ReadOut:
    """One read of a case's personal data: when (UTC), who (the signed-in login), which case,
    and what showed it (an HTTP route's template, or a console page `console:…`)."""

    id: int
    """The read's number in the register: give the last of a page as `after` for the next."""
    at: datetime
    reader: str
    case: str | None
    """The case's source key (`crm:CRM-260001`); null when the case index does not know it."""
    case_id: uuid.UUID
    through: str


CaseParameter = Annotated[
    str | None,
    QueryParameter(required=False, description="Only this case's reads (its id or source key)"),
]
ReaderParameter = Annotated[
    str | None, QueryParameter(required=False, description="Only this login's reads")
]
SinceParameter = Annotated[
    datetime | None,
    QueryParameter(required=False, description="From this moment on, included (with offset)"),
]
UntilParameter = Annotated[
    datetime | None,
    QueryParameter(required=False, description="Before this moment, excluded (with offset)"),
]
AfterParameter = Annotated[
    int | None,
    QueryParameter(
        required=False, ge=1, le=MAX_READ_ID,
        description="Only the reads after this one (its id: the last of the page before), by "
        "moment then id; a 422 when the register has no read with this id",
    ),
]  # fmt: skip
LimitParameter = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_ROWS, description="At most this many reads, the oldest first"),
]


def _found(
    asking: Asking,
    request: Request[Any, Any, Any],
    case: str | None,
    reader: str | None,
    since: datetime | None,
    until: datetime | None,
    after: int | None,
    limit: int,
) -> Sequence[tuple[PersonalRead, str | None]]:
    """The reads the auditor asked for (in the handler's worker thread), with the source key
    of each read's case (None where the case index has none)."""
    principal = asking.principal()
    require(principal, Reading.READS)
    query_moment("since", since)
    query_moment("until", until)
    service: Service = service_of(request.app.state)
    assert service.reads is not None, "the application opens the register at start-up"
    case_ids = None if case is None else [service.office.resolve(case)]
    who = reader.strip().lower() if reader is not None else None
    try:
        found = service.reads.reads(case_ids=case_ids, reader=who or None, since=since,
                                    until=until, after=after, limit=limit)  # fmt: skip
    except UnknownRead as unknown:
        raise InvalidValue("after", str(unknown)) from None
    sources = service.office.index.sources_of([r.case_id for r in found])
    return [(r, str(sources[r.case_id]) if r.case_id in sources else None) for r in found]


@get("/audit/reads", sync_to_thread=True, summary="Who read what", tags=["audit"])
def audit_reads(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    case: CaseParameter = None,
    reader: ReaderParameter = None,
    since: SinceParameter = None,
    until: UntilParameter = None,
    after: AfterParameter = None,
    limit: LimitParameter = DEFAULT_ROWS,
) -> list[ReadOut]:
    """The register of reads of cases' personal data (the API's case, history, search and
    live events; the console's case, replay, day and search pages), oldest first: each read's
    id, when, who, which case, through what; narrowed by case, reader and time, a page at a
    time (`limit`, then `after` the page's last id). For the auditor."""
    found = _found(asking, request, case, reader, since, until, after, limit)
    return [
        ReadOut(
            id=_id(r), at=r.at, reader=r.reader, case=source, case_id=r.case_id, through=r.through
        )
        for r, source in found
    ]


def _id(read: PersonalRead) -> int:
    assert read.id is not None, "the register gives every read it lists its id"
    return read.id


@get("/audit/reads.csv", sync_to_thread=True, summary="Who read what, as CSV", tags=["audit"],
     media_type="text/csv")  # fmt: skip
def audit_reads_csv(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    case: CaseParameter = None,
    reader: ReaderParameter = None,
    since: SinceParameter = None,
    until: UntilParameter = None,
    after: AfterParameter = None,
    limit: LimitParameter = DEFAULT_ROWS,
) -> Response[str]:
    """The same as a CSV download (`id`, then `at` in UTC, ISO 8601), as `backoffice audit
    reads --csv`."""
    from entrypoints import render

    found = _found(asking, request, case, reader, since, until, after, limit)
    out = io.StringIO()
    rows = [r.as_row(source or "") for r, source in found]
    render.write_csv(out, rows, EXPORT_COLUMNS)  # spreadsheet-safe
    name = "personal-reads.csv"
    disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": disposition})  # fmt: skip


ROUTES: list[Any] = [audit_reads, audit_reads_csv]
