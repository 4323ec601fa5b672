"""Facts about the case that come from outside the back office's decisions.

Survey answers, quality monitorings, what a system check found, a system that failed, a mail
that bounced: the case records them (each once where it has an id), even when it is closed,
because they happen to the case rather than being done with it.
"""

from __future__ import annotations

from datetime import datetime

from domain.case.decisions import clean_text, new_event, require_open
from domain.case.events import (
    AccountChecked,
    CaseEvent,
    MailFailed,
    QualityMonitored,
    SurveyAnswered,
    SystemCallFailed,
)
from domain.case.state import CaseState
from domain.errors import InvalidValue, RuleViolation
from domain.values import Actor, require_aware


def record_mail_failure(
    state: CaseState,
    *,
    message_id: str,
    purpose: str,
    recipients: tuple[str, ...],
    reason: str,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """A delivery failure is a fact about the outside world: it is recorded even on a closed
    case (a recommended case's summary goes out after its closing). Once per message and
    recipients."""
    if (message_id, recipients) in state.mail_failures:
        return []
    return [
        new_event(
            MailFailed,
            state,
            actor,
            at,
            message_id=clean_text("message_id", message_id, max_length=300),
            purpose=purpose,
            recipients=recipients,
            reason=clean_text("reason", reason, max_length=1_000),
        )
    ]


def record_check(
    state: CaseState,
    *,
    system: str,
    aspect: str,
    findings: tuple[str, ...],
    inconsistent: bool,
    actor: Actor,
    at: datetime,
    facts: tuple[tuple[str, str], ...] = (),
) -> list[CaseEvent]:
    """What a check of RR/AC or the Diagnosticador found (docs/procedure.md §4, §5)."""
    require_open(state, "record a check")
    if state.category is None:
        raise RuleViolation("interpret the case before checking the account")
    return [
        new_event(
            AccountChecked,
            state,
            actor,
            at,
            system=system,
            aspect=aspect,
            findings=findings,
            inconsistent=inconsistent,
            facts=facts,
        )
    ]


def record_system_failure(
    state: CaseState,
    *,
    system: str,
    operation: str,
    reason: str,
    pending: str,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """An outside system failed; the case keeps what is pending (recorded even when closed)."""
    return [
        new_event(
            SystemCallFailed,
            state,
            actor,
            at,
            system=system,
            operation=operation,
            reason=reason[:500],
            pending=pending,
        )
    ]


def record_survey(
    state: CaseState,
    *,
    survey_id: str,
    answered_at: datetime,
    recommendation: int,
    agent_satisfaction: int | None,
    solved: bool | None,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """A survey answer about the case; recorded once per survey id, open or closed case."""
    survey_id = clean_text("survey_id", survey_id, max_length=80)
    if survey_id in state.surveys:
        return []
    require_aware("answered_at", answered_at)
    for name, score in (
        ("recommendation", recommendation),
        ("agent_satisfaction", agent_satisfaction),
    ):
        if score is not None and not 0 <= score <= 10:
            raise InvalidValue(name, f"{score} is outside 0–10")
    return [
        new_event(
            SurveyAnswered,
            state,
            actor,
            at,
            survey_id=survey_id,
            answered_at=answered_at,
            recommendation=recommendation,
            agent_satisfaction=agent_satisfaction,
            solved=solved,
        )
    ]


def record_monitoring(
    state: CaseState,
    *,
    monitoring_id: str,
    monitored_at: datetime,
    agent: str,
    score: int,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """A quality monitoring of the case's handling; recorded once per monitoring id."""
    monitoring_id = clean_text("monitoring_id", monitoring_id, max_length=80)
    if monitoring_id in state.monitorings:
        return []
    require_aware("monitored_at", monitored_at)
    if not 0 <= score <= 100:
        raise InvalidValue("score", f"{score} is outside 0–100")
    return [
        new_event(
            QualityMonitored,
            state,
            actor,
            at,
            monitoring_id=monitoring_id,
            monitored_at=monitored_at,
            agent=clean_text("agent", agent, max_length=80),
            score=score,
        )
    ]
