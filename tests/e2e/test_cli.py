"""The CLI as an agent and an auditor use it: real files, a real SQLite data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from entrypoints.cli import main
from tests.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "crm_export_sample.csv"

JsonObject = dict[str, Any]
"""A JSON object the CLI printed; its values are whatever `json.loads` made of them."""


class Cli:
    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data_dir = data_dir
        self.capsys = capsys

    def __call__(self, *args: str, code: int = 0) -> tuple[str, str]:
        self.capsys.readouterr()
        result = main(["--data-dir", str(self.data_dir), *args])
        out, err = self.capsys.readouterr()
        assert result == code, f"exit {result} (wanted {code})\nstdout:\n{out}\nstderr:\n{err}"
        return out, err

    def json(self, *args: str, code: int = 0) -> object:
        out, _ = self(*args, "--json", code=code)
        return json.loads(out)

    def obj(self, *args: str, code: int = 0) -> JsonObject:
        """The command's --json output, a JSON object."""
        value = self.json(*args, code=code)
        assert isinstance(value, dict), value
        return value

    def rows(self, *args: str, code: int = 0) -> list[JsonObject]:
        """The command's --json output, a list of JSON objects."""
        value = self.json(*args, code=code)
        assert isinstance(value, list), value
        assert all(isinstance(row, dict) for row in value), value
        return value


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "data", capsys)


def test_ingesting_the_sample_export_twice_creates_each_case_once(cli: Cli) -> None:
    first = cli.json("ingest", str(SAMPLE))
    assert first == {
        "read": 8,
        "created": 7,
        "repeat_contacts": 1,
        "already_known": 0,
        "rejected_count": 0,
        "rejected": [],
        "differing_count": 0,
        "differing": [],
    }
    again = cli.obj("ingest", str(SAMPLE))
    assert again["created"] == 0
    assert again["already_known"] == 8
    rows = cli.json("cases")
    assert isinstance(rows, list)
    assert len(rows) == 7
    movil = cli.rows("cases", "--line", "movil")
    assert {row["source"]["key"] for row in movil} == {"CRM-260003", "CRM-260006"}
    out, _ = cli("cases", "--line", "movil")
    assert "CRM-260003" in out
    assert "Cases (2 of 2)" in out


def test_a_file_with_bad_rows_keeps_the_good_ones_and_exits_4(cli: Cli, tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "crm_case_id,received_at,account,line,customer_name,typification\n"
        "A1,2026-11-27 08:00,111,hogar,Ana,Falla\n"
        "A2,31/02/2026 08:00,222,hogar,Beto,Falla\n"
        "A3,2026-11-27 09:00,333,satelital,Carla,Falla\n"
        "A4,2026-11-27 10:00,444,movil,Dora,Falla\n",
        encoding="utf-8",
    )
    out, err = cli("ingest", str(export), code=4)
    assert "created 2" in out
    assert "export.csv:3: received_at" in out
    assert "export.csv:4: line" in out
    assert "2 rows rejected; the good ones were kept" in err
    assert "Beto" not in out + err  # no personal data in the report
    keys = {row["source"]["key"] for row in cli.rows("cases")}
    assert keys == {"A1", "A4"}


def test_an_agent_works_a_case_to_a_first_contact_closing(cli: Cli) -> None:
    cli("ingest", str(SAMPLE))
    agent = ("--as", "maria.b")
    cli("case", "assign", "CRM-260008", "maria.b", *agent)
    cli("case", "interpret", "CRM-260008", "sac", "recaudo", *agent)
    cli("case", "note", "CRM-260008", "Pago aplicado el 28/11 en corresponsal", *agent)
    cli("case", "follow-up", "complete", "CRM-260008", "--outcome", "Cliente confirma", *agent)
    cli("case", "typify", "CRM-260008", "REC-PAGO-01", *agent)
    _, err = cli("case", "close", "CRM-260008", "--summary", "x", "--first-contact", *agent, code=1)
    assert err.strip() == "error: closing in first contact: record the closing protocol first"
    cli(
        "case",
        "protocol",
        "CRM-260008",
        "--explained",
        "--nothing-else",
        "--script",
        "--survey",
        *agent,
    )
    out, _ = cli(
        "case", "close", "CRM-260008", "--summary", "Pago aplicado", "--first-contact", *agent
    )
    assert out.startswith("Case closed, solved in first contact (case crm:CRM-260008, version")

    shown = cli.obj("case", "show", "CRM-260008")
    assert shown["status"] == "closed"
    assert shown["closed_first_contact"] is True
    _, err = cli("case", "note", "CRM-260008", "otra", *agent, code=1)
    assert "the case is closed" in err
    assert len(err.strip().splitlines()) == 1

    history = cli.json("case", "history", "CRM-260008")
    assert isinstance(history, list)
    assert [h["event"] for h in history] == [
        "case.ingested",
        "case.assigned",
        "case.interpreted",
        "case.note_added",
        "case.follow_up_completed",
        "case.typified",
        "case.closing_protocol_completed",
        "case.closed_first_contact",
    ]
    assert {h["actor"] for h in history[1:]} == {"agent:maria.b"}
    assert history[0]["actor"] == "intake:intake"

    before = cli.obj("case", "show", "CRM-260008", "--as-of", history[2]["timestamp"])
    assert before["version"] == 3
    assert before["status"] == "open"


