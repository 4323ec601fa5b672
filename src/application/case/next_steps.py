"""What the procedure asks next of a case: the steps an agent follows on the case page.

A guide, not a rule: every command still checks the procedure's rules when it is given (a
step offered here may be refused, with the reason). `next_steps` reads only the case's state:
the branch's steps once the case is interpreted, then typification, the closing protocol and
the closing; `other_steps` is what may be done at any time on an open case.
"""

from __future__ import annotations

from application.branches.commands import (
    PqrAgree,
    PqrCorrect,
    PqrRedirect,
    RegisterMarking,
    SacAccept,
    SacCheck,
    SacDispute,
    SacEscalate,
    SalesEscalate,
    SettleWrite,
    SupportDiagnose,
    SupportResolve,
    SupportVisitBookedByCrm,
)
from application.case.commands import (
    AddNote,
    AnswerEscalation,
    AnswerPqr,
    AssignCase,
    CloseCase,
    CompleteAdjustment,
    CompleteClosingProtocol,
    CompleteFollowUp,
    Escalate,
    InterpretCase,
    ReopenCase,
    RequestAdjustment,
    ScheduleFollowUp,
    ScheduleVisit,
)
from application.intake.calls import RaiseNewRequest
from domain.case.decisions import escalation_reference
from domain.case.state import CaseState
from domain.values import Category, ClockKind, EscalationTarget

Step = type
"""A command class: the form the page shows for it."""

_SAC_SYSTEMS = frozenset({"rr", "ac"})
"""The account's systems (`checks` name them `RR`, `AC`): a SAC check reads them."""


def next_steps(state: CaseState) -> list[Step]:
    """The procedure's next steps for `state`, most expected first (empty: nothing is
    expected but the steps of `other_steps`)."""
    if not state.is_open:
        return [ReopenCase]
    if state.agent is None:
        return [AssignCase]
    if state.category is None:
        return [InterpretCase]
    steps = _branch_steps(state)
    if state.marking_code is None and not steps:
        steps.append(RegisterMarking)
    if state.marking_code is not None or state.resolution is not None:
        if state.pending_follow_ups:  # the closing refuses them: done first
            steps.append(CompleteFollowUp)
        if not state.protocol_completed:
            steps.append(CompleteClosingProtocol)
        else:
            steps.append(CloseCase)
    return steps


def _branch_steps(state: CaseState) -> list[Step]:
    if state.marking_code is not None and state.category is not Category.PQR:
        return []  # typified: what is left is the closing
    match state.category:
        case Category.SAC:
            if not any(system.lower() in _SAC_SYSTEMS for system, _, _ in state.checks):
                return [SacCheck]
            inconsistent = any(bad for _, _, bad in state.checks)
            escalated = any(e.after_inconsistency for e in state.escalations)
            first = [SacEscalate] if inconsistent and not escalated else []
            return [*first, SacAccept, SacDispute]
        case Category.SOPORTE:
            if not state.checks:
                return [SupportDiagnose]
            if not state.escalations and not state.visits:
                return [SupportResolve]
            return []
        case Category.PQR:
            if state.cun is None:
                return [RegisterMarking]
            if any(c.kind is ClockKind.PQR_RESPONSE and c.running for c in state.clocks):
                return [PqrRedirect, PqrCorrect, PqrAgree, AnswerPqr]
            return []
        case Category.VENTAS:
            if not state.escalations:
                return [SalesEscalate]
            return []
    return []


def other_steps(state: CaseState, offered: list[Step]) -> list[Step]:
    """What may be done at any time on the open case, besides the `offered` next steps."""
    if not state.is_open:
        return []
    steps: list[Step] = [AddNote, ScheduleFollowUp]
    if state.pending_follow_ups:
        steps.append(CompleteFollowUp)
    if any(_awaited(state, e.escalation_id) for e in state.escalations):
        steps.append(AnswerEscalation)
        if any(e.target is EscalationTarget.OPERATION_CRM for e in state.escalations):
            steps.append(SupportVisitBookedByCrm)
    steps += [Escalate, RegisterMarking, RaiseNewRequest, ScheduleVisit]
    adjustment = [c for c in state.clocks if c.kind is ClockKind.ADJUSTMENT and c.running]
    steps.append(CompleteAdjustment if adjustment else RequestAdjustment)
    if state.pending_writes:
        steps.append(SettleWrite)
    if state.agent is not None:
        steps.append(AssignCase)
    return [step for step in steps if step not in offered]


def _awaited(state: CaseState, escalation_id: int) -> bool:
    return any(
        c.kind is ClockKind.ESCALATION_RESPONSE
        and c.running
        and c.reference == escalation_reference(escalation_id)
        for c in state.clocks
    )
