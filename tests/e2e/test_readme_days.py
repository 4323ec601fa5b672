"""The README's agent's day and supervisor's day run as written.

Each command of the two blocks is run through the CLI, in order, on a data folder holding the
sample CRM export and the recommended e-mails (the README's first paragraph), with RR and AC
served by the HTTP stub of the systems' contract; the roster and shifts files are the
examples'. Every command must end with exit 0.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from entrypoints.cli import main
from tests.integration.test_system_contracts import fresh_record
from tests.stub_systems import Stub, serve

ROOT = Path(__file__).resolve().parents[2]


def _block(readme: str, heading: str) -> list[str]:
    section = readme.split(f"## {heading}\n", 1)[1]
    [code] = re.findall(r"```bash\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    return [line.split("  #")[0].strip() for line in code.splitlines() if line.strip()]


@pytest.mark.parametrize("heading", ["An agent's day", "A supervisor's day"])
def test_a_day_of_the_readme_runs_as_written(
    heading: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("roster.csv", "shifts.csv"):
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    for variable in ("BACKOFFICE_DATA_DIR", "BACKOFFICE_DATABASE_URL", "BACKOFFICE_AGENT"):
        monkeypatch.delenv(variable, raising=False)
    stub = Stub()
    for account in ("80123456", "80987654", "3001234567", "80555111", "3107654321"):
        stub.accounts.accounts[account] = fresh_record()
    with serve(stub) as url:
        monkeypatch.setenv("BACKOFFICE_RR_URL", url)
        monkeypatch.setenv("BACKOFFICE_AC_URL", url)
        assert main(["ingest", str(ROOT / "examples" / "crm_export_sample.csv")]) == 0
        assert main(["ingest-mail", str(ROOT / "examples" / "mail")]) == 0
        for line in _block(readme, heading):
            for command in line.split(" && "):
                if command.startswith("export "):
                    name, _, value = command.removeprefix("export ").partition("=")
                    monkeypatch.setenv(name, value)
                    continue
                words = shlex.split(command)
                out_file = None
                if ">" in words:
                    out_file = tmp_path / words[words.index(">") + 1]
                    words = words[: words.index(">")]
                assert words[0] == "backoffice"
                capsys.readouterr()
                code = main(words[1:])
                out, err = capsys.readouterr()
                assert code == 0, f"{command}: exit {code}\n{err}"
                if out_file is not None:
                    out_file.write_text(out, encoding="utf-8")
                    assert out_file.stat().st_size > 0
