"""Commands as data (issue 12): every command is plain data a client can send, and running it
through its handler does what the embedding API's method does.

- Every command class of `application.case.commands` and `application.branches.commands` is a
  frozen attrs class whose fields are ids, text, numbers, booleans, times, enums and tuples of
  text: built from JSON primitives with cattrs, it turns back into the same primitives.
- `Backoffice.handle` and `Desks.handle` run them: the same events as the methods.
"""

from __future__ import annotations

import enum
import json
import typing
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import attrs
import cattrs
import pytest

from application.branches.commands import (
    BRANCH_COMMANDS,
    PqrRedirect,
    RegisterMarking,
    SacCheck,
    SacDispute,
    SalesEscalate,
    SettleWrite,
    SupportDiagnose,
)
from application.branches.handling import Desks
from application.branches.pqr import SalesDesk
from application.case.commands import (
    CASE_COMMANDS,
    AddNote,
    AssignCase,
    InterpretCase,
    ReopenCase,
)
from application.case.outside import OutsideSystems
from application.dispatch import COMMANDS, Dispatcher
from application.intake import calls
from application.intake.calls import OpenCaseFromCall, RaiseNewRequest
from application.ports.cases import CaseQuery
from application.queries import (
    QUERIES,
    CaseAt,
    CaseCount,
    CaseHistory,
    DueFollowUps,
    Indicators,
    answer,
)
from domain.calendar import BusinessCalendar
from domain.errors import DomainError, InvalidValue, RuleViolation
from domain.indicators.facts import Dimension, Period
from domain.values import Actor, Category, LineOfBusiness, Resolution, Subcategory
from tests.conftest import T0
from tests.integration.test_outside_writes import MATRIX, World, world  # noqa: F401

AGENT = Actor.agent("maria.b")
PLAIN = (str, int, bool, float, datetime, uuid.UUID, type(None))


