"""Imports over HTTP (issue 13, item 2) and an e-mail handed over (item 3): each kind of file
the CLI imports, uploaded, with the CLI's report; bad rows reported and good ones kept; a
file sent twice adding nothing; who may import what. On SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.clock import FixedClock
from entrypoints.http.uploads import IMPORT_MAX_BYTES, MESSAGE_MAX_BYTES
from tests.http.conftest import Api

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MAILS = sorted((EXAMPLES / "mail").glob("*.eml"))
AFTER_THE_EXAMPLES = datetime(2026, 12, 4, 14, tzinfo=UTC)
"""The examples' cases were received in the last days of November 2026: the clock is past
them (a case received in the future is refused)."""


def upload(api: Api, kind: str, name: str, content: bytes, **headers: str) -> Any:
    return api.client.post(
        f"/imports/{kind}", files={"file": (name, content)}, headers=api.headers(headers)
    )


def bearer(api: Api, login: str, scope: str) -> dict[str, str]:
    _, secret = api.accounts.issue_token(login, scope)
    api.client.cookies.clear()
    api.csrf = None
    return {"Authorization": f"Bearer {secret}"}


def rejections(report: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(row["location"], row["field"]) for row in report["rejected"]]


def test_a_crm_export_is_imported_once_with_the_clis_report(api: Api, clock: FixedClock) -> None:
    clock.set(AFTER_THE_EXAMPLES)
    api.sign_in("sofia.t")
    sample = (EXAMPLES / "crm_export_sample.csv").read_bytes()
    first = upload(api, "crm", "crm_export_sample.csv", sample)
    assert first.status_code == 200
    assert first.json() == {
        "read": 8, "created": 7, "repeat_contacts": 1, "already_known": 0,
        "rejected_count": 0, "rejected": [], "differing_count": 0, "differing": [],
    }  # fmt: skip
    again = upload(api, "crm", "crm_export_sample.csv", sample).json()
    assert (again["read"], again["created"], again["repeat_contacts"]) == (8, 0, 0)
    assert again["already_known"] == 8
    [case] = api.get("/cases", search="CRM-260004").json()
    assert case["source"]["key"] == "CRM-260004"


def test_a_bad_row_is_reported_with_its_place_and_field_and_the_good_ones_kept(api: Api) -> None:
    api.sign_in("sofia.t")
    export = (
        "caso;fecha_ingreso;cuenta;línea;cliente;tipificación\n"
        "CRM-501;15/07/2026 08:00;80050101;hogar;Ana Peña;Facturación\n"
        "CRM-502;15/07/2026 08:10;80050102;fax;Luis Gil;Soporte\n"
        "CRM-503;15/07/2026 08:20;80050103;móvil;Eva Díaz;Cartera\n"
    ).encode()
    report = upload(api, "crm", "lunes.csv", export).json()
    assert (report["read"], report["created"], report["rejected_count"]) == (2, 2, 1)
    assert rejections(report) == [("lunes.csv:3", "line")]
    assert "not a known line of business" in report["rejected"][0]["reason"]
    assert len(api.get("/cases", search="CRM-501").json()) == 1
    assert api.get("/cases", search="CRM-502").json() == []


def test_an_intake_token_imports_a_gzipped_export_and_a_read_token_is_refused(api: Api) -> None:
    rows = (
        b'{"crm_case_id": "CRM-601", "received_at": "2026-07-15T08:00:00-05:00", '
        b'"account": "80060101", "line": "hogar", "customer_name": "Ana", '
        b'"typification": "Facturacion"}\n'
    )
    auth = bearer(api, "crm-front", "intake")
    answer = api.client.post(
        "/imports/crm", files={"file": ("hoy.jsonl.gz", gzip.compress(rows))}, headers=auth
    )
    assert answer.status_code == 200
    assert answer.json()["created"] == 1
    reader = bearer(api, "sofia.t", "read")
    refused = api.client.post(
        "/imports/crm", files={"file": ("hoy.jsonl", rows)}, headers=reader
    )  # fmt: skip
    assert refused.status_code == 403
    assert refused.json()["detail"] == "a token with scope read may not import CRM exports"
    survey = bearer(api, "sofia.t", "intake")
    refused = api.client.post(
        "/imports/surveys", files={"file": ("e.csv", b"caso\n")}, headers=survey
    )  # fmt: skip
    assert refused.status_code == 403
    assert "scope intake" in refused.json()["detail"]


def test_e_mails_are_imported_once_each_and_an_unreadable_one_reported(
    api: Api, clock: FixedClock
) -> None:
    clock.set(AFTER_THE_EXAMPLES)
    api.sign_in("sofia.t")
    bad = b"From: a@b.co\r\nSubject: sin id\r\n\r\nCuenta: 8001\r\n"
    files = [("files", (path.name, path.read_bytes())) for path in MAILS]
    files.append(("files", ("sin-id.eml", bad)))
    first = api.client.post("/imports/mail", files=files, headers=api.headers())
    assert first.status_code == 200
    report = first.json()
    assert (report["read"], report["created"], report["rejected_count"]) == (2, 2, 1)
    assert rejections(report) == [("sin-id.eml", "message_id")]
    again = api.client.post("/imports/mail", files=files[:2], headers=api.headers()).json()
    assert (again["created"], again["already_known"]) == (0, 2)
    found = api.get("/cases", search="20261128093012.4411@correo.claro.com.co").json()
    assert [row["source"]["channel"] for row in found] == ["email"]


def test_survey_answers_and_monitorings_are_recorded_on_their_cases(api: Api) -> None:
    api.sign_in("sofia.t")
    surveys = (
        "caso;encuesta;fecha_respuesta;recomendación;satisfacción_asesor;solucionado\r\n"
        "CRM-1;E-1;15/07/2026 10:00;10;9;sí\r\n"
        "CRM-2;E-2;15/07/2026 11:00;3;4;no\r\n"
        "CRM-999;E-3;15/07/2026 12:00;9;;\r\n"
        "CRM-1;E-4;15/07/2026 12:00;11;;\r\n"
    ).encode("cp1252")
    report = upload(api, "surveys", "encuestas.csv", surveys).json()
    assert (report["read"], report["created"], report["rejected_count"]) == (3, 2, 2)
    assert rejections(report) == [
        ("encuestas.csv:4", "crm_case_id"),
        ("encuestas.csv:5", "recommendation"),
    ]
    again = upload(api, "surveys", "encuestas.csv", surveys).json()
    assert (again["created"], again["already_known"]) == (0, 2)
    quality = (
        b"caso,monitoreo,fecha_monitoreo,asesor,nota\n"
        b"CRM-1,Q-1,2026-07-15 15:00,maria.b,96\n"
        b"CRM-2,Q-2,2026-07-15 16:00,carlos.m,101\n"
    )
    report = upload(api, "monitorings", "calidad.csv", quality).json()
    assert (report["created"], rejections(report)) == (1, [("calidad.csv:3", "score")])
    history = api.get(f"/cases/{api.get('/cases', search='CRM-1').json()[0]['case_id']}/history")
    recorded = [(e["event"], e["actor"]) for e in history.json() if e["event"] != "case.ingested"]
    assert recorded == [
        ("case.survey_answered", "intake:encuestas"),
        ("case.quality_monitored", "intake:calidad"),
    ]


def test_the_roster_shifts_and_practice_register(api: Api) -> None:
    api.sign_in("admin.x")  # not on the roster: the roster changes what its people may do
    roster = upload(api, "roster", "roster.csv", (EXAMPLES / "roster.csv").read_bytes())
    assert roster.status_code == 200
    assert (roster.json()["created"], roster.json()["rejected_count"]) == (6, 0)
    shifts = upload(api, "shifts", "shifts.csv", (EXAMPLES / "shifts.csv").read_bytes()).json()
    assert shifts["created"] > 0
    assert shifts["rejected_count"] == 0
    assert api.sign_in("coord.c").status_code == 401  # a roster in use: not on it
    api.sign_in("carlos.m")  # an agent's account; the roster's coordinator: records practices
    assert api.get("/session").json()["role"] == "coordinator"
    register = (EXAMPLES / "practices.csv").read_bytes()
    practices = upload(api, "practices", "practices.csv", register).json()
    assert practices["created"] > 0
    assert practices["rejected_count"] == 0
    again = upload(api, "practices", "practices.csv", register).json()
    assert (again["created"], again["already_known"]) == (0, practices["created"])


#: Who is refused what, with the reason (the permissions allow the others).
REFUSED = [
    ("maria.b", "crm", "an agent may not import CRM exports"),
    ("coord.c", "mail", "a coordinator may not import e-mails"),
    ("gerente.g", "surveys", "a manager may not import surveys"),
    ("admin.x", "monitorings", "an admin may not import quality monitorings"),
    ("audit.a", "roster", "an auditor may not import the roster"),
    ("coord.c", "shifts", "a coordinator may not import shifts"),
    ("maria.b", "practices", "an agent may not import practices"),
    ("admin.x", "practices", "an admin may not import practices"),
]


@pytest.mark.parametrize(("login", "kind", "reason"), REFUSED)
def test_a_role_that_may_not_import_is_refused_with_the_reason(
    api: Api, login: str, kind: str, reason: str
) -> None:
    api.sign_in(login)
    name = "a.eml" if kind == "mail" else "a.csv"
    field = "files" if kind == "mail" else "file"
    answer = api.client.post(
        f"/imports/{kind}", files={field: (name, b"x\n")}, headers=api.headers()
    )
    assert answer.status_code == 403
    assert answer.json()["detail"] == reason


def test_an_unknown_extension_is_refused_naming_it(api: Api) -> None:
    api.sign_in("sofia.t")
    answer = upload(api, "crm", "export.xlsx", b"PK\x03\x04")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert ".xlsx" in answer.json()["detail"]
    assert answer.json()["errors"][0]["field"] == "file"
    mail = api.client.post(
        "/imports/mail", files={"files": ("nota.txt", b"hola")}, headers=api.headers()
    )
    assert mail.status_code == 422
    assert ".txt" in mail.json()["detail"]
    api.sign_in("admin.x")
    assert ".gz" in upload(api, "roster", "roster.csv.gz", b"").json()["detail"]


def test_an_upload_over_the_limit_is_refused_before_it_is_read(api: Api) -> None:
    api.sign_in("sofia.t")
    answer = upload(api, "crm", "grande.csv", b"x" * IMPORT_MAX_BYTES)  # with the form: over
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_file_of_which_nothing_can_be_read_is_a_422_with_the_rejections(api: Api) -> None:
    api.sign_in("admin.x")
    answer = upload(api, "roster", "plantilla.csv", b"nombre;telefono\nAna;300\n")
    assert answer.status_code == 422
    body = answer.json()
    assert body["type"] == "urn:backoffice:nothing-read"
    assert body["errors"][0]["location"] == "plantilla.csv:1"
    assert "missing columns" in body["detail"]
    assert body["report"]["read"] == 0


def test_the_uploads_are_deleted_after_the_import(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FixedClock
) -> None:
    clock.set(AFTER_THE_EXAMPLES)
    folder = tmp_path / "uploads"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    api.sign_in("sofia.t")
    sample = (EXAMPLES / "crm_export_sample.csv").read_bytes()
    assert upload(api, "crm", "../../etc/crm.csv", sample).json()["created"] == 7
    bad = upload(api, "crm", "x\\lunes.csv", b"caso;cuenta\nCRM-1;8001\n")
    assert bad.status_code == 422  # nothing could be read: columns missing
    assert bad.json()["errors"][0]["location"] == "lunes.csv:1"  # only its name counts
    assert list(folder.iterdir()) == []


def message(message_id: str, account: str = "80321654") -> bytes:
    return (
        "From: Gerencia Comercial <gerencia.comercial@claro.com.co>\r\n"
        "Subject: Caso recomendado\r\n"
        "Date: Wed, 15 Jul 2026 08:30:12 -0500\r\n"
        f"Message-ID: <{message_id}>\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n\r\n'
        f"Cuenta: {account}\r\nLínea: Hogar\r\nCliente: Martha Cárdenas\r\n"
        "Tipificación: Soporte - falla TV\r\n"
    ).encode()


def test_an_e_mail_handed_over_twice_is_one_case(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    auth = {**bearer(api, "crm-front", "intake"), "Content-Type": "message/rfc822"}
    raw = message("reco-1@correo.claro.com.co")
    with caplog.at_level(logging.INFO, logger="backoffice.http.requests"):
        first = api.client.post("/intake/mail", content=raw, headers=auth)
    assert first.status_code == 201
    assert first.json()["outcome"] == "created"
    case = first.json()["case"]
    assert case["source"] == {"channel": "email", "key": "reco-1@correo.claro.com.co"}
    assert first.headers["etag"] == f'"{case["version"]}"'
    [line] = [r.fields for r in caplog.records if r.name == "backoffice.http.requests"]  # type: ignore[attr-defined]
    assert (line["route"], line["user"], line["case"]) == (
        "/intake/mail", "crm-front", case["case_id"]
    )  # fmt: skip
    again = api.client.post("/intake/mail", content=raw, headers=auth)
    assert (again.status_code, again.json()["outcome"]) == (200, "known")
    assert again.json()["case"]["case_id"] == case["case_id"]
    repeat = api.client.post("/intake/mail", content=message("reco-2@x.co"), headers=auth)
    assert (repeat.status_code, repeat.json()["outcome"]) == (200, "repeat_contact")
    assert repeat.json()["case"]["case_id"] == case["case_id"]


def test_an_e_mail_that_cannot_be_a_case_or_is_not_sent_as_one_is_refused(api: Api) -> None:
    auth = {**bearer(api, "crm-front", "intake"), "Content-Type": "message/rfc822"}
    no_account = message("reco-3@x.co").replace(b"Cuenta: 80321654\r\n", b"")
    bad = api.client.post("/intake/mail", content=no_account, headers=auth)
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"field": "account", "reason": "no 'Cuenta:' line in the body"}]
    as_json = api.client.post("/intake/mail", content=message("reco-4@x.co"),
                              headers={**auth, "Content-Type": "application/json"})  # fmt: skip
    assert as_json.status_code == 415
    assert "message/rfc822" in as_json.json()["detail"]
    huge = api.client.post("/intake/mail", content=b"x" * (MESSAGE_MAX_BYTES + 1), headers=auth)
    assert huge.status_code == 413
    api.sign_in("maria.b")
    refused = api.client.post("/intake/mail", content=message("reco-5@x.co"),
                              headers=api.headers({"Content-Type": "message/rfc822"}))  # fmt: skip
    assert refused.status_code == 403
    assert "hand cases over" in refused.json()["detail"]
