"""`backoffice users reset` and `users disable` end the account's sessions (those the HTTP
API and the console issued, checked by epoch), and `users list` shows a lock-out as it is:
its attempts while locked, none once it has ended."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from application.access.accounts import SESSION_ENDED, SignInRefused
from tests.e2e.test_cli_access import NEW_PASSWORD, PASSWORD, Cli


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path / "data", capsys, monkeypatch)


def session(cli: Cli, login: str = "maria.b", password: str = PASSWORD) -> int:
    """A sign-in as the HTTP API makes it: the epoch its session carries."""
    with cli.accounts() as door:
        epoch = door.sign_in(login, password).epoch
    assert epoch is not None
    return epoch


def still(cli: Cli, epoch: int, login: str = "maria.b") -> bool:
    """Whether a session of `epoch` is still valid, as the next request checks it."""
    refusal = None
    with cli.accounts() as door:
        try:
            door.principal(login, epoch)
        except SignInRefused as refused:
            refusal = str(refused)
    assert refusal in (None, SESSION_ENDED, "the account is disabled")
    return refusal is None


def add(cli: Cli) -> None:
    cli("users", "add", "maria.b", "--role", "agent", "--name", "María",
        "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip


def test_a_reset_or_a_disable_from_the_cli_ends_the_accounts_sessions(cli: Cli) -> None:
    add(cli)
    before = session(cli)
    assert still(cli, before)
    cli("users", "reset", "maria.b", "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert not still(cli, before)
    after = session(cli, password=NEW_PASSWORD)
    assert after == before + 1
    cli("users", "disable", "maria.b")
    cli("users", "enable", "maria.b")
    assert not still(cli, after)  # enabling brings no session back
    assert still(cli, session(cli, password=NEW_PASSWORD))


def test_users_list_shows_the_attempts_that_locked_an_account(cli: Cli) -> None:
    add(cli)
    with cli.accounts() as door:
        for _ in range(5):
            with pytest.raises(SignInRefused):
                door.sign_in("maria.b", "not the password at all")
    [row] = cli.json("users", "list")
    assert row["failed_attempts"] == 5
    assert row["locked_until"] is not None
    table, _ = cli("users", "list")
    assert re.search(r"locked\s+until", table)
