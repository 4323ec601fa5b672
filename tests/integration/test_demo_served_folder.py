"""The demo's folder as it is served (a new user's second trial): nothing in it is stamped
after the moment its clock stands at (the week's last worker run, the demo accounts), and its
simulated WFM offers visits on the days after that moment, so on the Friday a support case's
slots are listed over HTTP and one is booked; the week itself runs without those slots (its
golden log is unchanged: `tests/golden`)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient
from rich.console import Console

from adapters.clock import FixedClock
from adapters.systems.memory import InMemoryScheduling
from application.branches.commands import SupportDiagnose
from application.case.commands import InterpretCase
from domain.values import Actor, Category, Subcategory
from entrypoints import bootstrap
from entrypoints.demo import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    NEXT_WEEK_SLOTS,
    SERVED_AT,
    run_demo,
    simulated_systems,
)
from entrypoints.http.app import create_app
from entrypoints.settings import Settings, load_settings
from tests.conftest import record


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """The demo run once: the folder's settings (as `serve` reads them) and what it printed."""
    printed = io.StringIO()
    folder = run_demo(tmp_path_factory.mktemp("demo"), None, Console(file=printed, width=200))
    return load_settings(environ={}, data_dir=str(folder)), printed.getvalue()


def test_nothing_in_the_folder_is_later_than_its_now(served: tuple[Settings, str]) -> None:
    settings, printed = served
    assert settings.fixed_clock == SERVED_AT
    friday = [line.split()[:2] for line in printed.splitlines() if line.strip().startswith("Fri ")]
    assert friday, printed[:2000]
    assert max(time for _, time in friday) == "15:50"  # the worker's last run, not 16:00
    assert re.search(r"Fri 15:50 +worker: ", printed)
    with bootstrap.bootstrap(settings) as office:
        accounts = bootstrap.accounts(office, settings)
        try:
            made = {a.login: (a.created_at, a.updated_at) for a in accounts.list()}
        finally:
            accounts.close()
    assert set(made) == {login for login, _, _ in DEMO_ACCOUNTS}
    assert all(created <= SERVED_AT and updated <= SERVED_AT for created, updated in made.values())


def test_the_served_wfm_offers_the_next_weeks_visits_and_one_is_booked(
    served: tuple[Settings, str],
) -> None:
    settings, _ = served
    with bootstrap.bootstrap(settings) as office:  # a support case handed over on Friday
        office.ingest([record("CRM-270002", account="80987654", customer_name="Cliente Nuevo",
                              received_at=SERVED_AT - timedelta(minutes=20),
                              follow_up_at=SERVED_AT + timedelta(days=3))])  # fmt: skip
        office.assign("CRM-270002", agent="juan.r", actor=Actor.agent("laura.s"))
    app = create_app(settings, session_secret=b"k" * 32)
    with TestClient(app) as client:
        signed = client.post("/session", json={"login": "juan.r", "password": DEMO_PASSWORD})
        assert signed.status_code == 200, signed.text
        headers = {"X-CSRF-Token": signed.json()["csrf_token"]}
        case = client.get("/cases/CRM-270002").json()["case_id"]

        def command(name: str, **body: object) -> None:
            done = client.post(f"/commands/{name}", json={"case": case, **body}, headers=headers)
            assert done.status_code == 200, (name, done.text)

        command("interpret-case", category="soporte", subcategory="falla_puntual")
        command("support-diagnose")
        offered = client.get("/cases/CRM-270002/slots")
        assert offered.status_code == 200, offered.text
        slots = offered.json()
        assert [s["slot_id"] for s in slots] == [s.slot_id for s in NEXT_WEEK_SLOTS]
        command("support-resolve", route="physical", reason="Módem sin sincronía",
                slot_id="WFM-SLOT-0802")  # fmt: skip
        visits = client.get("/cases/CRM-270002").json()["visits"]
        assert [v["booking_reference"].startswith("WFM-") for v in visits] == [True]
        left = client.get("/cases/CRM-270002/slots").json()
        assert [s["slot_id"] for s in left] == ["WFM-SLOT-0803", "WFM-SLOT-0804"]


def test_the_weeks_own_wfm_has_only_its_one_slot() -> None:
    clock = FixedClock(SERVED_AT)
    week = simulated_systems(clock, served=False).scheduling
    folder = simulated_systems(clock).scheduling
    assert isinstance(week, InMemoryScheduling)
    assert isinstance(folder, InMemoryScheduling)
    assert [s.slot_id for s in week.free] == ["WFM-SLOT-0801"]
    assert [s.slot_id for s in folder.free] == [
        "WFM-SLOT-0801",
        *(s.slot_id for s in NEXT_WEEK_SLOTS),
    ]
    assert all(s.start > SERVED_AT for s in NEXT_WEEK_SLOTS)
    assert all(s.start.weekday() < 5 for s in NEXT_WEEK_SLOTS)


def test_the_command_line_uses_the_folders_simulated_systems(
    served: tuple[Settings, str],
) -> None:
    """Second trial: `support slots` in the demo's folder exited 5 ("BACKOFFICE_WFM_URL is not
    set") while the API and the console there used the simulated systems."""
    settings, _ = served
    with bootstrap.bootstrap(settings) as office:
        office.ingest([record("CRM-270003", account="80987654", customer_name="Cliente Otro",
                              typification="Sin señal de TV",
                              received_at=SERVED_AT - timedelta(minutes=10),
                              follow_up_at=SERVED_AT + timedelta(days=3))])  # fmt: skip
        office.assign("CRM-270003", agent="juan.r", actor=Actor.agent("laura.s"))
        case = office.resolve("CRM-270003")
        door = bootstrap.dispatcher(office, settings)
        juan = Actor.agent("juan.r")
        door.handle(InterpretCase(case=case, category=Category.SOPORTE,
                                  subcategory=Subcategory.FALLA_PUNTUAL), juan)  # fmt: skip
        door.handle(SupportDiagnose(case=case), juan)
    script = str(Path(sys.executable).parent / "backoffice")
    done = subprocess.run(
        [script, "--data-dir", str(settings.data_dir), "support", "slots", "CRM-270003",
         "--as", "juan.r", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    offered = [slot["slot_id"] for slot in json.loads(done.stdout)]
    assert offered == [s.slot_id for s in NEXT_WEEK_SLOTS]  # Monday 7 and Wednesday 9 December
