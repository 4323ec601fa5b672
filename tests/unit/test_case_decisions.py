"""The Case aggregate: given events, when a command, then events (or a clear error)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.case import closing, decisions
from domain.case.events import (
    Assigned,
    CaseEvent,
    Closed,
    ClosedFirstContact,
    FollowUpCompleted,
    FollowUpMissed,
    FollowUpScheduled,
    Ingested,
    NoteAdded,
    Reopened,
    RepeatContactRecorded,
)
from domain.case.state import CaseState, FollowUpStatus, fold
from domain.errors import CaseClosed, DomainError, InvalidValue, RuleViolation
from domain.values import (
    CASE_NAMESPACE,
    INTAKE,
    Actor,
    Category,
    Channel,
    EscalationTarget,
    LineOfBusiness,
    NoteFolder,
    Priority,
    Resolution,
    SourceKey,
    Subcategory,
    VisitKind,
)

T0 = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)
AGENT = Actor.agent("maria.b")
SOURCE = SourceKey(Channel.CRM, "CRM-1001")


def ingested(follow_up_at: datetime | None = T0 + timedelta(days=1)) -> Ingested:
    return decisions.ingest(
        source=SOURCE,
        received_at=T0 - timedelta(hours=2),
        account="8012345678",
        line=LineOfBusiness.HOGAR,
        customer_name="Ana Pérez",
        typification="Falla internet",
        request="Sin servicio desde ayer",
        follow_up_at=follow_up_at,
        front_agent="front07",
        recommended_by=None,
        actor=INTAKE,
        at=T0,
    )


class Scenario:
    """given(events) → when(decision) → then(events) or raises."""

    def __init__(self, *events: CaseEvent) -> None:
        self.history: list[CaseEvent] = list(events)

    @property
    def state(self) -> CaseState:
        state = fold(None, self.history)
        assert state is not None
        return state

    def when(self, decide: Callable[[CaseState], list[CaseEvent]]) -> list[CaseEvent]:
        new = decide(self.state)
        self.history.extend(new)
        return new


def interpreted_case(*, follow_up: bool = False) -> Scenario:
    s = Scenario(ingested(T0 + timedelta(days=1) if follow_up else None))
    s.when(lambda c: decisions.assign(c, agent="maria.b", actor=AGENT, at=T0))
    s.when(
        lambda c: decisions.interpret(
            c, category=Category.SAC, subcategory=Subcategory.FACTURACION, actor=AGENT, at=T0
        )
    )
    return s


def ready_to_close(s: Scenario, resolution: Resolution = Resolution.FIRST_CONTACT) -> None:
    cun = "4436-26-0001234" if resolution is Resolution.CUN else None
    s.when(
        lambda c: decisions.typify(
            c, marking_code="SAC-FACT-01", resolution=resolution, cun=cun, actor=AGENT, at=T0
        )
    )
    s.when(
        lambda c: closing.complete_closing_protocol(
            c,
            resolution_explained=True,
            nothing_else_pending=True,
            closing_script_read=True,
            survey_invited=True,
            actor=AGENT,
            at=T0,
        )
    )


def test_the_case_id_is_the_uuid5_of_channel_and_key() -> None:
    for key in ("CRM-1001", "ñandú@correo.co", "x" * 500):
        expected = uuid.uuid5(CASE_NAMESPACE, f"crm:{key}")
        assert SourceKey(Channel.CRM, key).case_id() == expected
        assert expected.version == 5


def test_ingest_derives_the_case_id_from_the_source_key_and_opens_the_first_follow_up() -> None:
    event = ingested()
    assert event.originator_id == SOURCE.case_id() == SourceKey(Channel.CRM, "CRM-1001").case_id()
    assert SourceKey(Channel.EMAIL, "CRM-1001").case_id() != event.originator_id
    state = Scenario(event).state
    assert state.version == 1
    assert [(f.follow_up_id, f.due_at, f.status) for f in state.follow_ups] == [
        (1, T0 + timedelta(days=1), FollowUpStatus.PENDING)
    ]


def test_ingest_refuses_empty_account_and_naive_times() -> None:
    with pytest.raises(InvalidValue, match="account"):
        decisions.ingest(
            source=SOURCE,
            received_at=T0,
            account="  ",
            line=LineOfBusiness.MOVIL,
            customer_name="X",
            typification="T",
            request="",
            follow_up_at=None,
            front_agent=None,
            recommended_by=None,
            actor=INTAKE,
            at=T0,
        )
    with pytest.raises(InvalidValue, match="time zone"):
        decisions.ingest(
            source=SOURCE,
            received_at=datetime(2026, 7, 15),
            account="1",
            line=LineOfBusiness.MOVIL,
            customer_name="X",
            typification="T",
            request="",
            follow_up_at=None,
            front_agent=None,
            recommended_by=None,
            actor=INTAKE,
            at=T0,
        )


def test_every_event_records_its_actor_and_the_next_version() -> None:
    s = interpreted_case()
    assert [type(e).__name__ for e in s.history] == ["Ingested", "Assigned", "Interpreted"]
    assert [e.originator_version for e in s.history] == [1, 2, 3]
    assert [e.actor for e in s.history] == [INTAKE, AGENT, AGENT]


def test_reassignment_records_the_previous_agent_and_refuses_a_no_change() -> None:
    s = interpreted_case()
    [event] = s.when(lambda c: decisions.assign(c, agent="juan.r", actor=AGENT, at=T0))
    assert isinstance(event, Assigned)
    assert (event.agent, event.previous_agent) == ("juan.r", "maria.b")
    with pytest.raises(RuleViolation, match="already assigned"):
        s.when(lambda c: decisions.assign(c, agent="juan.r", actor=AGENT, at=T0))


def test_interpretation_must_pair_a_category_with_its_own_subcategory() -> None:
    s = Scenario(ingested())
    with pytest.raises(InvalidValue, match="not a subcategory of pqr"):
        s.when(
            lambda c: decisions.interpret(
                c, category=Category.PQR, subcategory=Subcategory.CARTERA, actor=AGENT, at=T0
            )
        )


def test_a_long_note_goes_to_the_estrategicos_folder() -> None:
    s = Scenario(ingested())
    [short] = s.when(lambda c: decisions.add_note(c, text="Llamó", actor=AGENT, at=T0))
    [long] = s.when(
        lambda c: decisions.add_note(c, text="x" * 241, actor=AGENT, at=T0, rr_note_max_length=240)
    )
    assert isinstance(short, NoteAdded)
    assert isinstance(long, NoteAdded)
    assert (short.folder, long.folder) == (NoteFolder.RR_NOTES, NoteFolder.ESTRATEGICOS)
    assert (s.state.notes, s.state.estrategicos_notes) == (1, 1)


def test_a_follow_up_belongs_to_the_cases_future() -> None:
    s = Scenario(ingested())
    with pytest.raises(InvalidValue, match="future"):
        s.when(lambda c: decisions.schedule_follow_up(c, due_at=T0, actor=AGENT, at=T0))
    [event] = s.when(
        lambda c: decisions.schedule_follow_up(c, due_at=T0 + timedelta(days=3), actor=AGENT, at=T0)
    )
    assert isinstance(event, FollowUpScheduled)
    assert event.follow_up_id == 2


def test_follow_up_done_within_the_window_is_on_time_and_after_it_is_late() -> None:
    s = Scenario(ingested(T0))
    rules = decisions.FollowUpRules(on_time_window=timedelta(hours=2))
    [on_time] = s.when(
        lambda c: decisions.complete_follow_up(
            c, outcome="Cliente confirma", actor=AGENT, at=T0 + timedelta(hours=2), rules=rules
        )
    )
    assert isinstance(on_time, FollowUpCompleted)
    assert on_time.on_time
    s.when(
        lambda c: decisions.schedule_follow_up(c, due_at=T0 + timedelta(days=1), actor=AGENT, at=T0)
    )
    [late] = s.when(
        lambda c: decisions.complete_follow_up(
            c, outcome="x", actor=AGENT, at=T0 + timedelta(days=1, hours=3), rules=rules
        )
    )
    assert isinstance(late, FollowUpCompleted)
    assert not late.on_time
    assert [f.status for f in s.state.follow_ups] == [
        FollowUpStatus.DONE_ON_TIME,
        FollowUpStatus.DONE_LATE,
    ]
    with pytest.raises(RuleViolation, match="no pending follow-up"):
        s.when(lambda c: decisions.complete_follow_up(c, outcome="x", actor=AGENT, at=T0))


def test_the_sweep_marks_a_follow_up_missed_once_and_only_when_overdue() -> None:
    s = Scenario(ingested(T0))
    rules = decisions.FollowUpRules(missed_after=timedelta(hours=24))
    sweep = Actor.parse("sweep:worker-1")

    def miss(at: datetime) -> Callable[[CaseState], list[CaseEvent]]:
        return lambda c: decisions.mark_follow_up_missed(
            c, follow_up_id=1, actor=sweep, at=at, rules=rules
        )

    assert s.when(miss(T0 + timedelta(hours=23))) == []
    [missed] = s.when(miss(T0 + timedelta(hours=24)))
    assert isinstance(missed, FollowUpMissed)
    assert missed.actor == sweep
    assert s.when(miss(T0 + timedelta(hours=30))) == []
    with pytest.raises(RuleViolation, match="already missed"):
        s.when(
            lambda c: decisions.complete_follow_up(
                c, follow_up_id=1, outcome="x", actor=AGENT, at=T0
            )
        )


def test_typify_needs_an_interpretation_and_a_cun_exactly_when_it_generates_one() -> None:
    s = Scenario(ingested())
    with pytest.raises(RuleViolation, match="interpret"):
        s.when(
            lambda c: decisions.typify(
                c,
                marking_code="M1",
                resolution=Resolution.FIRST_CONTACT,
                cun=None,
                actor=AGENT,
                at=T0,
            )
        )
    s = interpreted_case()
    with pytest.raises(InvalidValue, match="needs the CUN"):
        s.when(
            lambda c: decisions.typify(
                c, marking_code="M1", resolution=Resolution.CUN, cun=None, actor=AGENT, at=T0
            )
        )
    with pytest.raises(InvalidValue, match="carries no CUN"):
        s.when(
            lambda c: decisions.typify(
                c,
                marking_code="M1",
                resolution=Resolution.FIRST_CONTACT,
                cun="123456",
                actor=AGENT,
                at=T0,
            )
        )


def test_no_closing_before_the_protocol_and_the_protocol_needs_all_four_checks() -> None:
    s = interpreted_case()
    s.when(
        lambda c: decisions.typify(
            c, marking_code="M1", resolution=Resolution.FIRST_CONTACT, cun=None, actor=AGENT, at=T0
        )
    )
    with pytest.raises(RuleViolation, match="closing protocol first"):
        s.when(lambda c: closing.close_first_contact(c, summary="ok", actor=AGENT, at=T0))
    with pytest.raises(RuleViolation, match="closing script read; survey invitation given"):
        s.when(
            lambda c: closing.complete_closing_protocol(
                c,
                resolution_explained=True,
                nothing_else_pending=True,
                closing_script_read=False,
                survey_invited=False,
                actor=AGENT,
                at=T0,
            )
        )


def test_first_contact_closing_when_nothing_was_escalated_scheduled_or_pending() -> None:
    s = interpreted_case()
    ready_to_close(s)
    [event] = s.when(
        lambda c: closing.close_first_contact(c, summary="Explicada la factura", actor=AGENT, at=T0)
    )
    assert isinstance(event, ClosedFirstContact)
    assert s.state.closed_first_contact
    assert not s.state.is_open


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (
            lambda c: decisions.escalate(
                c,
                target=EscalationTarget.CONTACT_MATRIX_AREA,
                area="Facturación",
                reason="Cobro PPV",
                priority=Priority.HIGH,
                external_reference=None,
                actor=AGENT,
                at=T0,
            ),
            "escalated",
        ),
        (
            lambda c: decisions.schedule_visit(
                c,
                kind=VisitKind.OT,
                slot_start=T0 + timedelta(days=2),
                slot_end=T0 + timedelta(days=2, hours=4),
                booking_reference="WFM-77",
                actor=AGENT,
                at=T0,
            ),
            "technical visit",
        ),
        (
            lambda c: decisions.schedule_follow_up(
                c, due_at=T0 + timedelta(hours=1), actor=AGENT, at=T0
            ),
            "further follow-up",
        ),
    ],
)
def test_first_contact_closing_is_refused_after_escalation_visit_or_new_follow_up(
    step: Callable[[CaseState], list[CaseEvent]], reason: str
) -> None:
    s = interpreted_case()
    s.when(step)
    for f in s.state.pending_follow_ups:
        s.when(
            partial(
                decisions.complete_follow_up,
                follow_up_id=f.follow_up_id,
                outcome="x",
                actor=AGENT,
                at=T0,
            )
        )
    ready_to_close(s)
    with pytest.raises(RuleViolation, match=reason):
        s.when(lambda c: closing.close_first_contact(c, summary="x", actor=AGENT, at=T0))
    [closed] = s.when(lambda c: closing.close(c, summary="Escalado y resuelto", actor=AGENT, at=T0))
    assert isinstance(closed, Closed)


def test_a_pending_follow_up_blocks_any_closing() -> None:
    s = interpreted_case(follow_up=True)
    ready_to_close(s)
    with pytest.raises(RuleViolation, match="follow-up #1 still pending"):
        s.when(lambda c: closing.close(c, summary="x", actor=AGENT, at=T0))


def test_nothing_happens_to_a_closed_case_but_a_reopen() -> None:
    s = interpreted_case()
    ready_to_close(s)
    s.when(lambda c: closing.close(c, summary="Cerrado", actor=AGENT, at=T0))
    attempts: list[Callable[[CaseState], list[CaseEvent]]] = [
        lambda c: decisions.add_note(c, text="x", actor=AGENT, at=T0),
        lambda c: decisions.assign(c, agent="otro", actor=AGENT, at=T0),
        lambda c: decisions.schedule_follow_up(
            c, due_at=T0 + timedelta(days=1), actor=AGENT, at=T0
        ),
        lambda c: closing.close(c, summary="x", actor=AGENT, at=T0),
    ]
    for attempt in attempts:
        with pytest.raises(CaseClosed, match="the case is closed"):
            s.when(attempt)
    [reopened] = s.when(lambda c: closing.reopen(c, reason="Cliente llama", actor=AGENT, at=T0))
    assert isinstance(reopened, Reopened)
    assert s.state.is_open
    assert not s.state.protocol_completed
    with pytest.raises(RuleViolation, match="only a closed case"):
        s.when(lambda c: closing.reopen(c, reason="x", actor=AGENT, at=T0))


def test_repeat_contact_is_recorded_once_per_source_key() -> None:
    s = Scenario(ingested())
    other = SourceKey(Channel.CRM, "CRM-2002")

    def repeat(c: CaseState) -> list[CaseEvent]:
        return decisions.record_repeat_contact(
            c, source=other, received_at=T0, request="Vuelve a llamar", actor=INTAKE, at=T0
        )

    [event] = s.when(repeat)
    assert isinstance(event, RepeatContactRecorded)
    assert s.when(repeat) == []
    assert s.state.repeat_contacts == (other,)


def test_events_keep_time_order_even_when_a_command_carries_an_earlier_time() -> None:
    s = Scenario(ingested())
    [note] = s.when(
        lambda c: decisions.add_note(c, text="x", actor=AGENT, at=T0 - timedelta(minutes=5))
    )
    assert note.timestamp == T0


def test_domain_errors_never_echo_personal_data() -> None:
    s = interpreted_case()
    ready_to_close(s)
    s.when(lambda c: closing.close(c, summary="x", actor=AGENT, at=T0))
    with pytest.raises(DomainError) as caught:
        s.when(lambda c: decisions.add_note(c, text="x", actor=AGENT, at=T0))
    assert "8012345678" not in str(caught.value)
    assert "Ana" not in str(caught.value)


@given(
    st.lists(st.sampled_from(["CRM-1001", "CRM-2", "CRM-3", "CRM-4"]), max_size=12),
    st.sampled_from([0, 1, 2]),
)
def test_repeat_contacts_decided_together_are_those_decided_one_by_one(
    keys: list[str], already: int
) -> None:
    s = Scenario(ingested())
    for n in range(already):  # some were recorded before
        s.when(
            partial(
                decisions.record_repeat_contact, source=SourceKey(Channel.CRM, f"CRM-{n + 2}"),
                received_at=T0, request="otra vez", actor=INTAKE, at=T0,
            )
        )  # fmt: skip
    contacts = [
        decisions.RepeatContact(SourceKey(Channel.CRM, key), T0 + timedelta(minutes=i), " r ")
        for i, key in enumerate(keys)
    ]
    together = decisions.record_repeat_contacts(s.state, contacts, actor=INTAKE, at=T0)
    one_by_one = Scenario(*s.history)
    for contact in contacts:
        one_by_one.when(
            partial(
                decisions.record_repeat_contact, source=contact.source,
                received_at=contact.received_at, request=contact.request, actor=INTAKE, at=T0,
            )
        )  # fmt: skip
    assert together == one_by_one.history[len(s.history) :]


def test_repeat_contacts_on_a_closed_case_are_refused_unless_already_there() -> None:
    s = interpreted_case()
    s.when(
        lambda c: decisions.record_repeat_contact(
            c, source=SourceKey(Channel.CRM, "CRM-2"), received_at=T0, request="",
            actor=INTAKE, at=T0,
        )
    )  # fmt: skip
    ready_to_close(s)
    s.when(lambda c: closing.close_first_contact(c, summary="ok", actor=AGENT, at=T0))
    again = [decisions.RepeatContact(SourceKey(Channel.CRM, "CRM-2"), T0, "")]
    assert decisions.record_repeat_contacts(s.state, again, actor=INTAKE, at=T0) == []
    new = [*again, decisions.RepeatContact(SourceKey(Channel.CRM, "CRM-3"), T0, "")]
    with pytest.raises(CaseClosed):
        decisions.record_repeat_contacts(s.state, new, actor=INTAKE, at=T0)


def new_case() -> CaseState:
    state = fold(None, [ingested(follow_up_at=None)])
    assert state is not None
    return state


def fold_in(state: CaseState, events: list[CaseEvent]) -> CaseState:
    after = fold(state, events)
    assert after is not None
    return after


def test_repeats_are_no_ops_only_while_they_are_the_same_action() -> None:
    """A re-run command records nothing twice; a legitimate second action still counts:
    the same escalation once the area answered, the same note some time later, the same
    marking after a reopening."""
    from domain.calendar import BusinessCalendar
    from domain.case import deadlines
    from domain.values import EscalationTarget, Priority, Resolution

    rules = deadlines.DeadlineRules(BusinessCalendar(frozenset(), 2025, 2028))
    state = new_case()
    escalate = partial(
        decisions.escalate, target=EscalationTarget.CONTACT_MATRIX_AREA, area="Cartera",
        reason="Revisar", priority=Priority.HIGH, external_reference=None, actor=AGENT, at=T0,
    )  # fmt: skip
    state = fold_in(state, escalate(state))
    state = fold_in(state, deadlines.start_escalation_response(state, rules=rules, actor=AGENT,
                                                               at=T0))  # fmt: skip
    assert escalate(state) == []
    state = fold_in(state, deadlines.answer_escalation(state, escalation_id=1, answer="ok",
                                                       actor=AGENT, at=T0))  # fmt: skip
    assert len(escalate(state)) == 1

    state = fold_in(state, decisions.add_note(state, text="No contesta", actor=AGENT, at=T0))
    soon, later = T0 + timedelta(minutes=5), T0 + timedelta(hours=3)
    assert decisions.add_note(state, text="No contesta", actor=AGENT, at=soon) == []
    assert len(decisions.add_note(state, text="No contesta", actor=AGENT, at=later)) == 1

    state = fold_in(state, decisions.interpret(state, category=Category.SAC,
                    subcategory=Subcategory.CARTERA, actor=AGENT, at=T0))  # fmt: skip
    typify = partial(decisions.typify, marking_code="M-1", resolution=Resolution.FIRST_CONTACT,
                     cun=None, actor=AGENT, at=T0)  # fmt: skip
    state = fold_in(state, typify(state))
    assert typify(state) == []
    state = fold_in(state, closing.complete_closing_protocol(
        state, resolution_explained=True, nothing_else_pending=True, closing_script_read=True,
        survey_invited=True, actor=AGENT, at=T0))  # fmt: skip
    for follow_up in state.pending_follow_ups:
        state = fold_in(
            state,
            decisions.complete_follow_up(
                state, follow_up_id=follow_up.follow_up_id, outcome="ok", actor=AGENT, at=T0
            ),
        )
    state = fold_in(state, closing.close(state, summary="ok", actor=AGENT, at=T0))
    state = fold_in(state, closing.reopen(state, reason="volvió", actor=AGENT, at=T0))
    assert len(typify(state)) == 1


def test_free_text_cannot_drive_a_terminal_and_one_line_fields_refuse_control_characters() -> None:
    """Found by a new-user trial: `\\x1b[2J` in a note cleared the auditor's screen when the
    history was shown."""
    [note] = decisions.add_note(
        new_case(), text="línea 1\x1b[2J\x1b[31mROJO\r\nlínea 2\tfin", actor=AGENT, at=T0,
        rr_note_max_length=240,
    )  # fmt: skip
    assert isinstance(note, NoteAdded)
    assert note.text == "línea 1\ufffd[2J\ufffd[31mROJO\nlínea 2\tfin"
    with pytest.raises(InvalidValue, match="NUL"):
        decisions.add_note(new_case(), text="a\x00b", actor=AGENT, at=T0, rr_note_max_length=240)
    base = ingested()
    fields = {
        "source": base.source, "received_at": base.received_at, "line": base.line,
        "customer_name": "Ana", "typification": "T", "follow_up_at": None,
        "front_agent": None, "recommended_by": None, "actor": INTAKE, "at": T0,
    }  # fmt: skip
    with pytest.raises(InvalidValue, match="account: is not an account number"):
        decisions.ingest(account="800\x1b[2J", request="", **fields)  # type: ignore[arg-type]
    kept = decisions.ingest(account="800", request="pide\x07 revisar", **fields)  # type: ignore[arg-type]
    assert kept.request == "pide\ufffd revisar"
