"""E-mail intake: .eml files, directories of them, and Maildirs read into intake items."""

from __future__ import annotations

import base64
import mailbox
import quopri
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.intake.mail import (
    DEFAULT_TYPIFICATION,
    MailReader,
    html_to_text,
    labelled_values,
    normalise_message_id,
)
from application.intake.records import IntakeItem, IntakeRecord, RejectedRow
from domain.values import Channel, LineOfBusiness, SourceKey

BODY = """Buenos días,

Les recomiendo este caso, el cliente es muy importante.

Cuenta: 8012345
Línea: Hogar
Cliente: José Peña Núñez
Tipificación: Falla técnica
Fecha de seguimiento: 20/07/2026
Asesor front: front.ana

Gracias,
Gerencia
"""


def message_bytes(
    body: str = BODY,
    *,
    message_id: str | None = "<CAF1234.5678@mail.claro.com.co>",
    date: str | None = "Wed, 15 Jul 2026 14:30:00 -0500",
    sender: str = '"Gerente Comercial" <Gerente@Claro.com.co>',
    subject: str = "Caso recomendado cuenta",
    charset: str = "utf-8",
    encoding: str = "8bit",
    subtype: str = "plain",
) -> bytes:
    payload = body.encode("cp1252" if charset in ("windows-1252", "iso-8859-1") else charset)
    if encoding == "quoted-printable":
        payload = quopri.encodestring(payload)
    elif encoding == "base64":
        payload = base64.encodebytes(payload)
    headers = [
        f"From: {sender}",
        "To: backoffice@claro.com.co",
        f"Subject: {subject}",
        "MIME-Version: 1.0",
        f"Content-Type: text/{subtype}; charset={charset}",
        f"Content-Transfer-Encoding: {encoding}",
    ]
    if message_id is not None:
        headers.append(f"Message-ID: {message_id}")
    if date is not None:
        headers.append(f"Date: {date}")
    return "\r\n".join(headers).encode("ascii") + b"\r\n\r\n" + payload.replace(b"\n", b"\r\n")


def read_one(path: Path) -> IntakeItem:
    (item,) = MailReader(path).items()
    return item


def test_an_eml_file_is_one_record(tmp_path: Path) -> None:
    path = tmp_path / "recomendado.eml"
    path.write_bytes(message_bytes())

    record = read_one(path)

    assert isinstance(record, IntakeRecord)
    assert record.source == SourceKey(Channel.EMAIL, "CAF1234.5678@mail.claro.com.co")
    assert record.received_at == datetime(2026, 7, 15, 19, 30, tzinfo=UTC)
    assert record.account == "8012345"
    assert record.line is LineOfBusiness.HOGAR
    assert record.customer_name == "José Peña Núñez"
    assert record.typification == "Falla técnica"
    assert record.follow_up_at == datetime(2026, 7, 20, 14, 0, tzinfo=UTC)
    assert record.front_agent == "front.ana"
    assert record.recommended_by == "gerente@claro.com.co"
    assert record.request.startswith("Caso recomendado cuenta\n\nBuenos días,")
    assert "el cliente es muy importante." in record.request
    assert record.location == "recomendado.eml"


def test_a_maildir_is_read_from_new_and_cur_without_moving_anything(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Inbox", create=True)
    box.add(message_bytes(message_id="<nuevo@x>"))
    seen = mailbox.MaildirMessage(
        message_bytes(message_id="<visto@x>", subject="Otro", body=BODY.replace("Hogar", "móvil"))
    )
    seen.set_subdir("cur")
    seen.add_flag("S")
    box.add(seen)
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "Inbox").rglob("*"))
    reader = MailReader(tmp_path / "Inbox")
    progress: list[int] = []

    items = list(reader.items(progress.append))

    assert sorted(item.source.key for item in items if isinstance(item, IntakeRecord)) == [
        "nuevo@x",
        "visto@x",
    ]
    lines = {item.source.key: item.line for item in items if isinstance(item, IntakeRecord)}
    assert lines == {"nuevo@x": LineOfBusiness.HOGAR, "visto@x": LineOfBusiness.MOVIL}
    assert all(item.location.startswith("Inbox/") for item in items)
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "Inbox").rglob("*")) == before
    assert {p.parent.name for p in (tmp_path / "Inbox").rglob("*") if p.is_file()} == {
        "new",
        "cur",
    }
    assert progress[-1] == reader.size() > 0


def test_a_directory_of_eml_files_is_read_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.eml").write_bytes(message_bytes(message_id="<b@x>"))
    (tmp_path / "a.EML").write_bytes(message_bytes(message_id="<a@x>"))
    (tmp_path / "notes.txt").write_text("not a message")

    items = list(MailReader(tmp_path).items())

    assert [(item.location, item.source.key) for item in items if isinstance(item, IntakeRecord)]
    assert [item.location for item in items] == ["a.EML", "b.eml"]


def test_quoted_printable_cp1252_accents_are_decoded(tmp_path: Path) -> None:
    path = tmp_path / "qp.eml"
    body = BODY.replace("José Peña Núñez", "Íñigo Muñoz “VIP”")
    path.write_bytes(message_bytes(body, charset="windows-1252", encoding="quoted-printable"))
    assert b"=F1" in path.read_bytes()

    record = read_one(path)

    assert isinstance(record, IntakeRecord)
    assert record.customer_name == "Íñigo Muñoz “VIP”"
    assert record.typification == "Falla técnica"
    assert "Buenos días" in record.request