def test_errors_say_what_and_exit_with_a_meaningful_code(cli: Cli, tmp_path: Path) -> None:
    cli("ingest", str(SAMPLE))
    _, err = cli("case", "show", "CRM-999", code=3)
    assert "no case found for 'CRM-999'" in err
    # An account typed where a case is asked for is not said back.
    _, err = cli("case", "show", "3115552233", code=3)
    assert "3115552233" not in err
    assert "search by account, phone or name" in err
    _, err = cli("case", "show", "CRM-260001", "--as-of", "31/02/2026", code=2)
    assert "not a valid date" in err
    _, err = cli("ingest", str(tmp_path / "missing.csv"), code=2)
    assert "no such file" in err
    _, err = cli("case", "interpret", "CRM-260001", "pqr", "cartera", "--as", "x", code=2)
    assert "not a subcategory of pqr" in err
    _, err = cli("case", "follow-up", "schedule", "CRM-260001", "2020-01-01", "--as", "x", code=2)
    assert "future" in err


def test_due_follow_ups_and_the_installed_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script = Path(sys.executable).parent / "backoffice"
    run = subprocess.run(
        [str(script), "--data-dir", str(data), "ingest", str(SAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "created 7" in run.stdout
    due = subprocess.run(
        [str(script), "--data-dir", str(data), "due", "--until", "2026-12-01 23:59", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert due.returncode == 0, due.stderr
    keys = sorted(row["source"]["key"] for row in json.loads(due.stdout))
    assert keys == ["CRM-260001", "CRM-260002", "CRM-260003", "CRM-260008"]


def test_recommended_cases_arrive_by_mail_keyed_by_message_id(cli: Cli) -> None:
    report = cli.obj("ingest-mail", str(ROOT / "examples" / "mail"))
    assert report["created"] == 2
    again = cli.obj("ingest-mail", str(ROOT / "examples" / "mail"))
    assert again["already_known"] == 2
    shown = cli.obj("case", "show", "email:CAF3x9-2026-1129-0815@correo.claro.com.co")
    assert shown["recommended_by"] == "vp.clientes@claro.com.co"
    assert shown["line"] == "movil"
    assert shown["source"] == {
        "channel": "email",
        "key": "CAF3x9-2026-1129-0815@correo.claro.com.co",
    }


def test_a_file_that_is_not_an_export_is_refused_before_reading(cli: Cli) -> None:
    _, err = cli("ingest", str(ROOT / "README.md"), code=2)
    assert "not a CRM export" in err


def test_the_sweep_can_run_as_often_as_cron_likes(cli: Cli) -> None:
    cli("ingest", str(SAMPLE))
    first = cli.json("sweep", "--worker", "cron")
    assert isinstance(first, dict)
    assert first["missed"] == first["examined"]  # whatever today is, each overdue one once
    second = cli.obj("sweep", "--worker", "cron")
    assert second["missed"] == 0


def test_the_demo_runs_a_whole_week_and_keeps_its_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--folder", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "The week in numbers" in out
    assert "68.4% (13 of 19 due; 3 late, 3 missed)" in out  # the week's follow-ups
    # Every indicator of docs/indicators.md has a value and its traffic light.
    for name in ("Seguimientos", "FCR", "Reincidencia", "NPS", "Calidad MEC", "Ausentismo",
                 "Rotación", "Management practices"):  # fmt: skip
        [row] = [line for line in out.splitlines() if line.startswith(f"│ {name}")]
        assert any(light in row for light in ("✓ green", "! amber", "✗ red")), row
    assert "events in the store" not in out
    assert (
        "Tue 18:00  worker: follow-ups marked missed: 1; deadlines breached: 0; mails sent: 5"
        in out
    )
    # Wednesday 14:00: two more follow-ups missed, Cartera's 24-hour answer overdue.
    assert (
        "Wed 14:00  worker: follow-ups marked missed: 2; deadlines breached: 1; mails sent: 3"
        in out
    )
    assert "maria.b@almacontact.example.co" in out  # the missed follow-up's reminder
    [folder] = (tmp_path / "demo").iterdir()
    assert (folder / "cases.sqlite").exists()
    assert '"job": "outbox"' in (folder / "worker.log").read_text(encoding="utf-8")
    cli = Cli(folder, capsys)
    [total] = cli.rows("indicators", "--from", "2026-12-01", "--to", "2026-12-01")
    assert (total["follow_ups_due"], total["on_time"], total["late"], total["missed"]) == (
        5, 3, 1, 1,
    )  # fmt: skip
    assert (total["handled"], total["first_contact"], total["fcr"]) == (7, 3, 3 / 7)
    # The demo ran with follow-ups missed after 4 hours; this reading uses the default 24:
    # other settings, another label.
    assert total["definitions"].startswith("v3+")
    assert f"indicators {total['definitions']}" not in out
    page = folder / "indicators.html"
    cli("indicators", "--from", "2026-11-30", "--to", "2026-12-02", "--chart", str(page))
    text = page.read_text(encoding="utf-8")
    assert text.count("<svg") == 6  # compliance, FCR, reincidencia, NPS, MEC, Ausentismo
    assert "<title>2026-12-01: 60.0</title>" in text  # Tuesday's follow-up compliance
    assert text.count("meta 90") == 2  # Seguimientos' and Calidad MEC's goals
    assert "<script" not in text
    [week] = cli.rows("indicators", "--from", "2026-11-30", "--to", "2026-12-04")
    lights = [key for key in week if key.endswith("_light")]
    assert len(lights) == 8
    assert all(week[key] in ("green", "amber", "red") for key in lights), week
    history = cli.rows("case", "history", "CRM-260003")
    events = [h["event"] for h in history]
    escalated = events.index("case.escalated")
    assert events[escalated : escalated + 6] == [
        "case.escalated",
        "case.clock_started",  # Cartera has 24 hours to answer
        "case.follow_up_scheduled",
        "case.follow_up_missed",  # Wednesday 10:00, nobody called
        "case.clock_breached",  # Wednesday 14:00, Cartera has not answered
        "case.clock_stopped",  # Thursday 09:10, Cartera answers
    ]
    assert "case.closed" in events


def test_a_pqr_shows_its_clock_and_its_answer_opens_the_reposicion_window(cli: Cli) -> None:
    cli("ingest", str(SAMPLE))
    cli("case", "interpret", "CRM-260006", "pqr", "queja_reclamo", "--as", "sofia.t")
    cli("case", "typify", "CRM-260006", "PQR-ROAM", "--cun", "4436-26-0004512", "--as", "sofia.t")
    shown = cli.obj("case", "show", "CRM-260006")
    kinds = [clock["kind"] for clock in shown["open_clocks"]]
    assert "pqr_response" in kinds
    out, _ = cli("case", "show", "CRM-260006")
    assert "pqr_response #1 due" in out
    answered = cli.obj("case", "pqr-answer", "CRM-260006", "--as", "sofia.t")
    events = [e["event"] for e in answered["events"]]
    assert events == ["case.clock_stopped", "case.clock_started"]
    assert answered["events"][1]["data"]["kind"] == "reposicion"


def test_sac_commands_talk_to_rr_and_dime_over_http(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_system_contracts import fresh_record
    from tests.stub_systems import Stub, serve

    stub = Stub()
    stub.accounts.accounts["3104567890"] = fresh_record()
    cli("ingest", str(SAMPLE))
    cli("case", "interpret", "CRM-260003", "sac", "cartera", "--as", "sofia.t")
    _, err = cli("sac", "check", "CRM-260003", "--as", "sofia.t", code=5)
    assert "BACKOFFICE_RR_URL is not set" in err
    with serve(stub) as url:
        monkeypatch.setenv("BACKOFFICE_RR_URL", url)
        monkeypatch.setenv("BACKOFFICE_DIME_URL", url)
        monkeypatch.setenv(
            "BACKOFFICE_CONTACT_MATRIX", str(ROOT / "examples" / "contact_matrix.toml")
        )
        monkeypatch.setenv("BACKOFFICE_SYSTEMS_TIMEOUT_SECONDS", "1")
        # CRM-260003 is móvil: its account is in AC, a gateway of its own.
        _, err = cli("sac", "check", "CRM-260003", "--as", "sofia.t", code=1)
        assert "no gateway is configured for AC (set BACKOFFICE_AC_URL)" in err
        monkeypatch.setenv("BACKOFFICE_AC_URL", url)
        check = cli.obj("sac", "check", "CRM-260003", "--as", "sofia.t")
        assert check["inconsistent"] is False
        assert "aviso final: sí" in check["findings"]
        escalated = cli.obj(
            "sac", "escalate", "CRM-260003", "--reason", "Beneficio incumplido", "--as", "sofia.t"
        )
        assert escalated["events"][0]["data"]["area"] == "Cartera"
        stub.faults.extend([("5xx", 503)] * 3)
        _, err = cli("sac", "check", "CRM-260003", "--as", "sofia.t", code=5)
        assert "recorded on the case as pending" in err
    shown = cli.obj("case", "show", "CRM-260003")
    assert shown["pending_calls"] == ["revisar cartera en AC"]


def test_support_pqr_and_sales_commands_over_http(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from application.ports.systems import Diagnosis, Slot
    from tests.integration.test_system_contracts import fresh_record
    from tests.stub_systems import Stub, serve

    stub = Stub()
    stub.accounts.accounts["80987654"] = fresh_record()
    stub.accounts.accounts["3209876543"] = fresh_record()
    stub.diagnostics.diagnoses["80987654"] = Diagnosis(False, None, True, ("T3",), None)
    start = datetime.now(UTC) + timedelta(days=1)
    stub.scheduling.free.append(Slot(start, start + timedelta(hours=4), "S1"))
    cli("ingest", str(SAMPLE))
    with serve(stub) as url:
        for name in ("RR", "AC", "DIME", "DIAGNOSTICS", "WFM"):
            monkeypatch.setenv(f"BACKOFFICE_{name}_URL", url)
        monkeypatch.setenv(
            "BACKOFFICE_CONTACT_MATRIX", str(ROOT / "examples" / "contact_matrix.toml")
        )
        agent = ("--as", "juan.r")
        cli("case", "interpret", "CRM-260002", "soporte", "falla_puntual", *agent)
        diagnosed = cli.obj("support", "diagnose", "CRM-260002", *agent)
        assert diagnosed["events"][0]["data"]["inconsistent"] is True
        [offered] = cli.rows("support", "slots", "CRM-260002", "--visit", "ot", *agent)
        assert offered["slot_id"] == "S1"
        visit = cli.obj("support", "resolve", "CRM-260002", "physical", "--reason",
                         "Módem sin sincronía", "--visit", "ot", "--slot", "S1",
                         *agent)  # fmt: skip
        assert visit["events"][0]["event"] == "case.visit_scheduled"
        cli("case", "interpret", "CRM-260006", "pqr", "queja_reclamo", *agent)
        cli("case", "typify", "CRM-260006", "PQR-ROAM", "--cun", "4436-26-0000005", *agent)
        redirected = cli.obj("pqr", "redirect", "CRM-260006", "--reason", "Área correcta", *agent)
        assert redirected["events"][0]["data"]["area"] == "PQR"
        answered = cli.obj("case", "escalation-answered", "CRM-260006", "1", "--answer",
                            "Recibida por el área", *agent)  # fmt: skip
        assert answered["events"][0]["event"] == "case.clock_stopped"
        cli("case", "interpret", "CRM-260007", "ventas", "venta", *agent)
        sold = cli.obj("sales", "escalate", "CRM-260007", "--reason", "Plan 900 megas",
                        "--follow-up", "2027-01-05", *agent)  # fmt: skip
        # The escalation and its follow-up, recorded together (one refused: neither).
        names = [e["event"] for e in sold["events"]]
        assert names[0] == "case.escalated"
        assert names[-1] == "case.follow_up_scheduled"


def test_survey_answers_feed_the_nps(cli: Cli, tmp_path: Path) -> None:
    cli("ingest", str(SAMPLE))
    export = tmp_path / "encuestas.csv"
    export.write_bytes(
        "caso;encuesta;fecha_respuesta;recomendación;satisfacción_asesor;solucionado\r\n"
        "CRM-260001;E-1;01/12/2026 10:00;10;9;sí\r\n"
        "CRM-260002;E-2;01/12/2026 11:00;3;4;no\r\n"
        "CRM-260008;E-3;01/12/2026 12:00;9;;\r\n"
        "CRM-999999;E-4;01/12/2026 12:00;9;;\r\n"
        "CRM-260003;E-5;01/12/2026 12:00;11;;\r\n".encode("cp1252")
    )
    out, err = cli("import-surveys", str(export), code=4)
    assert "2 rows rejected; the good ones were kept" in err
    assert "read 4 · recorded 3 · already recorded 0 · rejected 2" in out
    assert "encuestas.csv:5: crm_case_id: no case with that key" in out
    assert "encuestas.csv:6: recommendation: '11' is not 0–10" in out
    again = cli.obj("import-surveys", str(export), code=4)
    assert (again["created"], again["already_known"]) == (0, 3)
    [total] = cli.rows("indicators", "--from", "2026-12-01", "--to", "2026-12-01")
    assert (total["survey_answers"], round(total["nps"], 1)) == (3, 33.3)
    quality = tmp_path / "calidad.csv"
    quality.write_text(
        "caso,monitoreo,fecha_monitoreo,asesor,nota\n"
        "CRM-260001,Q-1,2026-12-01 15:00,maria.b,96\n"
        "CRM-260002,Q-2,2026-12-01 16:00,juan.r,101\n",
        encoding="utf-8",
    )
    out, _ = cli("import-quality", str(quality), code=4)
    assert "calidad.csv:3: score: '101' is not 0–100" in out
    [total] = cli.rows("indicators", "--from", "2026-12-01", "--to", "2026-12-01")
    assert total["quality_emitted"] == 96.0
    assert total["quality_perceived"] == 65.0  # satisfaction 9 and 4, as %
    assert round(total["calidad_mec"], 1) == 77.4  # 0.4 × 96 + 0.6 × 65
    assert total["calidad_mec_light"] == "red"  # goal 90, margin 5


EXAMPLES = ROOT / "examples"


def test_the_roster_shifts_and_practice_register_feed_the_team_indicators(cli: Cli) -> None:
    roster = cli.obj("import-roster", str(EXAMPLES / "roster.csv"))
    assert roster["created"] == 6
    again = cli.obj("import-roster", str(EXAMPLES / "roster.csv"))  # juan.r's leaving too
    assert (again["created"], again["already_known"]) == (0, 6)
    shifts = cli.obj("import-shifts", str(EXAMPLES / "shifts.csv"))
    assert (shifts["created"], shifts["rejected_count"]) == (76, 0)
    again = cli.obj("import-shifts", str(EXAMPLES / "shifts.csv"))
    assert (again["created"], again["already_known"]) == (0, 76)
    cli("import-practices", str(EXAMPLES / "practices.csv"))
    again = cli.obj("import-practices", str(EXAMPLES / "practices.csv"))
    assert (again["created"], again["already_known"]) == (0, 53)
    rows = cli.rows("indicators", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "team")
    by_team = {row["group"]: row for row in rows}
    hogar, movil = by_team["Premium Hogar"], by_team["Premium Móvil"]
    # maria.b: 2 absences in 18 shifts; juan.r: 13 shifts until he left on the 20th.
    assert (hogar["scheduled_agent_days"], hogar["absent_agent_days"]) == (31, 2)
    assert hogar["ausentismo_light"] == "amber"  # 6.5 % against ≤ 5 with a margin of 2
    assert (hogar["active_agents"], hogar["agents_left"]) == (2, 1)
    assert (movil["scheduled_agent_days"], movil["absent_agent_days"]) == (27, 1)
    assert movil["ausentismo_light"] == "green"
    assert (hogar["practices_due"], hogar["practices_held"]) == (72, 53)
    assert hogar["practice_compliance_light"] == "red"
    cancel = cli.data_dir / "anulados.csv"
    cancel.write_text(
        "asesor;fecha;hora_inicio;hora_fin;cancelado\nmaria.b;27/11/2026;07:00;16:00;si\n",
        encoding="utf-8",
    )
    assert cli.obj("import-shifts", str(cancel))["created"] == 1
    assert cli.obj("import-shifts", str(cancel))["already_known"] == 1
    after = cli.rows("indicators", "--month", "2026-11", "--by", "team")
    assert after[0]["scheduled_agent_days"] == 30
    cancel.write_text(
        "asesor;fecha;hora_inicio;hora_fin;cancelado\nmaria.b;27/11/2026;07:00;16:00;\n",
        encoding="utf-8",
    )
    assert cli.obj("import-shifts", str(cancel))["created"] == 1  # back on the schedule
    assert cli.json("indicators", "--month", "2026-11", "--by", "team") == rows

    detail = cli.rows("indicators", "--month", "2026-11", "--by", "agent", "--practices")
    daily = next(r for r in detail if r["group"] == "laura.s" and r["practice"] == "daily_dialogue")
    assert (daily["due"], daily["held"], daily["compliance_light"]) == (17, 17, "green")
    # The goals are configuration: a looser Ausentismo goal turns Premium Hogar green.
    (cli.data_dir / "indicators.toml").write_text(
        "[goals.ausentismo]\ntarget = 7\n", encoding="utf-8"
    )
    looser = cli.rows("indicators", "--month", "2026-11", "--by", "team")
    assert looser[0]["ausentismo_light"] == "green"
    (cli.data_dir / "indicators.toml").unlink()
    week = cli.rows("indicators", "--week", "2026-W46", "--by", "agent")  # 9–15 November
    maria = next(row for row in week if row["group"] == "maria.b")
    assert (maria["scheduled_agent_days"], maria["absent_agent_days"]) == (5, 0)
    _, err = cli("indicators", "--month", "2026-13", code=2)
    assert "--month: '2026-13' is not a month (YYYY-MM)" in err
    _, err = cli("indicators", "--month", "2026-11", "--from", "2026-11-02", code=2)
    assert "give one of --from/--to, --month, not both" in err
    out, _ = cli("indicators", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "agent")
    assert "Confirmación de proceso" in out
    assert "41.2% ✗" in out  # laura.s: 7 of 17 days


def test_bad_shift_rows_are_reported_and_a_rebuilt_projection_reads_the_same(
    cli: Cli, tmp_path: Path
) -> None:
    for command, name in (("import-roster", "roster"), ("import-shifts", "shifts"),
                          ("import-practices", "practices")):  # fmt: skip
        cli(command, str(EXAMPLES / f"{name}.csv"))
    rows = cli.json("indicators", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "team")
    bad = tmp_path / "novedades.csv"
    bad.write_text(
        "asesor,fecha,hora_inicio,hora_fin,novedad\n"
        "maria.b,30/11/2026,07:00,16:00,\n"
        "maria.b,31/11/2026,07:00,16:00,\n"
        "nadie.x,30/11/2026,07:00,16:00,\n"
        "sofia.t,30/11/2026,25:00,16:00,\n",
        encoding="utf-8",
    )
    out, err = cli("import-shifts", str(bad), code=4)
    assert "read 2 · recorded 1" in out
    assert "novedades.csv:3: day: '31/11/2026' is not a valid date" in out
    assert "novedades.csv:4: the agent is not on the roster" in out
    assert "novedades.csv:5: starts: '25:00' is not a time of day" in out
    assert "3 rows rejected; the good ones were kept" in err

    # The positions need no mailer and no contact directory: a broken one does not matter.
    (cli.data_dir / "contact_matrix.toml").write_text("[not toml", encoding="utf-8")
    status = cli.rows("projections", "status")
    assert {row["projection"] for row in status} == {"cases", "indicators", "outbox"}
    (cli.data_dir / "contact_matrix.toml").unlink()
    log = status[0]["log"]
    before = cli.json("indicators", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "team")
    assert before != rows  # maria.b's shift of the 30th came in
    rebuilt = cli.json("projections", "rebuild", "indicators")
    assert rebuilt == {"projection": "indicators", "positions": log, "position": log}
    after = cli.json("indicators", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "team")
    assert after == before
    _, err = cli("projections", "rebuild", "outbox", code=2)
    assert "'outbox' is not one of: cases, indicators" in err


def test_the_team_imports_also_read_json_lines(cli: Cli, tmp_path: Path) -> None:
    _, err = cli("import-shifts", str(tmp_path / "missing.csv"), code=2)
    assert "missing.csv: no such file" in err
    roster = tmp_path / "nomina.jsonl"
    roster.write_text(
        '{"asesor": "maria.b", "equipo": "Premium Hogar", "cargo": "Asesor",'
        ' "fecha_ingreso": "2025-03-03"}\n'
        '{"asesor": "laura.s", "equipo": "Premium Hogar", "cargo": "Supervisor",'
        ' "fecha_ingreso": "01/02/2025", "fecha_retiro": null}\n'
        '{"asesor": "pedro.l", "equipo": "Premium Hogar"\n'
        '{"asesor": "ana.p", "equipo": "Premium Móvil", "fecha_ingreso": "2026-11-17"}\n'
        "[1, 2]\n"
        '{"asesor": "luis.g", "equipo": "X", "cargo": "asesor", "fecha_ingreso": "2025-03-03",'
        ' "fecha_retiro": "2025-01-01"}\n',
        encoding="utf-8",
    )
    out, _ = cli("import-roster", str(roster), code=4)
    assert "read 2 · recorded 2" in out
    assert "nomina.jsonl:6: left_on: 2025-01-01 is before since 2025-03-03" in out
    assert "nomina.jsonl:3: malformed JSON" in out
    assert "nomina.jsonl:4: role: required" in out
    assert "nomina.jsonl:5: not a JSON object" in out
    register = tmp_path / "registro.ndjson"
    register.write_text(
        '{"practica": "Diálogo diario", "responsable": "laura.s",'
        ' "fecha": "2026-11-03 07:15", "duracion": 15, "id_registro": "PG-1"}\n',
        encoding="utf-8",
    )
    assert cli.obj("import-practices", str(register))["created"] == 1


def test_sac_dispute_killed_while_rr_files_the_pqr_then_run_again_gives_one_cun(
    tmp_path: Path,
) -> None:
    """kill -9 of the agent's command after RR received the PQR, before the case heard back;
    the same command again: one PQR in RR, its CUN on the case, one clock, one escalation."""
    import os
    import signal
    import time

    from tests.integration.test_system_contracts import fresh_record
    from tests.stub_systems import Stub, serve

    stub = Stub()
    stub.accounts.accounts["80123456"] = fresh_record()
    data = tmp_path / "data"
    script = str(Path(sys.executable).parent / "backoffice")
    env = {
        **os.environ,
        "BACKOFFICE_DATA_DIR": str(data),
        "BACKOFFICE_MARKINGS": str(ROOT / "examples" / "markings.toml"),
        "BACKOFFICE_CONTACT_MATRIX": str(ROOT / "examples" / "contact_matrix.toml"),
        "BACKOFFICE_SYSTEMS_TIMEOUT_SECONDS": "30",
    }

    def backoffice(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, *args], env=env, capture_output=True, text=True, check=False, timeout=120
        )

    assert backoffice("ingest", str(SAMPLE)).returncode == 0
    assert backoffice("case", "interpret", "CRM-260001", "sac", "facturacion",
                      "--as", "maria.b").returncode == 0  # fmt: skip
    dispute = ("sac", "dispute", "CRM-260001", "--marking", "PQR-FACT", "--reason",
               "No reconoce el PPV", "--as", "maria.b")  # fmt: skip
    with serve(stub) as url:
        env["BACKOFFICE_RR_URL"] = url
        stub.faults.append(("slow", 1.5))  # RR takes its time over the PQR
        process = subprocess.Popen([script, *dispute], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while ("POST", "/accounts/80123456/markings") not in stub.requests:
            assert time.monotonic() < deadline, "the command never reached RR"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        while not stub.accounts.accounts["80123456"].markings:  # RR finishes on its side
            assert time.monotonic() < deadline, "RR never applied the marking"
            time.sleep(0.02)
        shown = json.loads(backoffice("case", "show", "CRM-260001", "--json").stdout)
        assert shown["cun"] is None
        assert [w["status"] for w in shown["outside_writes"]] == ["pending"]

        again = backoffice(*dispute, "--json")
        assert again.returncode == 0, again.stderr
    [marking] = stub.accounts.accounts["80123456"].markings
    assert marking.code == "PQR-FACT"
    case = json.loads(backoffice("case", "show", "CRM-260001", "--json").stdout)
    [write] = case["outside_writes"]
    assert write["status"] == "answered"
    assert case["cun"] == write["result"]["cun"]
    assert [c["kind"] for c in case["clocks"]] == ["pqr_response", "escalation_response"]
    assert len(case["escalations"]) == 1


def test_case_typify_and_note_go_to_rr_or_ac_then_the_case(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seed §7: "El asesor registra la marcación (F22 RR) … Para los casos de móvil en AC se
    deberá dejar un tickler"; a note longer than RR's field goes to ESTRATEGICOS (F7+F6)."""
    from domain.values import NoteFolder
    from tests.integration.test_system_contracts import fresh_record
    from tests.stub_systems import Stub, serve

    stub = Stub()  # one gateway stub answers for RR and AC here
    stub.accounts.accounts["80123456"] = fresh_record()
    stub.accounts.accounts["3104567890"] = fresh_record()
    monkeypatch.setenv("BACKOFFICE_MARKINGS", str(ROOT / "examples" / "markings.toml"))
    cli("ingest", str(SAMPLE))
    agent = ("--as", "sofia.t")
    cli("case", "interpret", "CRM-260003", "sac", "cartera", *agent)  # móvil
    cli("case", "interpret", "CRM-260001", "sac", "facturacion", *agent)  # hogar
    _, err = cli("case", "note", "CRM-260001", "Sin RR configurado", *agent)
    assert "recorded on the case only: no gateway is configured for RR" in err
    with serve(stub) as url:
        monkeypatch.setenv("BACKOFFICE_RR_URL", url)
        monkeypatch.setenv("BACKOFFICE_AC_URL", url)
        _, err = cli("case", "typify", "CRM-260003", "SOP-01", *agent, code=1)
        assert "marking SOP-01 is for soporte cases" in err
        _, err = cli("case", "typify", "CRM-260003", "PQR-FACT", "--cun", "CUN-X", *agent,
                     code=2)  # fmt: skip
        assert "cun: a CUN is 6 to 30 digits" in err
        _, err = cli("case", "typify", "CRM-260003", "PQR-FACT", "--cun", "4436-26-7",
                     "--filed-at", "2099-01-01", *agent, code=2)  # fmt: skip
        assert "filed_at: a PQR cannot be filed in the future" in err
        assert stub.requests == []  # refused before AC was asked anything
        typified = cli.obj("case", "typify", "CRM-260003", "SAC-CAR-EXPL", *agent)
        assert typified["case"]["marking_code"] == "SAC-CAR-EXPL"
        assert [w["system"] for w in typified["case"]["outside_writes"]] == ["AC", "AC"]
        again = cli.obj("case", "typify", "CRM-260003", "SAC-CAR-EXPL", *agent)
        assert again["events"] == []
        long_note = "El cliente explica en detalle la situación de su cuenta. " * 6
        cli("case", "note", "CRM-260001", long_note, *agent)
    assert [m.code for m in stub.accounts.accounts["3104567890"].markings] == ["SAC-CAR-EXPL"]
    assert len(stub.accounts.ticklers) == 1
    assert [(a, f) for a, _, f in stub.accounts.notes] == [("80123456", NoteFolder.ESTRATEGICOS)]
    shown = cli.obj("case", "show", "CRM-260001")
    assert shown["estrategicos_notes"] == 1


def test_an_agent_opens_a_phone_case_and_a_new_request_from_its_call(cli: Cli) -> None:
    agent = ("--as", "maria.b")
    opened = cli.obj("case", "open", "--account", "80123456", "--line", "hogar", "--customer",
                      "Ana Peña", "--typification", "Facturación", "--request", "Cobro raro",
                      "--received", "2026-12-01 09:00", "--recommended-by", "vp.clientes",
                      *agent)  # fmt: skip
    key = opened["case"]["source"]["key"]
    assert key.startswith("vp.clientes@2026-12-01T14:00:00+0000/")
    assert "80123456" not in key  # the key shows no account number
    same_second = cli.obj("case", "open", "--account", "80123456", "--line", "hogar",
                          "--customer", "Ana Peña", "--typification", "Soporte", "--request",
                          "Sin internet", "--received", "2026-12-01 09:00",
                          "--recommended-by", "vp.clientes", *agent)  # fmt: skip
    assert same_second["case"]["source"]["key"] != key  # another request: another case
    assert len(same_second["events"]) == 1
    _, err = cli("case", "open", "--account", "1", "--line", "hogar", "--customer", "X",
                 "--typification", "T", "--request", "R", "--channel", "crm", *agent,
                 code=2)  # fmt: skip
    assert "channel: crm cases come from their imports" in err
    new = cli.obj("case", "new-request", f"phone:{key}", "--typification", "Ventas",
                   "--request", "Quiere más megas", *agent)  # fmt: skip
    assert new["case"]["linked_to"] == opened["case"]["case_id"]
    shown = cli.obj("case", "show", f"phone:{key}")
    assert shown["new_requests"] == [new["case"]["case_id"]]


def test_csv_exports_neutralise_spreadsheet_formulas(cli: Cli) -> None:
    """Issue: a value such as `=cmd|' /C calc'!A0` went unescaped into `indicators --csv`."""
    import csv as csv_module
    import io

    cli("ingest", str(SAMPLE))
    cli("case", "assign", "CRM-260001", "=cmd|' /C calc'!A0", "--as", "sup.lina")
    out, _ = cli("indicators", "--from", "2026-12-01", "--to", "2026-12-01", "--by", "agent",
                 "--csv")  # fmt: skip
    groups = [row["group"] for row in csv_module.DictReader(io.StringIO(out))]
    assert "'=cmd|' /C calc'!A0" in groups
    assert not any(g.startswith(("=", "+", "-", "@")) for g in groups)
    # A period without data keeps the columns (it printed only `group`).
    empty, _ = cli("indicators", "--from", "2001-01-01", "--to", "2001-01-01", "--csv")
    assert empty.splitlines()[0] == out.splitlines()[0]
    for practices in ([], ["--practices"]):
        header, _ = cli("indicators", "--from", "2001-01-01", "--to", "2001-01-01", "--csv",
                        *practices)  # fmt: skip
        assert len(header.splitlines()[0].split(",")) > 3


def test_an_unreachable_postgresql_is_one_line_and_exit_5(cli: Cli) -> None:
    """Issue: an unreachable or misnamed PostgreSQL ended in the driver's traceback."""
    port = free_port()  # nobody listens there once closed
    _, err = cli("--database-url", f"postgresql://app:s3cr3t@127.0.0.1:{port}/bo", "cases",
                 code=5)  # fmt: skip
    assert err.startswith("error: storage unavailable:")
    assert len(err.strip().splitlines()) == 1
    assert "s3cr3t" not in err


def test_bad_files_and_values_are_one_line_each_with_the_documented_exit_code(
    cli: Cli, tmp_path: Path
) -> None:
    """Issue: tracebacks or wrong exit codes on a non-gzip or cut-short `.gz`, years 1 and
    9999, superscript digits, a NUL in a repeat contact's key, a huge --window-days."""
    import gzip

    (tmp_path / "bad.csv.gz").write_bytes(b"not gzip at all")
    _, err = cli("ingest", str(tmp_path / "bad.csv.gz"), code=2)  # nothing readable: bad input
    assert "storage unavailable" not in err
    assert "nothing could be read from the input" in err
    out, _ = cli("ingest", str(tmp_path / "bad.csv.gz"), "--json", code=2)
    assert json.loads(out)["rejected"][0]["reason"] == "unreadable: not a gzip file"
    whole = gzip.compress(SAMPLE.read_bytes())
    (tmp_path / "cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    out, _ = cli("ingest", str(tmp_path / "cut.csv.gz"), "--json", code=2)
    report = json.loads(out)
    assert report["rejected"][-1]["reason"] == "unreadable: cut short"
    header = "caso;fecha_ingreso;cuenta;linea;cliente;tipificacion"
    (tmp_path / "odd.csv").write_text(
        f"{header}\n"
        "K1;01/12/0001 08:00;1;hogar;A;T\n"
        "K2;31/12/9999 23:59;1;hogar;A;T\n"
        "K3;01/12/2026 ²3:00;1;hogar;A;T\n"
        "K4;01/12/2026 08:00;1;hogar;A;T\n"
        "K5\x00;01/12/2026 09:00;1;hogar;A;T\n",
        encoding="utf-8",
    )
    out, _ = cli("ingest", str(tmp_path / "odd.csv"), "--json", code=4)
    report = json.loads(out)
    assert (report["created"], report["repeat_contacts"]) == (1, 0)
    assert [(r["location"], r["field"]) for r in report["rejected"]] == [
        ("odd.csv:2", "received_at"), ("odd.csv:3", "received_at"),
        ("odd.csv:4", "received_at"), ("odd.csv:6", "source key"),
    ]  # fmt: skip
    _, err = cli("indicators", "--window-days", "99999999999", code=2)
    assert "Traceback" not in err


def test_a_second_shift_row_for_an_agent_and_day_is_rejected_and_a_rerun_records_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    """Issue: two rows for one agent and day added events on every re-run (each overrode
    the other)."""
    roster = tmp_path / "roster.csv"
    roster.write_text("asesor;equipo;rol;desde\nana.p;Hogar 1;agent;01/01/2026\n", "utf-8")
    shifts = tmp_path / "shifts.csv"
    shifts.write_text("asesor;fecha;hora_inicio;hora_fin;novedad\n"
                      "ana.p;03/11/2026;07:00;16:00;\nana.p;03/11/2026;08:00;17:00;\n",
                      "utf-8")  # fmt: skip
    cli("import-roster", str(roster))
    first = json.loads(cli("import-shifts", str(shifts), "--json", code=4)[0])
    again = json.loads(cli("import-shifts", str(shifts), "--json", code=4)[0])
    assert first["created"] == 1
    assert (again["created"], again["already_known"]) == (0, 1)
    assert [r["location"] for r in again["rejected"]] == ["shifts.csv:3"]


def test_a_long_history_is_written_straight_out_as_json_and_as_lines(cli: Cli) -> None:
    """Issue: `case history` of a long case took seconds and hundreds of MB in rich's JSON
    highlighting and table layout (measured on 10,000 events: 5.2 s / 402 MB for --json,
    now 0.9 s / 81 MB; the table 5.3 s, now lines in 1.1 s)."""
    from datetime import timedelta

    from domain.case import decisions
    from domain.case.state import fold
    from domain.values import Actor
    from entrypoints.bootstrap import bootstrap
    from entrypoints.settings import load_settings
    from tests.conftest import T0, record

    with bootstrap(load_settings(environ={}, data_dir=str(cli.data_dir))) as office:
        office.ingest([record("LONG", account="ACC-LONG-1")])
        state = office.case("LONG")
        events = []
        for n in range(400):
            new = decisions.add_note(state, text=f"Nota {n}", actor=Actor.agent("ana.p"),
                                     at=T0 + timedelta(minutes=n))  # fmt: skip
            folded = fold(state, new)
            assert folded is not None
            state = folded
            events.extend(new)
        office.store.append(events)
    history = cli.json("case", "history", "LONG")
    assert isinstance(history, list)
    assert [e["version"] for e in history] == list(range(1, 402))
    out, _ = cli("case", "history", "LONG")
    lines = out.splitlines()
    assert "(401 events;" in lines[0]
    assert lines[-1].startswith("401  ")


def test_help_and_a_command_on_sqlite_import_neither_the_driver_nor_the_heavy_adapters(
    tmp_path: Path,
) -> None:
    """Start-up (issue 12): `--help` imports no store and no bootstrap; a command on SQLite
    never loads psycopg, eventsourcing's PostgreSQL module, the SMTP client or the gateways."""
    probe = (
        "import sys\n"
        "from entrypoints.cli import main\n"
        "main(sys.argv[1:])\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'psycopg', 'aiosmtplib', 'eventsourcing', 'entrypoints', 'adapters'})))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}

    def loaded(*args: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env,
            check=True,
        )  # fmt: skip
        return done.stdout.splitlines()[-1].split()

    on_help = loaded("--help")
    assert "entrypoints.cli" in on_help  # the probe sees what was loaded
    assert [m for m in on_help if m.startswith(("eventsourcing", "entrypoints.bootstrap"))] == []
    on_command = loaded("--data-dir", str(tmp_path / "d"), "cases")
    assert "entrypoints.bootstrap" in on_command
    heavy = ("psycopg", "eventsourcing.postgres", "aiosmtplib", "adapters.systems.http",
             "adapters.postgres_views", "adapters.mail.smtp")  # fmt: skip
    assert [m for m in on_command if m.startswith(heavy)] == []


def test_customer_text_with_brackets_is_printed_as_text_never_as_markup(
    cli: Cli, tmp_path: Path
) -> None:
    """Issue 12: `Cobro [/] raro` crashed `cases`, `case show` and `case history` (rich read
    it as markup), and `[ppv]` vanished."""
    export = tmp_path / "brackets.csv"
    export.write_text(
        "caso;fecha_ingreso;cuenta;linea;cliente;tipificacion;solicitud\n"
        "CRM-B1;01/12/2026 08:00;80012345;hogar;Ana [bold]Pérez;Cobro [/] raro;"
        "Cobro de [ppv] que no reconoce [red]\n",
        encoding="utf-8",
    )
    cli("ingest", str(export))
    out, _ = cli("cases")
    assert "Cobro [/] raro" in out
    out, _ = cli("case", "show", "CRM-B1")
    assert "[ppv]" in out
    assert "Ana [bold]Pérez" in out
    out, _ = cli("case", "history", "CRM-B1")
    assert "[ppv]" in out


def test_a_data_folder_that_does_not_exist_is_an_error_except_for_what_creates_data(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12: a mistyped --data-dir showed an empty office. Reading commands now say there
    is no such folder (exit 5) and create nothing; intake creates it."""
    for args in (["cases"], ["case", "show", "CRM-260001"], ["projections", "status"],
                 ["sweep"], ["outbox"]):  # fmt: skip
        _, err = cli(*args, code=5)
        assert err.startswith("error: no data folder ")
        assert "`backoffice ingest FILE`" in err
        assert len(err.strip().splitlines()) == 1
        assert not cli.data_dir.exists()
    cli("ingest", str(SAMPLE))
    assert cli.data_dir.is_dir()
    out, _ = cli("cases")
    assert "CRM-260001" in out


def test_version_and_short_help(cli: Cli) -> None:
    out, _ = cli("--version")
    assert out.startswith("backoffice 0.1")
    out, _ = cli("case", "show", "-h")
    assert "--as-of" in out


def test_a_bad_time_is_refused_naming_its_option(cli: Cli) -> None:
    cli("ingest", str(SAMPLE))
    for args, option in (
        (("case", "show", "CRM-260001", "--as-of", "31/02/2026 10:00"), "--as-of"),
        (("due", "--until", "32/12/2026 18:00"), "--until"),
        (("cases", "--due-before", "mañana"), "--due-before"),
        (("case", "follow-up", "schedule", "CRM-260001", "ayer", "--as", "agente.1"), "WHEN"),
    ):
        _, err = cli(*args, code=2)
        assert err.startswith(f"error: {option}: "), err
        assert err.count("\n") == 1
