"""Every refusal the console can show a user has its template in `refusals.MESSAGES` and
its Spanish in the catalogue, and reads in Spanish once translated.

The refusals are found in the source (`src/domain`, `src/application`, `src/entrypoints/web`)
by walking its syntax: the message of each `raise` of a domain error (or of the console's
`Refused`), the reasons the access rules and the roster give, the reasons an intake gives
for a rejected row. An f-string becomes a template with a `{}` for each value; a value that
is a constant or a local variable set once (`when = "…" if … else ""`) is written out, so
each of its forms must have its template.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from application.access import permissions
from application.access.permissions import Reading
from application.dispatch import COMMANDS
from application.ports.accounts import AccessRole
from domain.case.state import FollowUpStatus
from domain.team.roster import Role
from domain.values import Category, ClockKind, Resolution, Subcategory
from entrypoints.web import refusals, views
from entrypoints.web.i18n import Speaker, catalogue
from entrypoints.web.refusals import MESSAGES, refusal_text, template_of

SRC = Path(__file__).resolve().parents[2] / "src"
ROOTS = ("domain", "application", "entrypoints/web")
BASE_ERRORS = frozenset({"DomainError", "Refused"})
"""Where the refusals come from: the domain's errors, and the console's 403 (`Refused`)."""
REASON_FUNCTIONS = {
    "application/access/permissions.py": re.compile(r"may_\w+"),
    "domain/team/roster.py": re.compile(r"not_assignable"),
}
"""Functions whose returned text is a refusal (`raise Refused(why)`, `cannot assign: {why}`)."""
GENERIC = "{field}: {why}"
UNREAD = {
    ("application/intake/calls.py", "rejected.reason"),  # an InvalidValue's why, or a row's
    ("application/intake/records.py", "error.why"),  # an InvalidValue's why
    ("application/intake/records.py", "str(error)"),  # a DomainError's message
}
"""Refusals whose text is a variable holding a refusal found elsewhere; besides these, a
variable `why` anywhere holds an access rule's reason (`why = may_give(...)`)."""
PLACEHOLDER = re.compile(r"\{(\w*)\}")


# --- reading the source -----------------------------------------------------------------------


@attrs.frozen
class Found:
    """A refusal in the source: where, its template(s), and whether it is an `InvalidValue`'s
    reason (shown after its field's label)."""

    where: str
    templates: tuple[str, ...]
    reason_of_a_field: bool = False


class _Scope:
    """What a name in an f-string stands for: a module constant, or a local variable set
    once in the enclosing function (each of its forms)."""

    def __init__(self, module: ast.Module) -> None:
        self.constants: dict[str, ast.expr] = {}
        for node in module.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and isinstance(node.value, ast.Constant):
                    self.constants[target.id] = node.value

    def locals_of(self, function: ast.AST | None) -> dict[str, ast.expr]:
        if function is None:
            return {}
        assigned: dict[str, list[ast.expr]] = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
        return {name: values[0] for name, values in assigned.items() if len(values) == 1}


def _forms(node: ast.expr, names: dict[str, ast.expr], depth: int = 0) -> list[str] | None:
    """The templates `node` may give (None: not text the source spells out)."""
    if depth > 5:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return [str(node.value)]
    if isinstance(node, ast.Name) and node.id in names:
        return _forms(names[node.id], names, depth + 1)
    if isinstance(node, ast.IfExp):
        body, orelse = _forms(node.body, names, depth + 1), _forms(node.orelse, names, depth + 1)
        return body + orelse if body is not None and orelse is not None else None
    if isinstance(node, ast.JoinedStr):
        return _joined([_part(value, names, depth) for value in node.values])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _joined([_inner(node.left, names, depth), _inner(node.right, names, depth)])
    return None


def _inner(node: ast.expr, names: dict[str, ast.expr], depth: int) -> list[str]:
    """A piece of a message: its forms when spelt out, else a value (`{name}`, named after
    the expression: the same expression twice is the same value)."""
    return _forms(node, names, depth + 1) or ["{" + re.sub(r"\W+", "_", ast.unparse(node)) + "}"]


def _part(value: ast.expr, names: dict[str, ast.expr], depth: int) -> list[str]:
    if isinstance(value, ast.Constant):
        return [str(value.value)]
    assert isinstance(value, ast.FormattedValue)
    if value.conversion == -1 and value.format_spec is None:
        return _inner(value.value, names, depth)
    return ["{" + re.sub(r"\W+", "_", ast.unparse(value.value)) + "}"]


def _joined(parts: list[list[str] | None]) -> list[str] | None:
    if any(p is None for p in parts):
        return None
    return ["".join(pieces) for pieces in itertools.product(*(p for p in parts if p))]


