"""Every text of the console has its Spanish (es-CO) in the catalogues, with its
placeholders, and a page speaks Spanish unless English was chosen.

The message ids are read from the source as a translator's tool reads them: Babel's
extractors over every template (`jinja2.ext.babel_extract`: `t("…")`) and every module of
the console (its Python extractor: `t("…")`, `gettext`, `t.plural`/`ngettext`), plus what
they cannot see: `t.plural` in a template, a constant handed to `t`, the tables of titles and
labels, the refusals' templates, and the labels `t.label(kind, value)` looks up as
`kind:value` for every value of every kind the pages show.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import jinja2
import pytest
from babel.messages.extract import extract

from adapters.eventstore.mapper import TOPICS
from application.case.outside import Operation, OutsideSystems
from application.dispatch import COMMANDS
from application.ports.accounts import AccessRole
from application.ports.systems import IncidentScope, TicketKind
from domain.case.state import FollowUpStatus, WriteStatus
from domain.team.roster import Role
from domain.values import (
    ActorKind,
    CaseStatus,
    Category,
    Channel,
    ClockKind,
    LineOfBusiness,
    NoteFolder,
    Priority,
    Resolution,
    Subcategory,
    VisitKind,
)
from entrypoints.render import HEADER_FIELDS
from entrypoints.web import refusals, views
from entrypoints.web.forms import form_of
from entrypoints.web.i18n import CATALOGUES, Speaker, catalogue
from tests.web.conftest import Console

WEB = Path(__file__).resolve().parents[2] / "src" / "entrypoints" / "web"
TEMPLATES = WEB / "pages_html"
PYTHON_KEYWORDS = {"t": None, "gettext": None, "ngettext": (1, 2), "plural": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)\}")

Message = str | tuple[str, str]
"""A message id, or a plural's singular and plural ids."""


# --- the message ids -----------------------------------------------------------------------------


def _templates() -> list[Path]:
    found = sorted(TEMPLATES.rglob("*.html"))
    assert any(p.name == "base.html" for p in found)
    return found


def _modules() -> list[Path]:
    found = sorted(WEB.rglob("*.py"))
    assert any(p.name == "views.py" for p in found)
    return found


def _babel(path: Path, method: str, keywords: Mapping[str, Any]) -> Iterator[Message]:
    options = {"silent": "false", "trim_blocks": "true", "lstrip_blocks": "true"}
    with path.open("rb") as source:
        for _, message, _, _ in extract(method, source, keywords=keywords, options=options):
            if isinstance(message, tuple):
                singular, plural = message[0], message[1]
                if singular and plural:
                    yield (singular, plural)
            elif message:
                yield message


def _jinja_calls(path: Path) -> Iterator[tuple[str, list[object]]]:
    """The calls of `t.something(...)` in a template: the method and its constant arguments
    (None where the argument is not a constant)."""
    tree = jinja2.Environment().parse(path.read_text(encoding="utf-8"))
    for call in tree.find_all(jinja2.nodes.Call):
        callee = call.node
        if (
            isinstance(callee, jinja2.nodes.Getattr)
            and isinstance(callee.node, jinja2.nodes.Name)
            and callee.node.name == "t"
        ):
            args = [a.value if isinstance(a, jinja2.nodes.Const) else None for a in call.args]
            yield callee.attr, args