def _primitive(kind: Any) -> Any:
    """An example JSON value for a field of this type."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if args and type(None) in args:  # Optional[X]: the X
        return _primitive(next(a for a in args if a is not type(None)))
    if origin is tuple:
        return [_primitive(args[0])]
    if origin is dict:
        return {"campo": _primitive(args[1])}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return next(iter(kind)).value
    examples = {str: "texto", int: 3, bool: True, float: 1.5,
                datetime: "2026-12-04T15:00:00+00:00", uuid.UUID: str(uuid.uuid4())}  # fmt: skip
    return examples[kind]


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    converter.register_structure_hook(uuid.UUID, lambda v, _: uuid.UUID(v))
    converter.register_unstructure_hook(uuid.UUID, str)
    return converter


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.__name__)
def test_a_command_is_plain_data_a_client_can_send(command: type[Any]) -> None:
    assert attrs.has(command)
    hints = typing.get_type_hints(command)
    assert "case" in hints or command is OpenCaseFromCall, "a command names its case"
    assert not {"actor", "at_"} & set(hints), "who acts is not the caller's to say"
    document = {name: _primitive(kind) for name, kind in hints.items()}
    text = json.dumps(document)  # JSON as it comes over the wire
    converter = _converter()
    built: Any = converter.structure(json.loads(text), command)
    assert converter.unstructure(built) == document
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.case = uuid.uuid4()  # a command, once made, stays what the caller asked


def test_backoffice_handle_runs_the_case_commands(world: World) -> None:  # noqa: F811
    office = world.office
    case = office.case("K1").case_id
    first = office.handle(AssignCase(case=case, agent="maria.b"), AGENT)
    assert first.case.agent == "maria.b"
    assert [type(e).__name__ for e in first.events] == ["Assigned"]
    note = office.handle(AddNote(case=case, text="Cliente llama de nuevo"), AGENT)
    assert note.case.notes == 1
    with pytest.raises(RuleViolation, match="already interpreted"):
        office.handle(
            InterpretCase(case=case, category=Category.SAC, subcategory=Subcategory.FACTURACION),
            AGENT,
        )
    with pytest.raises(DomainError, match="open"):
        office.handle(ReopenCase(case=case, reason="x"), AGENT)


def test_desks_handle_runs_each_branch_command_on_its_desk(world: World) -> None:  # noqa: F811
    desks = Desks(world.sac, world.support, world.pqr, SalesDesk(world.office, MATRIX))
    k1 = world.office.case("K1").case_id
    checked = desks.handle(SacCheck(case=k1), AGENT)
    assert [type(e).__name__ for e in checked.events] == ["AccountChecked"]
    disputed = desks.handle(
        SacDispute(case=k1, marking="PQR-FACT", reason="No reconoce el PPV"), AGENT
    )
    assert disputed.case.cun is not None
    assert len(disputed.case.escalations) == 1
    k2 = world.office.case("K2").case_id
    diagnosed = desks.handle(SupportDiagnose(case=k2), AGENT)
    assert any(type(e).__name__ == "AccountChecked" for e in diagnosed.events)
    world.office.interpret("M1", category=Category.PQR, subcategory=Subcategory.QUEJA_RECLAMO,
                           actor=AGENT)  # fmt: skip
    m1 = world.office.case("M1").case_id
    with pytest.raises(RuleViolation, match="CUN"):
        desks.handle(PqrRedirect(case=m1, reason="No es una PQR"), AGENT)
    follow_up = world.office.clock.now() + timedelta(days=2)
    with pytest.raises(RuleViolation, match="ventas"):
        desks.handle(SalesEscalate(case=k2, reason="Upgrade", follow_up_at=follow_up), AGENT)


def test_a_call_opens_a_case_and_raises_a_linked_one(world: World) -> None:  # noqa: F811
    office = world.office
    at = office.clock.now()
    opened = calls.handle(
        office,
        OpenCaseFromCall(
            account="80011122",
            line=LineOfBusiness.HOGAR,
            customer_name="Ana Peña",
            typification="Facturación",
            request="Cobro no reconocido",
            received_at=at,
        ),
        AGENT,
    )
    assert [type(e).__name__ for e in opened.events] == ["Ingested"]
    assert opened.events[0].actor == AGENT  # the agent who took the call opened it
    again = calls.handle(
        office, RaiseNewRequest(case=opened.case.case_id, typification="Ventas",
                                request="Quiere mejorar el plan"), AGENT,
    )  # fmt: skip
    assert again.case.linked_to == opened.case.case_id


def _query_document(kind: Any) -> Any:
    if attrs.has(kind):
        return {name: _query_document(t) for name, t in typing.get_type_hints(kind).items()}
    if kind is date:
        return "2026-12-04"
    return _primitive(kind)


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.__name__)
def test_a_query_is_plain_data_too(query: type[Any]) -> None:
    document = _query_document(query)
    converter = _converter()
    converter.register_structure_hook(date, lambda v, _: date.fromisoformat(v))
    converter.register_unstructure_hook(date, date.isoformat)
    built: Any = converter.structure(json.loads(json.dumps(document)), query)
    assert converter.unstructure(built) == document


def test_ask_answers_as_the_reading_methods_do(world: World) -> None:  # noqa: F811
    office = world.office
    k1 = office.case("K1").case_id
    assert office.ask(CaseAt(case=k1)) == office.case("K1")
    assert office.ask(CaseAt(case=k1, version=1)) == office.case("K1", version=1)
    assert office.ask(CaseHistory(case=k1)) == office.history("K1")
    assert office.ask(CaseQuery(search="K2")) == office.cases(CaseQuery(search="K2"))
    assert office.ask(CaseCount(query=CaseQuery())) == 3
    until = office.clock.now() + timedelta(days=2)
    assert office.ask(DueFollowUps(until=until)) == office.due_follow_ups(until)
    today = office.clock.now().date()
    report = answer(office, Indicators(first=today, last=today, by=Dimension.AGENT))
    day = Period(
        BusinessCalendar.start_of(today), BusinessCalendar.start_of(today + timedelta(days=1))
    )
    assert report == office.indicators(day, Dimension.AGENT)
    assert report.by is Dimension.AGENT


def test_every_command_class_is_one_the_dispatcher_takes() -> None:
    assert set(COMMANDS) == {*CASE_COMMANDS, *BRANCH_COMMANDS, RegisterMarking, SettleWrite,
                             OpenCaseFromCall, RaiseNewRequest}  # fmt: skip
    assert len(COMMANDS) == len(set(COMMANDS))


def _dispatcher(world: World, *, gateways: bool = True) -> Dispatcher:  # noqa: F811
    systems = world.sac.systems if gateways else OutsideSystems()
    return Dispatcher(world.office, systems, lambda: MATRIX)


def test_the_dispatcher_runs_each_kind_of_command_where_it_belongs(world: World) -> None:  # noqa: F811
    door = _dispatcher(world)
    k1 = world.office.case("K1").case_id
    checked = door.handle(SacCheck(case=k1), AGENT)  # a branch's desk
    assert [type(e).__name__ for e in checked.events] == ["AccountChecked"]
    assigned = door.handle(AssignCase(case=k1, agent="maria.b"), AGENT)  # the case's handler
    assert assigned.case.agent == "maria.b"
    noted = door.handle(AddNote(case=k1, text="Cliente pide copia de la factura"), AGENT)
    assert [n[1] for n in world.rr.notes] == ["Cliente pide copia de la factura"]
    assert noted.case.notes == 1
    assert not noted.notice
    typified = door.handle(RegisterMarking(case=k1, marking="PQR-FACT"), AGENT)
    assert [m.code for m in world.rr.markings("ACC-K1")] == ["PQR-FACT"]
    assert typified.case.cun is not None  # the CUN RR filed, with its clock
    assert typified.case.resolution is Resolution.CUN
    opened = door.handle(
        OpenCaseFromCall(account="80011122", line=LineOfBusiness.HOGAR, customer_name="Ana",
                         typification="Facturación", request="Cobro", received_at=T0),
        AGENT,
    )  # fmt: skip
    assert [type(e).__name__ for e in opened.events] == ["Ingested"]


def test_without_the_accounts_gateway_the_case_records_it_and_says_so(world: World) -> None:  # noqa: F811
    door = _dispatcher(world, gateways=False)
    k1 = world.office.case("K1").case_id
    noted = door.handle(AddNote(case=k1, text="Nota"), AGENT)
    assert noted.notice.startswith("recorded on the case only: ")
    assert "RR" in noted.notice
    typified = door.handle(RegisterMarking(case=k1, marking="SAC-FAC-EXPL"), AGENT)
    assert typified.case.resolution is Resolution.FIRST_CONTACT
    assert typified.notice
    assert world.writes() == 0


def test_a_write_settled_by_hand_needs_its_answer_or_why_not(world: World) -> None:  # noqa: F811
    door = _dispatcher(world)
    k1 = world.office.case("K1").case_id
    with pytest.raises(InvalidValue, match="reason"):
        door.handle(SettleWrite(case=k1, key="k", answer=None, reason="  "), AGENT)
    with pytest.raises(RuleViolation, match="no outside write with key k is pending"):
        door.handle(SettleWrite(case=k1, key="k", answer={"ok": "1"}), AGENT)
