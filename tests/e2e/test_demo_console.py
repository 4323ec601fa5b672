"""The main job's last words (issue 14): `backoffice demo` prints the one command that serves
its week in the console, with its demo users; that command, run as printed (on a free port),
serves the console, and each demo user signs in and lands on their role's first page."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.test_serve import _free_port, wait_until_up

SCRIPT = str(Path(sys.executable).parent / "backoffice")


def test_the_demo_prints_how_to_open_its_week_in_the_console_and_that_works(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKOFFICE_", "PG"))}
    done = subprocess.run([SCRIPT, "demo", "--folder", str(tmp_path / "demo")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())  # the console wraps long lines
    command = re.search(r"(backoffice --data-dir \S+ serve)", out)
    assert command is not None, out[-1500:]
    address = re.search(r"then open (http://127\.0\.0\.1:8000/console/) and sign in as (.+?), "
                        r"password '([^']+)'", out)  # fmt: skip
    assert address is not None, out[-1500:]
    users = dict(re.findall(r"([\w.]+) \((\w+)\)", address.group(2)))
    assert set(users.values()) == {"agent", "supervisor", "auditor"}
    folder = shlex.split(command.group(1))[2]
    # A new case for an account of the week, as the CRM would hand it over on Monday.
    export = tmp_path / "crm.csv"
    export.write_bytes(
        "caso;fecha_ingreso;cuenta;línea;cliente;tipificación;solicitud\n"
        "CRM-270001;07/12/2026 08:00;80123456;hogar;Cliente Nuevo;Facturación - cobro no "
        "reconocido;Cobro que no reconoce\n".encode("cp1252")
    )  # fmt: skip
    ingested = subprocess.run([SCRIPT, "--data-dir", folder, "ingest", str(export)], env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert ingested.returncode == 0, ingested.stderr
    port = _free_port()
    argv = [SCRIPT, *shlex.split(command.group(1))[1:], "--port", str(port)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, base)
        first_pages = {"agent": "/console/day", "supervisor": "/console/board",
                       "auditor": "/console/cases"}  # fmt: skip
        for login, role in users.items():
            with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as browser:
                page = browser.get(address.group(1).replace("http://127.0.0.1:8000", ""))
                assert page.url.path == "/console/sign-in"
                signed = browser.post("/console/sign-in", data={
                    "login": login, "password": address.group(3), "next": "/console/"})  # fmt: skip
                assert signed.status_code == 200, (login, signed.text[-500:])
                assert signed.url.path == first_pages[role], login
                assert 'lang="es-CO"' in signed.text
                if role == "agent":
                    _works_a_sac_case_on_the_simulated_systems(browser)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
        err = process.stderr.read() if process.stderr else ""
        assert code in (0, -signal.SIGTERM), err
        assert "Traceback" not in err
    assert f"on http://127.0.0.1:{port}: the console at /console/" in err


def _step(browser: httpx.Client, case: str, page: str, command: str, form: dict[str, str]) -> str:
    """Send a step of the case page as the page carried it (its CSRF token and version)."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    version = re.search(r'name="version" value="(\d+)"', page)
    assert csrf is not None
    assert version is not None
    sent = {"csrf": csrf.group(1), "version": version.group(1), **form}
    answer = browser.post(f"/console/cases/{case}/do/{command}", data=sent)
    assert answer.status_code == 200, (command, answer.text[-800:])
    assert 'role="alert"' not in answer.text, (command, answer.text[-1500:])
    return answer.text


def _works_a_sac_case_on_the_simulated_systems(browser: httpx.Client) -> None:
    """The new case, taken, interpreted and checked in RR (the demo's, simulated in the
    folder's `serve`), then accepted with a marking of the week's catalogue."""
    found = browser.get("/console/cases", params={"q": "CRM-270001"})
    case = re.search(r'href="/console/cases/([0-9a-f-]{36})">CRM-270001<', found.text)
    assert case is not None, found.text[-800:]
    page = browser.get(f"/console/cases/{case.group(1)}").text
    page = _step(browser, case.group(1), page, "assign-case", {"agent": "maria.b"})
    page = _step(browser, case.group(1), page, "interpret-case",
                 {"category": "sac", "subcategory": "facturacion"})  # fmt: skip
    page = _step(browser, case.group(1), page, "sac-check", {})
    assert '<option value="SAC-FAC-EXPL">' in page  # the week's marking catalogue
    page = _step(browser, case.group(1), page, "sac-accept", {"marking": "SAC-FAC-EXPL"})
    assert 'id="step-complete-closing-protocol"' in page