def test_latin1_declared_text_written_in_cp1252_keeps_curly_quotes(tmp_path: Path) -> None:
    path = tmp_path / "latin1.eml"
    body = BODY.replace("José Peña Núñez", "“Peña”")
    path.write_bytes(message_bytes(body, charset="iso-8859-1", encoding="quoted-printable"))

    record = read_one(path)

    assert isinstance(record, IntakeRecord)
    assert record.customer_name == "“Peña”"


def test_a_base64_utf8_body_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "b64.eml"
    path.write_bytes(message_bytes(encoding="base64"))

    record = read_one(path)

    assert isinstance(record, IntakeRecord)
    assert record.customer_name == "José Peña Núñez"


def test_an_html_only_message_is_read_as_text(tmp_path: Path) -> None:
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Buenos d&iacute;as,</p>"
        "<table><tr><td><b>Cuenta:</b></td><td>8012345</td></tr>"
        "<tr><td><b>L&iacute;nea:</b></td><td>M&oacute;vil</td></tr></table>"
        "<div>Cliente: <strong>Ana\n  Mar&iacute;a</strong></div>"
        "</body></html>"
    )
    path = tmp_path / "html.eml"
    path.write_bytes(message_bytes(html, subtype="html"))

    record = read_one(path)

    assert isinstance(record, IntakeRecord)
    assert record.account == "8012345"
    assert record.line is LineOfBusiness.MOVIL
    assert record.customer_name == "Ana María"
    assert record.typification == DEFAULT_TYPIFICATION
    assert record.follow_up_at is None
    assert record.front_agent is None
    assert "color" not in record.request


def test_a_message_without_an_account_is_rejected_without_personal_data(tmp_path: Path) -> None:
    path = tmp_path / "sin_cuenta.eml"
    path.write_bytes(message_bytes(BODY.replace("Cuenta: 8012345\n", "")))

    assert read_one(path) == RejectedRow(
        location="sin_cuenta.eml", field="account", reason="no 'Cuenta:' line in the body"
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"message_id": None}, "message_id"),
        ({"message_id": "<>"}, "message_id"),
        ({"date": None}, "received_at"),
        ({"date": "tomorrow morning"}, "received_at"),
        ({"body": BODY.replace("8012345", "por confirmar")}, "account"),
        ({"body": BODY.replace("Línea: Hogar\n", "")}, "line"),
        ({"body": BODY.replace("Hogar", "Satelital")}, "line"),
        ({"body": BODY.replace("Cliente: José Peña Núñez\n", "")}, "customer_name"),
        ({"body": BODY.replace("20/07/2026", "30/02/2026")}, "follow_up_at"),
    ],
)
def test_incomplete_messages_are_rejected(
    tmp_path: Path, change: dict[str, str | None], field: str
) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(message_bytes(**change))  # type: ignore[arg-type]

    rejected = read_one(path)

    assert isinstance(rejected, RejectedRow)
    assert (rejected.location, rejected.field) == ("m.eml", field)
    assert "Peña" not in rejected.reason
    assert "confirmar" not in rejected.reason


def test_a_date_without_zone_is_utc(tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(message_bytes(date="Wed, 15 Jul 2026 14:30:00 -0000"))

    record = read_one(path)

    assert isinstance(record, IntakeRecord)
    assert record.received_at == datetime(2026, 7, 15, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<abc.123@mail.example.com>", "abc.123@mail.example.com"),
        ("  <abc@x>  ", "abc@x"),
        ("<abc@x> (added by relay)", "abc@x"),
        ("< abc@x >", "abc@x"),
        ("abc@x", "abc@x"),
        ("", ""),
        ("<>", ""),
    ],
)
def test_message_ids_lose_their_angle_brackets(raw: str, expected: str) -> None:
    assert normalise_message_id(raw) == expected


def test_a_folded_message_id_header_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(message_bytes(message_id="\r\n <folded.id@mail.claro.com.co>"))

    record = read_one(path)

    assert isinstance(record, IntakeRecord)
    assert record.source.key == "folded.id@mail.claro.com.co"


def test_labels_are_read_accent_and_case_insensitive_and_the_first_wins() -> None:
    body = (
        "CUENTA: 111\n"
        "* **Linea**: movil\n"
        "> Cuenta: 999\n"
        "nombre del cliente:   Ana  \n"
        "TIPIFICACION: Queja\n"
        "De: alguien@x\n"
        "Asesor Front: f1\n"
    )

    assert labelled_values(body) == {
        "account": "111",
        "line": "movil",
        "customer_name": "Ana",
        "typification": "Queja",
        "front_agent": "f1",
    }


def test_html_to_text_keeps_blocks_on_their_own_lines() -> None:
    text = html_to_text("<p>Uno</p><p>Dos<br>Tres</p><script>x()</script>")

    assert [line for line in text.splitlines() if line] == ["Uno", "Dos", "Tres"]
