"""The PostgreSQL URL's options are honoured (issue 12: `sslmode` was ignored), each refusal
one line and exit 5. Run as separate processes: the options reach libpq through the
process's environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = str(Path(sys.executable).parent / "backoffice")


def run(url: str, **ambient: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKOFFICE_", "PG"))}
    env.update(ambient)
    return subprocess.run(
        [SCRIPT, "--database-url", url, "cases"], capture_output=True, text=True, env=env,
        timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.postgres
def test_sslmode_and_other_options_reach_the_connection(postgres_url: str) -> None:
    required = run(f"{postgres_url}?sslmode=require")  # the test server speaks no SSL
    assert required.returncode == 5
    assert required.stderr.startswith("error: storage unavailable: ")
    assert "SSL" in required.stderr
    assert len(required.stderr.strip().splitlines()) == 1
    assert "Traceback" not in required.stderr

    plain = run(f"{postgres_url}?sslmode=disable&application_name=backoffice-prueba")
    # Connected: the (new, empty) database holds no back office yet, and a reading command
    # says so rather than showing an empty office.
    assert plain.returncode == 5
    assert plain.stderr.startswith("error: no back-office data in that PostgreSQL database")

    wrong = run(f"{postgres_url}?sslmode=bogus")
    assert wrong.returncode == 5
    assert 'invalid sslmode value: "bogus"' in wrong.stderr


@pytest.mark.postgres
def test_an_option_in_the_url_beats_the_same_variable_left_in_the_environment(
    postgres_url: str,
) -> None:
    required = run(f"{postgres_url}?sslmode=require", PGSSLMODE="disable")
    assert required.returncode == 5
    assert "SSL" in required.stderr  # the URL's sslmode=require, not the shell's disable


def test_an_option_libpq_does_not_know_is_refused_by_name() -> None:
    done = run("postgresql://app:secreto@db.example:5432/backoffice?sslmod=require")
    assert done.returncode == 5
    assert done.stderr.startswith("error: database_url: unknown option 'sslmod' (known: ")
    assert "secreto" not in done.stderr
