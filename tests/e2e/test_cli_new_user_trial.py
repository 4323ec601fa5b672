"""What a new user trying the CLI found: each checked through `backoffice` on a real SQLite
data folder (the CUN search is in `tests/integration/test_cun_search.py`)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.case.events import EVENT_TYPES
from entrypoints.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "crm_export_sample.csv"
EXAMPLES = ROOT / "examples"
AGENT = ("--as", "maria.b")
EVENT_NAMES = re.compile("|".join(rf"\b{t.__name__}\b" for t in EVENT_TYPES))


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


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    cli = Cli(tmp_path / "data", capsys)
    cli("ingest", str(SAMPLE))
    return cli


def _future(days: int) -> datetime:
    """A whole hour some days ahead of the real clock (the CLI's), in Bogotá's offset."""
    soon = datetime.now(UTC) + timedelta(days=days)
    return soon.replace(minute=0, second=0, microsecond=0).astimezone(
        datetime.fromisoformat("2026-01-01T00:00-05:00").tzinfo
    )


def test_the_same_follow_up_time_is_not_scheduled_twice(cli: Cli) -> None:
    due = _future(30)
    when = due.strftime("%Y-%m-%d %H:%M")  # Bogotá time, as an agent types it
    out, _ = cli("case", "follow-up", "schedule", "CRM-260001", when, *AGENT)
    assert out.startswith("Follow-up #2 scheduled for")
    # Sent again (a double Enter), or written another way (in UTC): refused, nothing recorded.
    for again in (when, due.astimezone(UTC).isoformat()):
        out, err = cli("case", "follow-up", "schedule", "CRM-260001", again, *AGENT, code=1)
        assert out == ""
        assert err == f"error: follow-up #2 is already pending at {when} Bogotá\n"
    shown = json.loads(cli("case", "show", "CRM-260001", "--json")[0])
    pending = [f for f in shown["follow_ups"] if f["status"] == "pending"]
    assert [f["follow_up_id"] for f in pending] == [1, 2]
    # Another time is a follow-up of its own.
    later = (due + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M")
    out, _ = cli("case", "follow-up", "schedule", "CRM-260001", later, *AGENT)
    assert out.startswith("Follow-up #3 scheduled for")


def test_success_lines_say_what_was_done_in_words_not_event_names(cli: Cli) -> None:
    when = _future(10).strftime("%Y-%m-%d %H:%M")
    said = {
        "assign": cli("case", "assign", "CRM-260001", "maria.b", *AGENT)[0],
        "interpret": cli("case", "interpret", "CRM-260001", "sac", "facturacion", *AGENT)[0],
        "schedule": cli("case", "follow-up", "schedule", "CRM-260001", when, *AGENT)[0],
        "complete": cli(
            "case", "follow-up", "complete", "CRM-260001", "--outcome", "Llamó", *AGENT
        )[0],
        "note": cli("case", "note", "CRM-260001", "Cliente confirma", *AGENT)[0],
    }
    for command, out in said.items():
        assert not EVENT_NAMES.search(out), f"{command} printed an event's name: {out}"
    version = r" \(case crm:CRM-260001, version \d+\)\n"
    assert re.fullmatch("Case assigned to maria.b" + version, said["assign"])
    assert re.fullmatch("Case interpreted as sac/facturacion" + version, said["interpret"])
    assert re.fullmatch(f"Follow-up #2 scheduled for {when} Bogotá" + version, said["schedule"])
    assert re.fullmatch("Follow-up #1 done (on time|late)" + version, said["complete"])
    assert re.fullmatch("Note added to the notes folder" + version, said["note"])
    # Machines still get the events by their stored names.
    out, _ = cli("case", "assign", "CRM-260001", "ana.p", *AGENT, "--json")
    assert [e["event"] for e in json.loads(out)["events"]] == ["case.assigned"]


def test_show_refuses_a_moment_and_a_version_together(cli: Cli) -> None:
    out, err = cli(
        "case", "show", "CRM-260001", "--as-of", "2026-11-27 09:00", "--version", "1", code=2
    )
    assert out == ""
    assert err == "error: case show: give --as-of or --version, not both\n"
    # Each alone still works.
    assert '"version": 1' in cli("case", "show", "CRM-260001", "--version", "1", "--json")[0]
    moment = _future(1).strftime("%Y-%m-%d %H:%M")
    shown = cli("case", "show", "CRM-260001", "--as-of", moment)[0]
    assert "as of" in shown
    assert f"{moment} Bogotá" in shown


def test_every_import_reports_the_same_keys_in_json(cli: Cli) -> None:
    """Guard: the roster's report has the keys of every other import's (and of `ingest`)."""
    keys = {}
    for command, path in (
        ("ingest", SAMPLE),
        ("import-roster", EXAMPLES / "roster.csv"),
        ("import-shifts", EXAMPLES / "shifts.csv"),
        ("import-practices", EXAMPLES / "practices.csv"),
    ):
        out, _ = cli(command, str(path), "--json")
        keys[command] = list(json.loads(out))
    assert keys["import-roster"] == keys["import-shifts"] == keys["import-practices"]
    assert keys["import-roster"] == keys["ingest"]