def _name_of(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for root in ROOTS:
        for path in sorted((SRC / root).rglob("*.py")):
            yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _error_classes(
    modules: list[tuple[str, ast.Module]],
) -> dict[str, tuple[str, ast.FunctionDef | None]]:
    """Every error class that refuses (a `DomainError` or `Refused`, or a subclass), with
    its module and its `__init__` (None when the message is given where it is raised)."""
    classes: dict[str, tuple[str, ast.FunctionDef | None]] = {}
    known = set(BASE_ERRORS)
    grew = True
    while grew:
        grew = False
        for where, module in modules:
            for node in ast.walk(module):
                if not isinstance(node, ast.ClassDef) or node.name in classes:
                    continue
                bases = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                if node.name in known or bases & known:
                    init = next((f for f in node.body if isinstance(f, ast.FunctionDef)
                                 and f.name == "__init__"), None)  # fmt: skip
                    classes[node.name] = (where, init)
                    known.add(node.name)
                    grew = True
    classes.setdefault("Refused", ("entrypoints/http/problems.py", None))
    return classes


def _message_argument(init: ast.FunctionDef | None) -> int | None:
    """Which argument of a raise is the message: the first (no `__init__`, or one handing a
    parameter to `Exception`), or none (the `__init__` writes the message itself)."""
    if init is None:
        return 0
    for node in ast.walk(init):
        if isinstance(node, ast.Call) and _name_of(node) == "__init__" and node.args:
            given = node.args[0]
            params = [a.arg for a in init.args.args[1:]]
            if isinstance(given, ast.Name) and given.id in params:
                return params.index(given.id)
    return None


def refusals_in_source() -> tuple[list[Found], list[tuple[str, str]]]:
    """Every refusal the source writes, and the raises whose text is a variable."""
    modules = list(_modules())
    classes = _error_classes(modules)
    found: list[Found] = []
    unread: list[tuple[str, str]] = []

    def add(where: str, node: ast.expr, names: dict[str, ast.expr], why: bool = False) -> None:
        forms = _forms(node, names)
        if forms is None:
            unread.append((where.partition(":")[0], ast.unparse(node)))
        else:
            found.append(Found(where, tuple(forms), why))

    for path, module in modules:
        scope = _Scope(module)
        reasons = REASON_FUNCTIONS.get(path)

        def visit(
            node: ast.AST,
            function: ast.AST | None,
            path: str = path,
            scope: _Scope = scope,
            reasons: re.Pattern[str] | None = reasons,
        ) -> None:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                function = node
                if reasons is not None and reasons.fullmatch(node.name):
                    names = scope.constants | scope.locals_of(node)
                    for inner in ast.walk(node):
                        if (
                            isinstance(inner, ast.Return)
                            and inner.value is not None
                            and not (
                                isinstance(inner.value, ast.Constant) and inner.value.value is None
                            )
                        ):
                            add(f"{path}:{inner.lineno}", inner.value, names)
            if isinstance(node, ast.Call):
                names = scope.constants | scope.locals_of(function)
                where = f"{path}:{node.lineno}"
                called = _name_of(node)
                if called == "InvalidValue" and len(node.args) == 2:
                    add(where, node.args[1], names, why=True)
                elif called == "RejectedRow":
                    for keyword in node.keywords:
                        if keyword.arg == "reason":
                            add(where, keyword.value, names, why=True)
                elif called in classes and called != "InvalidValue":
                    argument = _message_argument(classes[called][1])
                    if argument is not None and len(node.args) > argument:
                        add(where, node.args[argument], names)
                    elif argument is not None:
                        detail = next((k.value for k in node.keywords if k.arg == "detail"), None)
                        if detail is not None:
                            add(where, detail, names)
                elif called == "__init__" and isinstance(function, ast.FunctionDef):
                    owner = next((c for c, (p, init) in classes.items()
                                  if p == path and init is function), None)  # fmt: skip
                    if (
                        owner not in (None, "InvalidValue")
                        and node.args
                        and _message_argument(function) is None
                    ):
                        add(where, node.args[0], names)
            for child in ast.iter_child_nodes(node):
                visit(child, function, path, scope, reasons)

        visit(module, None)
    return found, unread


FOUND, UNREAD_FOUND = refusals_in_source()


def _shape(template: str) -> str:
    return PLACEHOLDER.sub("{}", template)


def _sample(template: str) -> str:
    """The template with a made-up value in each placeholder (one per name)."""
    values: dict[str, str] = {}
    return PLACEHOLDER.sub(lambda m: values.setdefault(m[1], f"‹{len(values) + 1}›"), template)


# --- the tests ----------------------------------------------------------------------------------


def test_the_source_is_read() -> None:
    """The walk finds the refusals it should (a broken walk would pass everything)."""
    everything = {t for f in FOUND for t in f.templates}
    for expected in (
        "the case is closed: {} is not allowed (only a reopen is)",
        "{}: record the closing protocol first",
        "give a whole number",
        "the form is out of date: reload the page and send it again",
        "{} may not read {}",
        "not on the team's roster today (left on {})",
        "not on the team's roster today",
        "login or password is wrong",
        "the case changed since version {} (it is at version {}): read it again before acting",
    ):
        assert expected in {_shape(t) for t in everything}, expected
    assert len(FOUND) > 100


def test_every_raise_of_a_variable_is_known() -> None:
    """A refusal written as a variable is one whose text is found elsewhere; a new one is
    looked at here (its text must reach `MESSAGES` some other way)."""
    unknown = {(path, text) for path, text in UNREAD_FOUND if text != "why"} - UNREAD
    assert unknown == set()


@pytest.mark.parametrize("found", FOUND, ids=lambda f: f.where)
def test_every_refusal_has_its_template(found: Found) -> None:
    """Each form of the refusal matches a template of the same shape (not a more general
    one listed before it): that template is what gets translated."""
    shapes = {_shape(m): m for m in MESSAGES}
    for form in found.templates:
        matched = template_of(_sample(form))
        assert matched is not None, f"{found.where}: no template in MESSAGES for {form!r}"
        template = shapes.get(_shape(form))
        if template is None:  # a text spelt out in full, read by a template with a value
            assert not PLACEHOLDER.search(form), f"{found.where}: no template for {form!r}"
            assert matched[0] != GENERIC, f"{found.where}: {form!r} read as a field's reason"
        else:
            assert matched[0] == template, (
                f"{found.where}: {form!r} is read as {matched[0]!r}: list {template!r} before it"
            )
        if found.reason_of_a_field:
            whole = template_of(f"cun: {_sample(form)}")
            assert whole is not None, form
            assert whole[0] == GENERIC, form


def test_no_template_is_left_over() -> None:
    """A template no refusal of the source gives any more is dead text: remove it."""
    used = {_shape(t) for f in FOUND for t in f.templates} | {_shape(GENERIC)}
    assert [m for m in MESSAGES if _shape(m) not in used] == []
    assert len(set(MESSAGES)) == len(MESSAGES)


@pytest.mark.parametrize("template", MESSAGES)
def test_every_template_has_its_spanish(template: str) -> None:
    message = catalogue("es-CO").get(template)
    assert message is not None, f"no Spanish for {template!r} in locale/es_CO/console.po"
    assert isinstance(message.string, str)
    assert message.string.strip(), f"empty Spanish for {template!r}"
    assert not message.fuzzy
    assert set(PLACEHOLDER.findall(message.string)) == set(PLACEHOLDER.findall(template))


def refusal_labels() -> set[str]:
    """The `kind:value` labels a refusal's values read as (`refusals.LABELLED`): a closed
    case's action, a missing check of the closing protocol, a reason the case is not a first
    contact, a clock, a reading, an import, a role, a category..."""
    checks, blockers = _spelt_out("domain/case/closing.py")
    values: dict[str, set[str]] = {
        "action": _actions(),
        "protocol": checks,
        "blocker": blockers,
        "clock": {k.value for k in ClockKind},
        "reading": {r.value for r in Reading},
        "imported": set(permissions._IMPORTED.values()),
        "slots": {"none left"},
        "role": {r.value for r in AccessRole} | {r.value for r in Role},
        "follow-up": {s.value for s in FollowUpStatus},
        "category": {c.value for c in Category},
        "subcategory": {s.value for s in Subcategory},
        "resolution": {r.value for r in Resolution},
    }
    assert set(refusals.LABELLED.values()) <= set(values)
    return {f"{kind}:{value}" for kind, kinds in values.items() for value in kinds}


def test_the_values_a_refusal_carries_have_their_spanish() -> None:
    spanish = catalogue("es-CO")
    missing = []
    for key in sorted(refusal_labels()):
        found = spanish.get(key)
        if found is None or not isinstance(found.string, str) or not found.string.strip():
            missing.append(key)
    assert missing == []


def _actions() -> set[str]:
    """What a closed case refuses: the action named when an open case is required."""
    actions = set()
    for _, module in _modules():
        for node in ast.walk(module):
            if isinstance(node, ast.Call) and _name_of(node) in ("require_open", "_ready_to_close"):
                given = node.args[1] if len(node.args) > 1 else None
                if isinstance(given, ast.Constant) and isinstance(given.value, str):
                    actions.add(given.value)
    assert len(actions) > 10
    return actions


def _spelt_out(path: str) -> tuple[set[str], set[str]]:
    """The closing protocol's checks and the reasons a case is not a first contact."""
    module = ast.parse((SRC / path).read_text(encoding="utf-8"))
    checks: set[str] = set()
    blockers: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id == "checks":
                checks |= {str(k.value) for k in node.value.keys if isinstance(k, ast.Constant)}
        if isinstance(node, ast.Call) and _name_of(node) == "append" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                blockers.add(arg.value)
    assert len(checks) == 4
    assert len(blockers) >= 5
    return checks, blockers


# --- reading them in Spanish ----------------------------------------------------------------------

ES = Speaker("es-CO")
EN = Speaker("en")


@pytest.mark.parametrize(
    ("english", "spanish"),
    [
        (
            "the form is out of date: reload the page and send it again",
            "El formulario está desactualizado: recargue la página y envíelo de nuevo",
        ),
        (
            "due_at: give a date and time (2026-12-05 09:30)",
            "Llamar al cliente el: indique una fecha y hora (2026-12-05 09:30)",
        ),
        (
            "the case is closed: schedule a follow-up is not allowed (only a reopen is)",
            "El caso está cerrado: no se permite programar un seguimiento (solo reabrirlo)",
        ),
        ("an auditor may not read history", "El rol auditor no puede consultar el historial"),
        ("an auditor may not assign case", "El rol auditor no puede hacer esto: Asignar el caso"),
        (
            "closing: follow-ups #2, #3 still pending; complete them first",
            "No se puede cerrar el caso: los seguimientos #2, #3 siguen pendientes; complételos "
            "primero",
        ),
        (
            "closing: follow-up #2 still pending; complete it first",
            "No se puede cerrar el caso: el seguimiento #2 sigue pendiente; complételo primero",
        ),
        (
            "closing in first contact: pqr_response, adjustment still running; answer or "
            "complete it first",
            "No se puede cerrar el caso en primer contacto: sigue corriendo el plazo de respuesta "
            "de la PQR, ajuste; respóndalo o complételo primero",
        ),
        (
            "the closing protocol is incomplete: missing closing script read; survey invitation "
            "given",
            "El protocolo de cierre está incompleto: falta la lectura del guion de cierre; la "
            "invitación a la encuesta",
        ),
        (
            "subcategory: 'recaudo' is not a subcategory of pqr (one of: peticion, queja_reclamo, "
            "recurso)",
            "Subcategoría: 'Recaudo' no es una subcategoría de PQR (una de: Petición, "
            "Queja o reclamo, Recurso)",
        ),
        ("login or password is wrong", "Usuario o contraseña incorrectos"),
        (
            "cannot assign the case: ana.p is not on the roster on 2026-07-15 (left on 2026-07-01)",
            "No se puede asignar el caso: ana.p no está en la planta del equipo el 2026-07-15 "
            "(se retiró el 2026-07-01)",
        ),
        ("follow-up #3 is already done_late", "El seguimiento #3 ya está realizado tarde"),
        (
            "marking SAC-CAR-EXPL is for sac cases, this case is pqr",
            "La marcación SAC-CAR-EXPL es para casos de SAC; este caso es de PQR",
        ),
        (
            "role: 'boss' is not one of: agent, supervisor",
            "role: 'boss' no es una de estas opciones: agent, supervisor",
        ),
    ],
)
def test_a_refusal_reads_in_spanish(english: str, spanish: str) -> None:
    assert refusal_text(english, ES) == spanish
    shown = refusal_text(english, EN)  # English keeps the words, a field reads as its label
    field, colon, why = english.partition(": ")
    if colon and field in views.FIELD_LABELS:
        assert shown == f"{views.FIELD_LABELS[field]}: {why}"
    else:
        assert shown == english


def test_an_unknown_text_is_shown_as_it_is() -> None:
    assert refusal_text("something nobody wrote", ES) == "something nobody wrote"


def test_every_command_role_reading_and_clock_a_refusal_names_reads_in_spanish() -> None:
    """`{someone} may not {command}`, `… read {reading}`, `… {clocks} still running`: each
    value reads as its Spanish label, not as the English the rule wrote."""
    spanish = catalogue("es-CO")
    for role in AccessRole:
        article = "an" if role.value[0] in "aeiou" else "a"
        text = refusal_text(f"{article} {role.value} may not read cases", ES)
        label = spanish[f"role:{role.value}"].string
        assert isinstance(label, str)
        assert text == f"El rol {label.lower()} no puede consultar los casos", text
    for command in COMMANDS:
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", command.__name__).lower()
        text = refusal_text(f"an auditor may not {words}", ES)
        title = spanish[views.TITLES[command.__name__]].string
        assert isinstance(title, str)
        assert text == f"El rol auditor no puede hacer esto: {title}", text
    for reading in Reading:
        text = refusal_text(f"an agent may not read {reading.value}", ES)
        assert text.endswith(str(spanish[f"reading:{reading.value}"].string)), text
    for kind in ClockKind:
        text = refusal_text(f"closing: {kind.value} still running; answer or complete it first", ES)
        assert str(spanish[f"clock:{kind.value}"].string) in text, text
