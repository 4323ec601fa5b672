"""The accounts of the people and systems that use the back office, as a port.

An account is a person of the roster (agent, supervisor, coordinator, manager) or an auditor,
an integration or an administrator. A person signs in with a password (stored as an Argon2
hash, never in clear); an integration presents a bearer token (stored as a SHA-256 digest of
its secret: the secret itself is shown once, when issued). `application.access.accounts` holds
the rules (lock-out, the roster, scopes); an adapter keeps the records.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from application.ports.cases import AnyEvent


class AccessRole(enum.StrEnum):
    """What an account is: the roster's roles, plus those who are not on it."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    COORDINATOR = "coordinator"
    MANAGER = "manager"
    AUDITOR = "auditor"
    INTEGRATION = "integration"
    ADMIN = "admin"


ROSTER_ROLES = frozenset(
    {AccessRole.AGENT, AccessRole.SUPERVISOR, AccessRole.COORDINATOR, AccessRole.MANAGER}
)
"""Roles the roster gives: such an account is a person of the team, checked against it."""

TOKEN_SCOPES: dict[str, str] = {
    "intake": "hands cases over only",
    "read": "reads what the account's role may read, and writes nothing",
    "all": "does what the account's role may do",
}
"""A bearer token's scopes: each narrows what its account's role allows."""


@attrs.frozen(kw_only=True)
class Account:
    """One account as the store keeps it (the password only as its hash)."""

    login: str
    role: AccessRole
    name: str
    password_hash: str | None
    """None for an account that cannot sign in with a password (an integration)."""
    disabled: bool = False
    failed_attempts: int = 0
    """Sign-in attempts in a row without a success, the one being checked included
    (`AccountStore.count_attempt`): those that locked the account and those made while it
    is locked; back to 0 with a success or a reset, and counted from 1 again once a lock-out
    has ended."""
    locked_until: datetime | None = None
    """Until when wrong passwords locked the account (None: never, or since a success or a
    reset; a time past: the lock-out has ended, and the next attempt counts from 1)."""
    session_epoch: int = 0
    """The account's sessions' generation: a password's session carries the one it was
    issued in, and is valid while the account still has it. Signing out, a new password
    or disabling the account raises it (`AccountStore.end_sessions`, or `put` with the
    change that ends them): every session issued before ends. Read with the account on
    every request (no read of its own)."""
    created_at: datetime
    updated_at: datetime
    """When the account was last changed by an administrator (added, disabled, reset …)."""


@attrs.frozen(kw_only=True)
class TokenRecord:
    """A bearer token: its id (public, to list and revoke it), the digest of its secret, the
    account it acts as, and its scope."""

    token_id: str
    digest: str
    login: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None = None