def _python_calls(path: Path) -> Iterator[tuple[str, ast.Call]]:
    """The calls of `t(...)`, `x.t(...)`, `t.label(...)`, `t.plural(...)` in a module."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Name) and func.id == "t") or (
            isinstance(func, ast.Attribute) and func.attr == "t"
        ):
            yield "t", node
        elif isinstance(func, ast.Attribute) and _is_speaker(func.value):
            yield func.attr, node


def _is_speaker(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "t") or (
        isinstance(node, ast.Attribute) and node.attr == "t"
    )


def _constants(path: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """A module's text constants, and its tables of texts (a dict's text values)."""
    module = ast.parse(path.read_text(encoding="utf-8"))
    constants: dict[str, str] = {}
    tables: dict[str, list[str]] = {}
    for node in module.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            constants[target.id] = value.value
        elif isinstance(value, ast.Dict):
            tables[target.id] = [str(v.value) for v in value.values if isinstance(v, ast.Constant)]
    return constants, tables


def _handed(given: ast.expr, constants: dict[str, str], tables: dict[str, list[str]]) -> set[str]:
    """The texts an argument of `t(...)` may be: a literal, a constant, a table's entry
    (`TITLES[...]`, `TITLES.get(..., "default")`)."""
    if isinstance(given, ast.Constant) and isinstance(given.value, str):
        return {given.value}
    if isinstance(given, ast.Name) and given.id in constants:
        return {constants[given.id]}
    if isinstance(given, ast.Subscript) and isinstance(given.value, ast.Name):
        return set(tables.get(given.value.id, ()))
    if (isinstance(given, ast.Call) and isinstance(given.func, ast.Attribute)
            and given.func.attr == "get" and isinstance(given.func.value, ast.Name)):  # fmt: skip
        texts = set(tables.get(given.func.value.id, ()))
        for default in given.args[1:]:
            texts |= _handed(default, constants, tables)
        return texts
    return set()


def extracted() -> set[Message]:
    """Every message id the templates and the modules hand to the translator."""
    messages: set[Message] = set()
    for path in _templates():
        messages |= set(_babel(path, "jinja2.ext:babel_extract", {"t": None}))
        for method, args in _jinja_calls(path):
            if method == "plural" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
                messages.add((str(args[0]), str(args[1])))
    for path in _modules():
        messages |= set(_babel(path, "python", PYTHON_KEYWORDS))
        constants, tables = _constants(path)
        for method, call in _python_calls(path):
            if method == "t" and call.args:  # also inside an f-string, which Babel skips
                messages |= _handed(call.args[0], constants, tables)
    messages |= set(views.TITLES.values()) | set(views.FIELD_LABELS.values())
    messages |= set(views.CLOCK_LABELS.values())
    messages |= set(views.EVENT_FIELD_LABELS.values())
    messages |= set(refusals.MESSAGES)
    return messages


def label_kinds_used() -> set[str]:
    """The kinds of label the templates and modules look up with a constant kind."""
    kinds = set()
    for path in _templates():
        for method, args in _jinja_calls(path):
            if method == "label" and args and isinstance(args[0], str):
                kinds.add(args[0])
    for path in _modules():
        for method, call in _python_calls(path):
            if method == "label" and call.args:
                given = call.args[0]
                if isinstance(given, ast.Constant) and isinstance(given.value, str):
                    kinds.add(given.value)
    return kinds


def form_labels() -> set[str]:
    """`field:value` of every choice of every command's form (what `t.label(field.name,
    value)` looks up for a list of choices)."""
    keys = set()
    commands: list[type] = list(COMMANDS)
    for command in commands:
        for field in form_of(command).fields:
            keys |= {f"{field.name}:{value}" for value, _ in field.choices if value}
    return keys


READ_OPERATIONS = frozenset({"collections", "billing", "payments", "diagnose", "services",
                             "markings", "slots"})  # fmt: skip
"""The reads of Claro's systems a failed call names (`SystemCallFailed.operation`)."""


def _outside_params() -> set[str]:
    """The names of an outside write's parameters and of its answer, as the code that sends
    it reads and writes them (`p["account"]`, `{"order": order}`)."""
    source = inspect.getsource(OutsideSystems.send)
    read = {a or b for a, b in re.findall(r'p\["(\w+)"\]|p\.get\("(\w+)"', source)}
    answered = set(re.findall(r'"(\w+)": ', source)) | set(re.findall(r'answer\["(\w+)"\]', source))
    return read | answered


OUTSIDE_PARAMS = _outside_params()


KIND_VALUES: dict[str, set[str]] = {
    "role": {r.value for r in AccessRole} | {r.value for r in Role},
    "status": {s.value for s in CaseStatus},
    "line": {x.value for x in LineOfBusiness},
    "resolution": {x.value for x in Resolution},
    "follow-up": {s.value for s in FollowUpStatus},
    "filter": set(views.FILTERS),
    "event": set(TOPICS.values()),
    "priority": {p.value for p in Priority},
    "write": {w.value for w in WriteStatus},
    "actor": {k.value for k in ActorKind} - {"agent", "supervisor"},
    "category": {c.value for c in Category},
    "subcategory": {c.value for c in Subcategory},
    "kind": {k.value for k in VisitKind} | {k.value for k in TicketKind},
    "clock": {k.value for k in ClockKind},
    "channel": {c.value for c in Channel},
    "folder": {f.value for f in NoteFolder},
    "scope": {s.value for s in IncidentScope},
    "operation": {value for name, value in vars(Operation).items() if name.isupper()}
    | READ_OPERATIONS,
    "param": OUTSIDE_PARAMS,
    "data": {
        field.name
        for cls, topic in TOPICS.items()
        if topic.startswith("case.")
        for field in attrs.fields(cls)
        if field.name not in HEADER_FIELDS and field.name not in views.FIELD_LABELS
    },
}
"""Every value of each kind of label the pages show with a constant kind."""


def labels() -> set[str]:
    keys = {f"{kind}:{value}" for kind, values in KIND_VALUES.items() for value in values}
    return keys | form_labels()


ALL: list[Message] = sorted(extracted() | labels(), key=lambda m: m if isinstance(m, str) else m[0])


def _id(message: Message) -> str:
    return message if isinstance(message, str) else message[0]


# --- the tests ------------------------------------------------------------------------------------


def test_the_extraction_finds_the_texts() -> None:
    """The extractors see the templates' texts, the modules' (plurals included) and the
    labels (a broken extraction would pass everything)."""
    found = extracted()
    for expected in ("Sign in", "Premium back office", "Not allowed", "Follow-ups due today",
                     "The case changed while you had this page open. Here it is as it is now: "
                     "check it and send the step again.", "Case", "Clock kind", "Due on",
                     ("{n} missed", "{n} missed"),
                     ("{n} case", "{n} cases"), ("{n} hour left", "{n} hours left"),
                     "Assign the case", "Call the customer on", "Reposición window",
                     "That cannot be done now", "{field}: {why}"):  # fmt: skip
        assert expected in found, expected
    assert {"role:agent", "event:case.closed_first_contact", "category:sac", "target:dime",
            "equipment_ok:yes", "filter:unassigned", "follow-up:pending"} <= labels()  # fmt: skip


def test_every_kind_of_label_a_page_shows_has_its_values_listed() -> None:
    """A page that labels a new kind of value (`t.label("kind", …)`) needs that kind's values
    here, so that their Spanish is checked too."""
    assert label_kinds_used() - set(KIND_VALUES) == set()


def test_the_catalogues_merge() -> None:
    """One file per part of the console; no message translated in two of them."""
    files = sorted(p.name for p in (CATALOGUES / "es_CO").glob("*.po"))
    assert "console.po" in files
    assert len(catalogue("es-CO")) > 300


@pytest.mark.parametrize("message", ALL, ids=_id)
def test_every_text_has_its_spanish(message: Message) -> None:
    found = catalogue("es-CO").get(_id(message))
    assert found is not None, f"no Spanish for {message!r}"
    assert not found.fuzzy, f"the Spanish of {message!r} is marked fuzzy"
    ids = (message,) if isinstance(message, str) else message
    assert (found.id if isinstance(found.id, str) else tuple(found.id)) == (
        message if isinstance(message, str) else tuple(message)
    ), f"{message!r} is in the catalogue as {found.id!r}"
    strings = (found.string,) if isinstance(found.string, str) else tuple(found.string or ())
    assert strings, f"no Spanish for {message!r}"
    assert all(s.strip() for s in strings), f"empty Spanish for {message!r}"
    wanted = {name for text in ids for name in PLACEHOLDER.findall(text)}
    for spanish in strings:
        assert set(PLACEHOLDER.findall(spanish)) == wanted, (message, spanish)


def test_every_placeholder_is_kept_in_every_catalogue() -> None:
    """The same check over everything in the catalogues, other parts' texts included."""
    for found in catalogue("es-CO"):
        ids = (found.id,) if isinstance(found.id, str) else tuple(found.id)
        strings = (found.string,) if isinstance(found.string, str) else tuple(found.string or ())
        wanted = {name for text in ids for name in PLACEHOLDER.findall(text)}
        for spanish in strings:
            assert set(PLACEHOLDER.findall(spanish)) == wanted, (found.id, spanish)


def test_spanish_plurals_follow_spanish_rules() -> None:
    """Spanish has two forms (one; any other number): 2 and 0 take the plural."""
    t = Speaker("es-CO")
    assert [t.plural("{n} case", "{n} cases", n) for n in (0, 1, 2, 5)] == [
        "0 casos",
        "1 caso",
        "2 casos",
        "5 casos",
    ]


# --- a page in each language ----------------------------------------------------------------------


def test_a_page_speaks_spanish_by_default_and_english_when_chosen(console: Console) -> None:
    answer = console.get("/console/sign-in")
    assert answer.status_code == 200
    assert '<html lang="es-CO">' in console.page
    assert "<h1>Iniciar sesión</h1>" in console.page
    assert '<label for="password">Contraseña</label>' in console.page
    console.client.cookies.set("console_lang", "en")
    console.get("/console/sign-in")
    assert '<html lang="en">' in console.page
    assert "<h1>Sign in</h1>" in console.page
    assert "Iniciar sesión" not in console.page


def test_a_signed_in_page_and_a_refusal_read_in_spanish(console: Console) -> None:
    console.sign_in("maria.b")
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    assert "Siguientes pasos" in console.page
    assert "Agente" in console.page
    assert "Cerrar sesión" in console.page
    answer = console.step(case, "schedule-follow-up", {"due_at": "mañana temprano"})
    assert answer.status_code == 422
    alert = re.search(r'id="error-schedule-follow-up">([^<]+)<', console.page)
    assert alert is not None
    assert alert.group(1) == "Llamar al cliente el: indique una fecha y hora (2026-12-05 09:30)"


def test_the_language_switch_keeps_english_for_the_next_pages(console: Console) -> None:
    console.sign_in("maria.b")
    answer = console.get("/console/language/en", next="/console/cases")
    assert answer.url.path == "/console/cases"
    assert "Show only:" in console.page
    console.get("/console/language/es-CO", next="/console/cases")
    assert "Mostrar solo:" in console.page
