"""The layer rules, checked on every test run."""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
T = TypeVar("T")


def test_import_linter_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _top_level_imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def test_domain_imports_only_the_standard_library_and_attrs() -> None:
    allowed = set(sys.stdlib_module_names) | {"attrs", "domain", "__future__"}
    offenders = {
        str(path.relative_to(SRC)): sorted(_top_level_imports(path) - allowed)
        for path in (SRC / "domain").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_application_does_not_import_adapters_or_entrypoints() -> None:
    offenders = {
        str(path.relative_to(SRC)): sorted(_top_level_imports(path) & {"adapters", "entrypoints"})
        for path in (SRC / "application").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


# --- one CRM row's walk, as docs/architecture.md lists it ------------------------------------

ARCHITECTURE_DOC = ROOT / "docs" / "architecture.md"
WALK_SECTION = "## One CRM row, from the file to the case list"
MAX_WALK_FILES = 15
"""13 met the goal of fewer than half of the 27 files the walk crossed when it was filed; the
tamper-evident chain (`adapters/eventstore/chain.py`) is the 14th, on the write path; the key
store of personal data (`adapters/personal_keys.py`) the 15th."""
ONE_ROW_CSV = (
    "caso;fecha_ingreso;cuenta;línea;cliente;tipificación;solicitud;fecha_seguimiento;"
    "asesor_front;recomendado_por\n"
    "CRM-260001;15/07/2026 08:15;80123456;hogar;Ana María Peña;"
    "Facturación - cobro no reconocido;Cobro de PPV que no reconoce en la última factura;"
    "17/07/2026 09:00;front.lrojas;\n"
)


def _walk_section() -> str:
    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    start = text.index(WALK_SECTION)
    end = text.find("\n## ", start + len(WALK_SECTION))
    return text[start : end if end >= 0 else len(text)]


def _documented_walk(section: str) -> list[str]:
    """The numbered list: each item starts with the file it names."""
    return re.findall(r"^\d+\. `([\w/]+\.py)`", section, flags=re.MULTILINE)


def _documented_start_up(section: str) -> tuple[int, set[str]]:
    """The paragraph that starts with "Start-up": its count of files, and the files named."""
    paragraph = next(p for p in section.split("\n\n") if p.startswith("Start-up"))
    files_named = re.split(r"\.\s", paragraph, maxsplit=1)[0]  # its first sentence
    count = re.search(r"crosses (\d+) files", paragraph)
    assert count is not None, paragraph
    return int(count[1]), set(re.findall(r"`([\w/]+\.py)`", files_named))


def _import_every_project_module() -> None:
    """Module bodies run now, not during the trace (a lazy import would add its calls)."""
    for top in ("domain", "application", "adapters", "entrypoints"):
        package = importlib.import_module(top)
        for module in pkgutil.walk_packages(package.__path__, f"{top}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)


def _files_crossed(run: Callable[[], T]) -> tuple[T, set[str]]:
    """`run()`, and the files under `src/` in which a function ran meanwhile (`src`-relative)."""
    prefix = str(SRC) + os.sep
    crossed: set[str] = set()

    def trace(frame: FrameType, event: str, arg: object) -> None:
        code = frame.f_code
        if event == "call" and code.co_filename.startswith(prefix) and code.co_name != "<module>":
            crossed.add(code.co_filename[len(prefix) :].replace(os.sep, "/"))

    previous = sys.gettrace()  # a coverage tool's or a debugger's, given back afterwards
    sys.settrace(trace)
    try:
        result = run()
    finally:
        sys.settrace(previous)
    return result, crossed


def test_one_crm_row_crosses_the_files_listed_here(tmp_path: Path) -> None:
    from adapters.clock import FixedClock
    from adapters.intake.crm_export import CrmExportReader
    from application.intake.records import IngestReport
    from entrypoints.bootstrap import bootstrap
    from entrypoints.settings import load_settings
    from tests.conftest import T0

    _import_every_project_module()
    export = tmp_path / "crm.csv"
    export.write_text(ONE_ROW_CSV, encoding="utf-8")
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url="sqlite")
    clock = FixedClock(T0)
    office, start_up = _files_crossed(lambda: bootstrap(settings, clock=clock))
    try:
        progress: list[int] = []

        def ingest_the_row() -> IngestReport:  # what `backoffice ingest` does with the file
            reader = CrmExportReader(export)
            reader.size()
            return office.ingest(reader.items(on_progress=progress.append), report=IngestReport())

        report, walk = _files_crossed(ingest_the_row)
        assert (report.read, report.created, report.rejected_count) == (1, 1, 0)
        assert office.index.position() == office.store.last_position() == 1  # indexed
        assert office.case("CRM-260001").account == "80123456"
    finally:
        office.close()

    section = _walk_section()
    documented = _documented_walk(section)
    assert len(documented) == len(set(documented))
    assert walk == set(documented), "update the walk in docs/architecture.md"
    assert len(walk) <= MAX_WALK_FILES
    count, documented_start_up = _documented_start_up(section)
    assert start_up == documented_start_up, "update start-up in docs/architecture.md"
    assert count == len(start_up)
