"""The main job's last words (issue 14): `backoffice demo` prints the one command that serves
its week in the console, with its demo users; that command, run as printed (on a free port),
serves the console, and each demo user signs in and lands on their role's first page. The
folder is served on the week's Friday, whatever the day the test runs: the agents are on
shift, the week's open case is on its agent's day, the board names the team on shift."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.serving import backoffice_serve

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
    assert set(users.values()) == {"agent", "supervisor", "coordinator", "auditor"}
    assert "the clock stands at Fri 04 Dec 2026 15:50, Bogotá" in out
    open_then = re.search(r"open cases by agent then: ([\w.]+) 1\.", out)
    assert open_then is not None, out[-800:]
    folder = shlex.split(command.group(1))[2]
    # A new case for an account of the week, as the CRM hands it over on Friday afternoon.
    export = tmp_path / "crm.csv"
    export.write_bytes(
        "caso;fecha_ingreso;cuenta;línea;cliente;tipificación;solicitud\n"
        "CRM-270001;04/12/2026 15:30;80123456;hogar;Cliente Nuevo;Facturación - cobro no "
        "reconocido;Cobro que no reconoce\n".encode("cp1252")
    )  # fmt: skip
    ingested = subprocess.run([SCRIPT, "--data-dir", folder, "ingest", str(export)], env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert ingested.returncode == 0, ingested.stderr
    argv = [SCRIPT, *shlex.split(command.group(1))[1:]]
    with backoffice_serve(argv, env) as served:
        base = served.base
        first_pages = {"agent": "/console/day", "supervisor": "/console/board",
                       "coordinator": "/console/indicators",
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
                    _on_shift_on_friday(signed.text, open_case=login == open_then.group(1))
                if login == "maria.b":
                    _works_a_sac_case_on_the_simulated_systems(browser)
                if role == "supervisor":
                    _names_the_team_on_shift(signed.text, [u for u, r in users.items()
                                                           if r == "agent"])  # fmt: skip
    assert f"on {base}: the console at /console/" in served.stderr


def test_every_process_of_the_demos_folder_takes_its_friday_as_now(tmp_path: Path) -> None:
    """The folder's `fixed_clock` is the clock of whatever opens it without a clock of its own
    (`serve`, the worker, each command); refused beside Claro's real systems, or without an
    offset."""
    from adapters.clock import FixedClock
    from entrypoints.bootstrap import bootstrap
    from entrypoints.demo import SERVED_AT, _demo_accounts, demo_data
    from entrypoints.settings import SettingsError, load_settings

    folder = tmp_path / "week"
    first = load_settings(environ={}, data_dir=str(folder))
    with bootstrap(first, clock=FixedClock(SERVED_AT)) as office:
        _demo_accounts(office, first, folder, demo_data())
    served = load_settings(environ={}, data_dir=str(folder))  # as `serve` reads the folder
    assert served.fixed_clock == SERVED_AT
    with bootstrap(served) as office:
        assert office.clock.now() == SERVED_AT
    real = load_settings({"BACKOFFICE_SIMULATED_SYSTEMS": "false"}, data_dir=str(folder))
    with pytest.raises(SettingsError, match=r"fixed_clock: .*simulated_systems"):
        bootstrap(real)
    with pytest.raises(SettingsError, match="fixed_clock"):
        load_settings({"BACKOFFICE_FIXED_CLOCK": "2026-12-04T15:50"}, data_dir=str(folder))


def _on_shift_on_friday(day: str, *, open_case: bool) -> None:
    """An agent's day in the served folder: Friday 4 December, the agent working (the shift
    of the week's roster), and the week's open case on the day of the agent who has it."""
    assert 'Mi día <span class="muted">· vie 4 dic 2026</span>' in day, day[:2000]
    shift = re.search(r'<p id="my-shift">(.+?)</p>', day, re.S)
    assert shift is not None, day[:2000]
    assert "en turno ahora" in shift.group(1)
    assert "07:00–16:00" in shift.group(1)
    if open_case:
        mine = day.split('id="mine-title"', 1)[1]
        assert re.search(r'href="/console/cases/[0-9a-f-]{36}">CRM-260006<', mine), mine[:1500]
        assert "No tiene casos abiertos" not in mine


def _names_the_team_on_shift(board: str, agents: list[str]) -> None:
    """The board's team today: every agent of the week on shift, working, by name."""
    team = board.split('id="board-team"', 1)[1]
    assert f'En turno <span class="muted">({len(agents)})</span>' in team, team[:1500]
    for login in agents:
        named = re.search(rf'<span class="person" title="{re.escape(login)}">[^<]+</span>'
                          r'</span> · 07:00–16:00 <span class="badge ok">en turno ahora',
                          team)  # fmt: skip
        assert named is not None, (login, team[:1500])


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
