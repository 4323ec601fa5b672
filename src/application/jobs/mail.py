"""Messages the case history produces, and the ports to send them.

`compose` is pure: the same event, the same case as of that event and the same directory give
the same message, with the same Message-ID, however often it runs. That is what lets the
outbox re-send after a crash without ever sending a different mail.

Which events write to whom:
- `Escalated`: the area's recipients (from the contact matrix): the case's facts, the reason,
  the priority;
- `FollowUpMissed`: a reminder to the owning agent (the supervisors when nobody owns it);
- `ClockWarned` / `ClockBreached`: the owning agent; on a breach the supervisors too;
- `Closed` / `ClosedFirstContact` of a recommended case: a summary to the recommender.

Texts are in Spanish: Claro's areas and the recommenders read them. They carry the account
(the area needs it to act) but never the customer's name or free-text notes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

from domain.calendar import BOGOTA
from domain.case.events import (
    CaseEvent,
    ClockBreached,
    ClockWarned,
    Closed,
    ClosedFirstContact,
    Escalated,
    FollowUpMissed,
)
from domain.case.state import CaseState
from domain.values import EscalationTarget, as_one_line, is_one_address

PRIORITY_ES = {"low": "baja", "normal": "normal", "high": "alta", "urgent": "urgente"}
CLOCK_ES = {
    "pqr_response": "respuesta de la PQR",
    "reposicion": "recurso de reposición",
    "adjustment": "solución del ajuste (72 horas)",
    "escalation_response": "respuesta del área al escalamiento",
}


@attrs.frozen(kw_only=True)
class OutgoingMail:
    message_id: str
    purpose: str
    """`escalation`, `missed_follow_up` or `recommended_summary`."""
    recipients: tuple[str, ...]
    subject: str
    body: str
    case_id: uuid.UUID
    event_version: int
    date: datetime
    """The event's time: a re-sent message is the same message, byte for byte."""
    problem: str | None = None
    """Why it cannot be sent at all (e.g. no recipients configured), decided at composing."""


class TransientMailError(Exception):
    """Try again later: the server is down, slow, or asked to retry (4xx)."""


class PermanentMailError(Exception):
    """This message will never go through as it is (5xx for every recipient, bad address)."""


@attrs.frozen
class Delivery:
    """Recipients that the server refused while accepting the message for the others."""

    refused: dict[str, str] = attrs.Factory(dict)


class Mailer(Protocol):
    """Sends one message. Raises `TransientMailError` or `PermanentMailError`."""

    def send(self, mail: OutgoingMail, *, sender: str) -> Delivery: ...


class Directory(Protocol):
    """Who receives what: the contact matrix's areas, the agents and the supervisors."""

    def area_recipients(self, area: str) -> tuple[str, ...]: ...

    def agent_address(self, login: str) -> str | None: ...

    def supervisors(self) -> tuple[str, ...]: ...


def _mail(
    event: CaseEvent,
    purpose: str,
    recipients: tuple[str, ...],
    subject: str,
    lines: list[str],
    domain: str,
    problem: str | None = None,
) -> OutgoingMail:
    """One message about `event`: its id and date come from the event, never from now. Only
    plain addresses are sent to: anything else makes the message a recorded failure."""
    unusable = [r for r in recipients if not is_one_address(r)]
    if unusable and problem is None:
        problem = f"{len(unusable)} recipient(s) are not one e-mail address each"
    return OutgoingMail(
        message_id=message_id(purpose, event, domain),
        purpose=purpose,
        recipients=recipients,
        subject=as_one_line(subject),  # events stored before their values were checked
        body="\n".join(lines) + "\n",
        case_id=event.originator_id,
        event_version=event.originator_version,
        date=event.timestamp,
        problem=problem,
    )


def message_id(purpose: str, event: CaseEvent, domain: str) -> str:
    return f"<{purpose}.{event.originator_id}.{event.originator_version}@{domain}>"


def _facts(case: CaseState) -> list[str]:
    interpretation = (
        f"{case.category.value} / {case.subcategory.value}"
        if case.category and case.subcategory
        else "sin interpretar"
    )
    return [
        f"Caso: {case.source.key} ({case.source.channel.value})",
        f"Cuenta: {case.account}",
        f"Línea de negocio: {case.line.value}",
        f"Tipificación: {case.typification}",
        f"Categoría: {interpretation}",
        f"Responsable BackOffice: {case.agent or 'sin asignar'}",
    ]