class AccountStore(Protocol):
    """Where accounts and tokens are kept (SQLite, PostgreSQL, or memory for tests)."""

    def get(self, login: str) -> Account | None: ...

    def put(self, account: Account, *, end_sessions: bool = False) -> Account:
        """Insert or replace the account of `account.login`, all but the `session_epoch` of
        an account kept already (a put made from an older read never brings ended sessions
        back). `end_sessions`: that epoch raised by one in the same atomic step, for a change
        that ends the account's sessions (disabling it, a new password): the change is never
        kept without its sessions ended. Returns the account as kept."""
        ...

    def all(self) -> list[Account]:
        """Every account, by login."""
        ...

    def count_attempt(self, login: str, at: datetime) -> Account | None:
        """Count a sign-in attempt before its password is checked, in one atomic step:
        `failed_attempts` goes up by one (to 1 when a lock-out ended by `at`, which is then
        cleared). Returns the account as counted (None: no such account). Counting first
        bounds the guesses of requests made at once, not only of those made in turn."""
        ...

    def clear_attempts(self, login: str) -> None:
        """A success: the attempts back to 0 and the lock-out cleared."""
        ...

    def lock_out(self, login: str, until: datetime) -> None:
        """Lock the account until `until` (the last failure allowed), its attempts counted
        as they are: they are what locked it."""
        ...

    def end_sessions(self, login: str, epoch: int | None = None) -> Account | None:
        """Raise the account's `session_epoch` by one in one atomic step, ending every
        session issued before. With `epoch` (a session signing out), only while the account
        still has that epoch: a session already ended ends no other. Returns the account as
        changed; None when there is no such account, or its epoch was not `epoch`."""
        ...

    def add_token(self, token: TokenRecord) -> None: ...

    def token(self, token_id: str) -> TokenRecord | None: ...

    def tokens(self) -> list[TokenRecord]:
        """Every token, oldest first."""
        ...

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        """Mark the token revoked; False when there is no such token (or it was already)."""
        ...

    def get_with_news(
        self, login: str, news_after: int | None
    ) -> tuple[Account | None, LogNews | None]:
        """`get`, read on every request; a store that shares its database with the log
        (`adapters.accounts.SharedLog`) also reads, in the same statement, the log's news
        of the roster's placements after `news_after` (None: not read, by this store or
        because `news_after` is None)."""
        ...

    def token_with_account(
        self, token_id: str, news_after: int | None
    ) -> tuple[TokenRecord | None, Account | None, LogNews | None]:
        """The token of `token_id` and its account (None, None: no such token), in one read;
        the news as `get_with_news` says."""
        ...

    def close(self) -> None: ...


@attrs.frozen(kw_only=True)
class LogNews:
    """What the log says since position `after`, read in one statement (one snapshot): its
    head, and the position of the first event of the kinds asked about after `after` (None:
    none). What the account check of every request needs of the log."""

    after: int
    head: int
    first: int | None


@runtime_checkable
class LogNewsReader(Protocol):
    """A log that answers `LogNews` in one read (the event store); another is asked its head
    and then its events since (`application.access.accounts.RosterWatch`)."""

    def log_news(self, after: int, kinds: Collection[type[AnyEvent]]) -> LogNews:
        """The head, and the first event of these `kinds` after position `after`."""
        ...


@attrs.frozen(kw_only=True)
class StoredAnswer:
    """The answer kept for an `Idempotency-Key`: given again, as it was, to a retry."""

    status: int
    body: str
    """What the entrypoint keeps to give the answer again (the HTTP API: a receipt naming
    the case, its version and its events, from which the body is rebuilt; no personal
    data)."""
    headers: dict[str, str] = attrs.field(factory=dict)
    """The headers a retry gets again (the content type, the `ETag`)."""


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    """A request made with an `Idempotency-Key`: who made it, a digest of what it asked, when,
    and its answer (None while it is being handled)."""

    login: str
    key: str
    digest: str
    created_at: datetime
    answer: StoredAnswer | None = None


class IdempotencyStore(Protocol):
    """Where the requests made with an `Idempotency-Key` are kept, by login and key (beside
    the accounts: SQLite, PostgreSQL or memory)."""

    def claim_key(
        self, record: IdempotencyRecord, *, expired_before: datetime, abandoned_before: datetime
    ) -> IdempotencyRecord | None:
        """In one atomic step: forget the record of `record.login` and `record.key` if it was
        made before `expired_before`, or is still unanswered and was made before
        `abandoned_before`; then keep `record` (unanswered: in progress) unless one is kept
        already. Returns None when `record` was kept, else the record kept before (of a
        request made at once or earlier, answered or not)."""
        ...

    def answer_key(self, login: str, key: str, answer: StoredAnswer) -> None:
        """Keep the answer of the request in progress under `login` and `key`."""
        ...

    def release_key(self, login: str, key: str) -> None:
        """Forget an unanswered key (its request failed: a retry may run it again)."""
        ...

    def purge_keys(self, before: datetime) -> int:
        """Forget every record made before `before`; returns how many."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool:
        """True when `password` is the one hashed; False otherwise (never raises for a
        wrong password or a malformed hash)."""
        ...
