"""Imports over HTTP (CRM exports, e-mails, surveys, monitorings, roster, shifts,
practices) and e-mail intake: see `ROUTES`.

Each import is what the CLI's command does (`backoffice ingest`, `ingest-mail`,
`import-surveys`, `import-quality`, `import-roster`, `import-shifts`, `import-practices`): the
same reader of `adapters.intake`, the same function of the application, the same report.
The readers read files: each upload is written to a private temporary folder under its own
name (the reader tells the format by the extension), read, and deleted.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any

import attrs
from litestar import Request, Response, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import Body, RawBody

from application.access.accounts import Principal
from application.access.permissions import Import, may_hand_over, may_import
from domain.case.state import CaseState
from domain.errors import InvalidValue
from entrypoints.http.common import (
    Asking,
    IdempotencyKey,
    hand_over,
    idempotent,
    note_claimed_user,
    refused_first,
    service_of,
)
from entrypoints.http.problems import (
    BadBody,
    ExceptionHandler,
    Refused,
    UnsupportedBody,
    answer_for,
    problem,
)
from entrypoints.http.requests_log import note

if TYPE_CHECKING:
    from application.intake.records import IngestReport
    from application.service import Backoffice

IMPORT_MAX_BYTES = 50_000_000
"""The largest upload an import takes (50 MB, the whole multipart body); larger: 413."""
MESSAGE_MAX_BYTES = 10_000_000
"""The largest e-mail `POST /intake/mail` takes (10 MB); larger: 413."""
MAX_NAME = 200
"""The longest file name taken (a file system's limit is 255 bytes)."""

# --- what goes over the wire ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FileUpload:
    """One file as the multipart form's field `file`; its name's extension says its format."""

    file: UploadFile


@attrs.frozen(kw_only=True)
class MailUpload:
    """E-mails as `.eml` files, each a part of the multipart form's field `files`."""

    files: list[UploadFile]


@attrs.frozen(kw_only=True)
class Rejection:
    """A row (or a message) not imported: where (file and line), the field at fault, why.
    Never the customer's data."""

    location: str
    field: str | None
    reason: str


@attrs.frozen(kw_only=True)
class ImportReport:
    """What an import did, as the CLI's `--json` says it: rows read, cases (or facts)
    created, repeat contacts recorded on open cases, rows already known (re-sending a file
    adds nothing), and the rejected rows (the first 1,000; `rejected_count` all of them),
    the good rows being kept. `differing`: rows of a case already known whose values differ
    from it (said, not re-applied)."""

    read: int
    created: int
    repeat_contacts: int
    already_known: int
    rejected_count: int
    rejected: list[Rejection]
    differing_count: int
    differing: list[Rejection]

    @classmethod
    def of(cls, report: IngestReport) -> ImportReport:
        from entrypoints import render

        shown = render.report_json(report)
        return cls(
            **{key: value for key, value in shown.items() if key not in ("rejected", "differing")},
            rejected=[Rejection(**row) for row in shown["rejected"]],
            differing=[Rejection(**row) for row in shown["differing"]],
        )


@attrs.frozen(kw_only=True)
class MailHandedOver:
    """What intake did with an e-mail: `created`, `repeat_contact` (recorded on the open case
    it repeats) or `known` (handed over before, by its Message-ID: nothing new)."""

    outcome: str
    case: CaseState


class NothingRead(HTTPException):
    """No row of the upload could be read (no header, other columns, not text): 422, with
    each rejection, as the CLI's exit 2."""

    status_code = 422

    def __init__(self, report: ImportReport) -> None:
        super().__init__(detail="nothing could be read from the upload")
        self.report = report


def _nothing_read(request: Request[Any, Any, Any], error: NothingRead) -> Response[Any]:
    first = error.report.rejected[0] if error.report.rejected else None
    detail = f"nothing could be read: {first.location}: {first.reason}" if first else error.detail
    return problem(
        422, "nothing-read", "Nothing could be read", detail,
        errors=[attrs.asdict(row) for row in error.report.rejected],
        report=attrs.asdict(error.report),
    )  # fmt: skip


# --- the uploads as files --------------------------------------------------------------------


def _name(upload: UploadFile) -> str:
    """The upload's file name, without any folder a client put in it."""
    name = PurePosixPath((upload.filename or "").replace("\\", "/")).name.strip()
    if name in ("", ".", "..") or "\x00" in name:
        raise InvalidValue("file", "give the file's name: its extension says its format")
    if len(name) > MAX_NAME:
        raise InvalidValue("file", f"a file name of at most {MAX_NAME} characters")
    return name


def _extension(name: str) -> str:
    path = PurePosixPath(name.lower())
    if path.suffix == ".gz" and len(path.suffixes) > 1:
        return "".join(path.suffixes[-2:])
    return path.suffix


@contextmanager
def _saved(uploads: Sequence[UploadFile]) -> Iterator[list[Path]]:
    """The uploads as files of a private temporary folder (each in its own sub-folder: two
    may share a name), deleted afterwards, and the uploads closed."""
    try:
        with tempfile.TemporaryDirectory(prefix="backoffice-upload-") as folder:
            paths = []
            for number, upload in enumerate(uploads):
                place = Path(folder) / str(number)
                place.mkdir()
                path = place / _name(upload)
                upload.file.seek(0)
                with path.open("xb") as copy:
                    shutil.copyfileobj(upload.file, copy)
                paths.append(path)
            yield paths
    finally:
        for upload in uploads:
            upload.file.close()


# --- each kind of import ---------------------------------------------------------------------

TABLES = (".csv", ".txt", ".jsonl", ".ndjson")
"""The survey, quality, roster, shift and practice exports: CSV (`;` or `,`), or JSON Lines."""


def _crm(office: Backoffice, paths: list[Path]) -> IngestReport:
    from adapters.intake.crm_export import CrmExportReader

    return office.ingest(itertools.chain.from_iterable(CrmExportReader(p).items() for p in paths))


def _mail(office: Backoffice, paths: list[Path]) -> IngestReport:
    from adapters.intake.mail import MailReader

    return office.ingest(itertools.chain.from_iterable(MailReader(p).items() for p in paths))


def _surveys(office: Backoffice, paths: list[Path]) -> IngestReport:
    from adapters.intake.surveys import SurveyExportReader
    from application.intake.surveys import import_surveys

    [path] = paths
    return import_surveys(office, SurveyExportReader(path).items())


def _monitorings(office: Backoffice, paths: list[Path]) -> IngestReport:
    from adapters.intake.surveys import MonitoringExportReader
    from application.intake.surveys import import_monitorings

    [path] = paths
    return import_monitorings(office, MonitoringExportReader(path).items())


def _roster(office: Backoffice, paths: list[Path]) -> IngestReport:
    from adapters.intake.team import RosterReader
    from application.team.imports import import_roster

    [path] = paths
    return import_roster(office, RosterReader(path).items())


def _shifts(office: Backoffice, paths: list[Path]) -> IngestReport:
    from adapters.intake.team import ShiftReader
    from application.team.imports import import_shifts

    [path] = paths
    return import_shifts(office, ShiftReader(path).items())


def _practices(office: Backoffice, paths: list[Path]) -> IngestReport:
    from adapters.intake.team import PracticeReader
    from application.team.imports import import_practices

    [path] = paths
    return import_practices(office, PracticeReader(path).items())


@attrs.frozen(kw_only=True)
class _Kind:
    kind: Import
    run: Callable[[Backoffice, list[Path]], IngestReport]
    extensions: tuple[str, ...]
    """What the file names may end with (lower case)."""
    expected: str
    """What the file is, as a refusal says it."""
    summary: str


KINDS = (
    _Kind(kind=Import.CRM, run=_crm, summary="Import a CRM export",
          extensions=tuple(e + gz for e in TABLES for gz in ("", ".gz")),
          expected="a CRM export (.csv, .txt, .jsonl, .ndjson, or .gz)"),
    _Kind(kind=Import.SURVEYS, run=_surveys, summary="Import survey answers",
          extensions=TABLES, expected="a survey export (.csv, .txt, .jsonl or .ndjson)"),
    _Kind(kind=Import.MONITORINGS, run=_monitorings, summary="Import quality monitorings",
          extensions=TABLES, expected="a quality export (.csv, .txt, .jsonl or .ndjson)"),
    _Kind(kind=Import.ROSTER, run=_roster, summary="Import the HR roster",
          extensions=TABLES, expected="a roster (.csv, .txt, .jsonl or .ndjson)"),
    _Kind(kind=Import.SHIFTS, run=_shifts, summary="Import shifts and absences",
          extensions=TABLES, expected="a shift export (.csv, .txt, .jsonl or .ndjson)"),
    _Kind(kind=Import.PRACTICES, run=_practices, summary="Import the practice register",
          extensions=TABLES, expected="a practice register (.csv, .txt, .jsonl or .ndjson)"),
)  # fmt: skip
MAIL = _Kind(kind=Import.MAIL, run=_mail, summary="Import recommended e-mails",
             extensions=(".eml",), expected="an e-mail (.eml)")  # fmt: skip

_DOCS = {
    Import.CRM: "A CRM export (`backoffice ingest`): CSV with `;` or `,`, UTF-8 or "
    "Windows-1252, or JSON Lines, optionally gzipped. Re-sending a file adds nothing; a row "
    "for an account with an open case of its typification is a repeat contact on it.",
    Import.MAIL: "Recommended cases by e-mail (`backoffice ingest-mail`): one or more `.eml` "
    "files, each one case keyed by its Message-ID (re-sending one adds nothing).",
    Import.SURVEYS: "Survey answers on their cases (`backoffice import-surveys`): NPS and "
    "perceived quality, once per survey id.",
    Import.MONITORINGS: "Quality monitorings on their cases (`backoffice import-quality`): "
    "agent and score 0–100, once per monitoring id.",
    Import.ROSTER: "The HR roster (`backoffice import-roster`): agents joining (team, role, "
    "since), moving and leaving. Someone who left can no longer sign in or be assigned.",
    Import.SHIFTS: "Scheduled shifts and absences (`backoffice import-shifts`), for Ausentismo.",
    Import.PRACTICES: "The management-practice register (`backoffice import-practices`), "
    "once per register entry.",
}


def _import(request: Request[Any, Any, Any], asking: Asking, kind: _Kind,
            uploads: Sequence[UploadFile]) -> ImportReport:  # fmt: skip
    """Check who asks (the account read here, in the handler's thread: one hop) and the
    files' names, then run the import on the files as saved."""
    try:
        principal = asking.principal()
        why = may_import(principal.role, principal.scope, kind.kind)
        if why is not None:
            raise Refused(why)
        for upload in uploads:
            name = _name(upload)
            if not name.lower().endswith(kind.extensions):
                shown = _extension(name) or "no extension"
                raise InvalidValue("file", f"{name} ({shown}) is not {kind.expected}")
    except BaseException:
        for upload in uploads:
            upload.file.close()
        raise
    office = service_of(request.app.state).office
    with _saved(uploads) as paths:
        report = ImportReport.of(kind.run(office, paths))
    if report.read == 0 and report.rejected_count:
        raise NothingRead(report)
    return report


MULTIPART = "multipart/form-data"


def _upload_handlers(
    kind: _Kind, field: str
) -> MutableMapping[int | type[Exception], ExceptionHandler]:
    """An upload route's handlers of a body it cannot take, as a JSON route's
    (`refused_first`: the role's 403 first): a body of another media type than a multipart
    form (a JSON body, a URL-encoded form) is a 415 naming the type expected, a multipart
    form that cannot be read a 400 (Litestar answers both with its own 400); and a file of
    which nothing could be read, the 422 with its rejections."""
    handlers = refused_first(lambda principal: may_import(principal.role, principal.scope,
                                                          kind.kind))  # fmt: skip
    body_refused = handlers[UnsupportedBody]

    def unreadable(request: Request[Any, Any, Any], error: ClientException) -> Response[Any]:
        if type(error) is not ClientException:  # a 413, a 401…: as every route says it
            note_claimed_user(request)
            return answer_for(request, error)
        media_type, _ = request.content_type
        refusal: HTTPException = error
        if media_type != MULTIPART:
            sent = media_type[:60] if media_type else "a body without Content-Type"
            refusal = UnsupportedBody(f"send {kind.expected} as {MULTIPART} (the form's "
                                      f"field {field}), not {sent}")  # fmt: skip
        elif "multipart" in str(error.detail):
            refusal = BadBody(f"the body is not a valid {MULTIPART} form")
        elif error.detail == "Request Entity Too Large":  # Litestar's words for the parts
            limit = request.app.multipart_form_part_limit
            refusal = BadBody(f"the form has more than {limit} parts")
        return body_refused(request, refusal)

    return {**handlers, ClientException: unreadable, NothingRead: _nothing_read}


def _route(kind: _Kind) -> Any:
    """`POST /imports/<kind>`: the file as the multipart form's field `file`."""

    def handler(
        request: Request[Any, Any, Any],
        asking: NamedDependency[Asking],
        data: Annotated[FileUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> ImportReport:
        return _import(request, asking, kind, [data.file])

    handler.__name__ = f"import_{kind.kind.value}"
    return post(
        f"/imports/{kind.kind.value}", status_code=200, sync_to_thread=True,
        summary=kind.summary, description=_DOCS[kind.kind] + _ANSWER, tags=["imports"],
        request_max_body_size=IMPORT_MAX_BYTES, exception_handlers=_upload_handlers(kind, "file"),
    )(handler)  # fmt: skip


_ANSWER = (
    "\n\nThe answer is the report of the CLI's `--json`: the bad rows (place, field, why) are "
    "rejected and the good ones kept; `422` when nothing could be read at all, `413` over "
    f"{IMPORT_MAX_BYTES // 1_000_000} MB, `415` for a body that is not a multipart form."
)


@post("/imports/mail", status_code=200, sync_to_thread=True, summary=MAIL.summary,
      description=_DOCS[Import.MAIL] + _ANSWER, tags=["imports"],
      request_max_body_size=IMPORT_MAX_BYTES,
      exception_handlers=_upload_handlers(MAIL, "files"))  # fmt: skip
def import_mail(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    data: Annotated[MailUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
) -> ImportReport:
    return _import(request, asking, MAIL, data.files)


# --- one e-mail handed over --------------------------------------------------------------------

MESSAGE = "message/rfc822"


@dataclass
class _RawMessage(Operation):
    """The operation of `POST /intake/mail`, whose body (the raw message) is read as bytes."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="The e-mail as it was sent (RFC 5322), headers and body.",
            content={MESSAGE: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING,
                                                             content_media_type=MESSAGE))},
        )  # fmt: skip


_INTAKE_MAIL = (
    "A recommended case as one e-mail, the raw message as the body (`Content-Type: "
    "message/rfc822`), read as `backoffice ingest-mail` reads an `.eml` file. Idempotent on "
    "its Message-ID: sent again, it is the same case (`known`); for an account and "
    "typification with an open case, a repeat contact on it. 201 when it made a case; 422 "
    "naming the field when the message cannot be a case (no Message-ID, no `Cuenta:` "
    f"line…); 413 over {MESSAGE_MAX_BYTES // 1_000_000} MB."
)


@post("/intake/mail", status_code=200, summary="Hand an e-mail over",
      description=_INTAKE_MAIL, tags=["intake"], request_max_body_size=MESSAGE_MAX_BYTES,
      operation_class=_RawMessage,
      responses={201: ResponseSpec(MailHandedOver, description="A case was made (`created`)",
                                   generate_examples=False)})  # fmt: skip
async def intake_mail(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    body: RawBody,
    idempotency_key: IdempotencyKey = None,
) -> Response[MailHandedOver]:
    """One e-mail handed over (see `_INTAKE_MAIL`); with an `Idempotency-Key`, a retry gets
    the first answer again. Who asks is read in the worker thread that hands it over (one
    hop), then checked before the message's type."""
    media_type, _ = request.content_type
    raw = bytes(body)

    def admit() -> Principal:
        principal = asking.principal()
        why = may_hand_over(principal.role, principal.scope)
        if why is not None:
            raise Refused(why)
        if media_type.lower() != MESSAGE:
            raise UnsupportedBody(f"send the e-mail as {MESSAGE}")
        return principal

    return await idempotent(
        request, admit, idempotency_key, lambda _: _hand_mail_over(request, raw)
    )


def _hand_mail_over(request: Request[Any, Any, Any], raw: bytes) -> Response[MailHandedOver]:
    from adapters.intake.mail import read_message

    office = service_of(request.app.state).office
    outcome, status, state = hand_over(office, read_message(raw, "message"), "message")
    note(request.scope, case=str(state.case_id))
    return Response(MailHandedOver(outcome=outcome, case=state), status_code=status,
                    headers={"ETag": f'"{state.version}"'})  # fmt: skip


ROUTES: list[Any] = [
    *(_route(kind) for kind in KINDS[:1]),
    import_mail,
    *(_route(kind) for kind in KINDS[1:]),
    intake_mail,
]
