"""`backoffice users …` and `backoffice tokens …`, as an administrator uses them: a real SQLite
data folder, passwords on standard input, secrets printed once."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from application.access.accounts import Accounts, SignInRefused
from application.ports.accounts import AccessRole
from entrypoints.bootstrap import accounts, bootstrap
from entrypoints.cli import main
from entrypoints.settings import load_settings

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a new password, longer"


class Cli:
    def __init__(
        self, data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.data_dir = data_dir
        self.capsys = capsys
        self.monkeypatch = monkeypatch

    def __call__(self, *args: str, stdin: str = "", code: int = 0) -> tuple[str, str]:
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        result = main(["--data-dir", str(self.data_dir), *args])
        out, err = self.capsys.readouterr()
        assert result == code, f"exit {result} (wanted {code})\nstdout:\n{out}\nstderr:\n{err}"
        return out, err

    def json(self, *args: str, stdin: str = "") -> Any:
        out, _ = self(*args, "--json", stdin=stdin)
        return json.loads(out)

    def fails(self, *args: str, code: int, stdin: str = "") -> str:
        """The one line said on stderr by a command that fails with `code`."""
        out, err = self(*args, stdin=stdin, code=code)
        assert out == ""
        assert err.count("\n") == 1, err
        assert err.startswith("error: "), err
        return err.strip()

    @contextmanager
    def accounts(self) -> Iterator[Accounts]:
        """The accounts of the data folder, as the HTTP API opens them."""
        settings = load_settings(environ={}, data_dir=str(self.data_dir), database_url="sqlite")
        with bootstrap(settings, existing=True) as office:
            door = accounts(office, settings)
            try:
                yield door
            finally:
                door.close()


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path / "data", capsys, monkeypatch)


def sign_in(cli: Cli, login: str, password: str) -> AccessRole:
    with cli.accounts() as door:
        return door.sign_in(login, password).role


def test_an_administrator_adds_lists_disables_and_resets_accounts(cli: Cli) -> None:
    out, _ = cli(
        "users", "add", "maria.b", "--role", "agent", "--name", "María Báez", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert out == "account maria.b (agent) added\n"
    added = cli.json(
        "users", "add", "crm", "--role", "integration", "--name", "The CRM", stdin="unread"
    )
    assert (added["login"], added["role"], added["has_password"]) == ("crm", "integration", False)
    assert sign_in(cli, "maria.b", PASSWORD) is AccessRole.AGENT

    rows = cli.json("users", "list")
    assert [(r["login"], r["role"], r["name"], r["disabled"]) for r in rows] == [
        ("crm", "integration", "The CRM", False),
        ("maria.b", "agent", "María Báez", False),
    ]
    assert all("password_hash" not in row for row in rows)
    table, _ = cli("users", "list")
    assert "maria.b" in table
    assert "$argon2" not in table

    assert cli("users", "disable", "maria.b")[0] == "account maria.b (agent) disabled\n"
    with pytest.raises(SignInRefused, match=r"^the account is disabled$"):
        sign_in(cli, "maria.b", PASSWORD)
    assert cli.json("users", "list")[1]["disabled"] is True
    assert cli("users", "enable", "maria.b")[0] == "account maria.b (agent) enabled\n"

    out, _ = cli("users", "reset", "maria.b", "--password-stdin", stdin=NEW_PASSWORD + "\r\n")
    assert out == "account maria.b (agent) has a new password\n"
    assert sign_in(cli, "maria.b", NEW_PASSWORD) is AccessRole.AGENT
    with pytest.raises(SignInRefused, match=r"^login or password is wrong$"):
        sign_in(cli, "maria.b", PASSWORD)


def test_bad_input_is_said_in_one_line_without_the_password(cli: Cli) -> None:
    add = ("users", "add", "--role", "agent", "--name", "María")
    cli("users", *add[1:], "maria.b", "--password-stdin", stdin=PASSWORD)
    said = cli.fails(*add, "Maria B", "--password-stdin", stdin=PASSWORD, code=2)
    assert said.startswith("error: login: 1 to 64 lower-case letters")
    said = cli.fails(*add, "ana.p", "--password-stdin", stdin="too short\n", code=2)
    assert said == "error: password: must be at least 12 characters"
    said = cli.fails(*add, "ana.p", code=2)  # no terminal to ask at, no --password-stdin
    assert said == (
        "error: password: no terminal to ask for it: give it on standard input (--password-stdin)"
    )
    said = cli.fails(
        "users", "add", "ana.p", "--role", "boss", "--name", "Ana", "--password-stdin", code=2
    )
    assert said.startswith("error: role: 'boss' is not one of: agent, supervisor")
    said = cli.fails(*add, "maria.b", "--password-stdin", stdin=PASSWORD, code=1)
    assert said == "error: an account maria.b exists already"
    said = cli.fails(*add, "ana.p", "--password-stdin", "--nope", code=2)
    assert "No such option" in said
    assert cli.fails("users", "disable", "ghost", code=1) == "error: no account ghost"
    said = cli.fails("users", "reset", "ghost", "--password-stdin", stdin=PASSWORD, code=1)
    assert said == "error: no account ghost"
    cli("users", "add", "crm", "--role", "integration", "--name", "The CRM")
    said = cli.fails("users", "reset", "crm", "--password-stdin", stdin=PASSWORD, code=2)
    assert said == "error: password: an integration has none: it uses tokens"


def test_tokens_are_shown_once_listed_without_secrets_and_revoked(cli: Cli) -> None:
    cli("users", "add", "crm", "--role", "integration", "--name", "The CRM")
    out, err = cli("tokens", "add", "crm", "--scope", "intake")
    secret = out.strip()
    assert re.fullmatch(r"bo_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", secret)
    token_id = secret.split("_")[1]
    assert err == (
        f"token {token_id} for crm (scope intake): copy the secret now, it is shown only this "
        "once (only its digest is kept)\n"
    )
    issued = cli.json("tokens", "add", "crm", "--scope", "read")
    assert issued["secret"].startswith(f"bo_{issued['token_id']}_")

    rows = cli.json("tokens", "list")
    assert [(r["token_id"], r["login"], r["scope"], r["revoked_at"]) for r in rows] == [
        (token_id, "crm", "intake", None),
        (issued["token_id"], "crm", "read", None),
    ]
    listed = json.dumps(rows) + cli("tokens", "list")[0]
    assert secret not in listed
    assert secret.split("_", 2)[2] not in listed
    assert "digest" not in listed

    with cli.accounts() as door:
        assert door.authenticate_token(secret).scope == "intake"
    assert cli("tokens", "revoke", token_id)[0] == f"token {token_id} revoked\n"
    assert cli.json("tokens", "list")[0]["revoked_at"] is not None
    with cli.accounts() as door, pytest.raises(SignInRefused, match=r"^the token was revoked$"):
        door.authenticate_token(secret)

    assert cli.fails("tokens", "revoke", "nope", code=1) == "error: no token 'nope'"
    said = cli.fails("tokens", "add", "crm", "--scope", "admin", code=2)
    assert said == "error: scope: 'admin' is not one of: intake, read, all"
    assert cli.fails("tokens", "add", "ghost", "--scope", "read", code=1) == (
        "error: no account ghost"
    )


def test_reading_commands_need_an_existing_data_folder(cli: Cli) -> None:
    said = cli.fails("users", "list", code=5)
    assert said.startswith("error: no data folder")
    assert not cli.data_dir.exists()


def test_the_installed_command_reads_the_password_piped_in(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "backoffice"
    data = tmp_path / "data"
    run = subprocess.run(
        [str(script), "--data-dir", str(data), "users", "add", "laura.s", "--role", "supervisor",
         "--name", "Laura Suárez", "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout == "account laura.s (supervisor) added\n"
    assert PASSWORD not in run.stdout + run.stderr
    settings = load_settings(environ={}, data_dir=str(data), database_url="sqlite")
    with bootstrap(settings, existing=True) as office:
        door = accounts(office, settings)
        try:
            assert door.sign_in("laura.s", PASSWORD).name == "Laura Suárez"
        finally:
            door.close()


def test_privacy_commands_are_run_by_a_real_supervisor_once_there_are_accounts(cli: Cli) -> None:
    sample = Path(__file__).parents[2] / "src/entrypoints/demo_data/crm_export_sample.csv"
    cli("ingest", str(sample))
    account = "3209876543"
    # Without any account (the command line alone) the login is taken as given.
    out, _ = cli("privacy", "correct", account, "--name", "Ana M", "--as", "dpo")
    assert "correction recorded" in out
    cli("users", "add", "laura.s", "--role", "supervisor", "--name", "Laura", "--password-stdin",
        stdin=PASSWORD)  # fmt: skip
    cli("users", "add", "maria.b", "--role", "agent", "--name", "María", "--password-stdin",
        stdin=PASSWORD)  # fmt: skip
    forget = ("privacy", "forget", account, "--requested-by", "SOL-1", "--reason", "Ley 1581")
    for login, why in (
        ("nadie.existe", "--as nadie.existe: no account 'nadie.existe'"),
        ("maria.b", "--as maria.b: the agent role may not erase or correct"),
    ):
        line = cli.fails(*forget, "--as", login, code=1)
        assert why in line
        assert account not in line
    cli("users", "disable", "laura.s")
    assert "account is disabled" in cli.fails(*forget, "--as", "laura.s", code=1)
    cli("users", "enable", "laura.s")
    out, _ = cli(*forget, "--as", "laura.s")
    assert out.startswith("personal data erased: recorded on 1 case(s)")
    assert "may still show it for up to 30 s" in out