def compose(
    event: CaseEvent, case: CaseState, directory: Directory, *, domain: str
) -> Sequence[OutgoingMail]:
    """The messages this event yields (none for most events); `case` is as of the event."""
    if isinstance(event, Escalated) and event.target is EscalationTarget.TRUSTED_TECHNICIAN:
        return []  # the customer's own technician: nobody at Claro to write to
    if isinstance(event, Escalated):
        recipients = directory.area_recipients(event.area)
        lines = [
            "Buen día,",
            "",
            "El BackOffice Premium escala el siguiente caso para su gestión prioritaria.",
            "",
            *_facts(case),
            f"Área: {event.area}",
            f"Prioridad: {PRIORITY_ES.get(event.priority.value, event.priority.value)}",
            f"Motivo: {event.reason}",
            f"Referencia externa: {event.external_reference or 'no aplica'}",
            "",
            "Por favor responda a este correo con la gestión realizada.",
            "",
            "BackOffice Claro Premium",
        ]
        return [
            _mail(
                event,
                "escalation",
                recipients,
                f"[BackOffice Premium] Escalamiento {event.area}: caso {case.source.key}",
                lines,
                domain,
                problem=None if recipients else f"no recipients for area {event.area!r}",
            )
        ]
    if isinstance(event, FollowUpMissed):
        owner = directory.agent_address(case.agent) if case.agent else None
        recipients = (owner,) if owner else directory.supervisors()
        due = _bogota(event.due_at)
        lines = [
            "Hola,",
            "",
            f"El seguimiento #{event.follow_up_id} del caso {case.source.key}, pactado con el "
            f"cliente para el {due}, no se realizó a tiempo.",
            "Programe un nuevo seguimiento y contacte al cliente lo antes posible.",
            "",
            *_facts(case),
            "",
            "BackOffice Claro Premium",
        ]
        return [
            _mail(
                event,
                "missed_follow_up",
                recipients,
                f"[BackOffice Premium] Seguimiento incumplido: caso {case.source.key}",
                lines,
                domain,
                problem=None if recipients else "no agent address and no supervisors",
            )
        ]
    if isinstance(event, ClockWarned | ClockBreached):
        clock = case.clock(event.clock_id)
        owner = directory.agent_address(case.agent) if case.agent else None
        breached = isinstance(event, ClockBreached)
        recipients = tuple(
            dict.fromkeys(
                ((owner,) if owner else ()) + (directory.supervisors() if breached or not owner
                                               else ())
            )
        )  # fmt: skip
        what = CLOCK_ES[clock.kind.value]
        state = "VENCIDO" if breached else "por vencer"
        risk = (
            "Riesgo de silencio administrativo positivo: la PQR se entiende resuelta a favor "
            "del cliente si no se responde y notifica a tiempo."
            if clock.kind.value == "pqr_response"
            else ""
        )
        lines = [
            "Hola,",
            "",
            f"El plazo de {what} del caso {case.source.key} está {state}.",
            f"Vence: {_bogota(event.due_at)}. Referencia: {clock.reference or '-'}",
            *([risk] if risk else []),
            "",
            *_facts(case),
            "",
            "BackOffice Claro Premium",
        ]
        purpose = "deadline_breached" if breached else "deadline_warning"
        return [
            _mail(
                event,
                purpose,
                recipients,
                f"[BackOffice Premium] Plazo {state}: {what}, caso {case.source.key}",
                lines,
                domain,
                problem=None if recipients else "no agent address and no supervisors",
            )
        ]
    if isinstance(event, Closed | ClosedFirstContact) and case.recommended_by:
        if "@" not in case.recommended_by:
            return []  # recommended by phone: the summary goes back the same way
        how = (
            "en el primer contacto" if isinstance(event, ClosedFirstContact) else "tras su gestión"
        )
        escalations = [
            f"- escalado a {e.area} ({e.target.value}), prioridad "
            f"{PRIORITY_ES.get(e.priority.value, e.priority.value)}"
            for e in case.escalations
        ]
        visits = [
            f"- visita técnica {v.kind.value.upper()} ref. {v.booking_reference}"
            for v in case.visits
        ]
        lines = [
            "Buen día,",
            "",
            f"El caso {case.source.key} que usted nos recomendó quedó cerrado {how}.",
            "",
            *_facts(case),
            f"Resumen del cierre: {event.summary}",
            *(["", "Gestión realizada:", *escalations, *visits] if escalations or visits else []),
            "",
            "Gracias por su recomendación.",
            "BackOffice Claro Premium",
        ]
        return [
            _mail(
                event,
                "recommended_summary",
                (case.recommended_by,),
                f"[BackOffice Premium] Caso recomendado cerrado: {case.source.key}",
                lines,
                domain,
            )
        ]
    return []


def _bogota(moment: datetime) -> str:
    """A moment as the areas and agents read it: Bogotá's date and time."""
    return moment.astimezone(BOGOTA).strftime("%d/%m/%Y %H:%M (hora de Bogotá)")
