"""The CLI fed arguments nobody meant (issue: 18 of 2,000 fuzzed calls ended in a traceback).

Hypothesis picks a command and gives it arbitrary values where people type: case keys, dates,
numbers, logins, free text. Every call must end in one of the documented exit codes (0 done,
1 refused, 2 bad input, 3 not found, 4 partial ingest, 5 unavailable), never in a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrypoints.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "crm_export_sample.csv"

odd = st.one_of(
    st.text(max_size=20).filter(lambda s: not s.startswith("-")),
    st.sampled_from(["CRM-260001", "CRM-260003", "0", "-1", "99999999999999999999", "²",
                     "2026-02-30", "0001-01-01", "9999-12-31 23:59", "31/12/9999", "2026-W99",
                     "2026-13", "sac", "soporte", "falla_puntual", "lls", "email:x", "\x00",
                     "a\nb", "=1+1"]),
)  # fmt: skip

COMMANDS = [
    lambda a, b, c: ["case", "show", a],
    lambda a, b, c: ["case", "show", "CRM-260001", "--as-of", b],
    lambda a, b, c: ["case", "show", "CRM-260001", "--version", b],
    lambda a, b, c: ["case", "history", a],
    lambda a, b, c: ["case", "assign", a, b, "--as", "sup.lina"],
    lambda a, b, c: ["case", "interpret", a, b, c, "--as", "ana.p"],
    lambda a, b, c: ["case", "note", a, b, "--as", c or "ana.p"],
    lambda a, b, c: ["case", "follow-up", "schedule", a, b, "--as", "ana.p"],
    lambda a, b, c: ["case", "typify", "CRM-260001", a, "--cun", b, "--filed-at", c, "--as", "x"],
    lambda a, b, c: ["case", "open", "--account", a, "--line", "hogar", "--customer", b,
                     "--typification", c, "--request", "r", "--received", b, "--as", "ana.p"],
    lambda a, b, c: ["case", "new-request", "CRM-260001", "--typification", a, "--request", b,
                     "--follow-up", c, "--as", "ana.p"],
    lambda a, b, c: ["cases", "--agent", a, "--due-before", b],
    lambda a, b, c: ["due", "--until", a],
    lambda a, b, c: ["indicators", "--from", a, "--to", b],
    lambda a, b, c: ["indicators", "--month", a],
    lambda a, b, c: ["indicators", "--week", a, "--window-days", b],
    lambda a, b, c: ["sweep", "--worker", a],
    lambda a, b, c: ["case", "write-settled", "CRM-260001", a, "--answer", b, "--as", "s"],
    lambda a, b, c: ["projections", "rebuild", a],
]  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "data"
    assert main(["--data-dir", str(folder), "ingest", str(SAMPLE)]) == 0
    return folder


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(command=st.sampled_from(range(len(COMMANDS))), a=odd, b=odd, c=odd)
def test_no_argument_ends_in_a_traceback(
    data_dir: Path, capsys: pytest.CaptureFixture[str], command: int, a: str, b: str, c: str
) -> None:
    code = main(["--data-dir", str(data_dir), *COMMANDS[command](a, b, c)])
    assert code in (0, 1, 2, 3, 4, 5)
    _, err = capsys.readouterr()
    assert "Traceback" not in err
