"""Accounts and tokens kept in SQL (`application.ports.accounts.AccountStore`), in memory for
tests, and passwords hashed with Argon2.

`SqlAccountStore` keeps three tables, `accounts`, `access_tokens` and `idempotency_keys` (the
requests made with an `Idempotency-Key`, with their answers, for a day): on SQLite in a file of
their own (`accounts.sqlite` in the data folder, created for its owner only: it holds the
password hashes), on PostgreSQL in the store's database. Connections come from eventsourcing's
datastore for the environment (`Settings.view_env`), pooled and shared between threads, as
the views' do; the tables are created when the store opens (under the schema lock, by
`entrypoints.bootstrap.accounts`) unless the environment says `CREATE_TABLE=n`. Times are
fixed-width UTC text, as in the views, so text order is time order on both backends.

The reads made on every request are one statement each, without a transaction around it: the
account (`get_with_news`), or a token with its account (`token_with_account`, a join). On
PostgreSQL the log's table is in the same database (`SharedLog`, wired by
`entrypoints.bootstrap.accounts`) and that statement also reads the log's news of the roster
(its head, and the first placement after a position), so that a request checks its user in one
round trip; on SQLite the log is in another file, and the news is the event store's own read.

An answer kept for an `Idempotency-Key` is whatever the caller gives as `StoredAnswer`: its
status, its `body` column and its headers, kept as they are. The HTTP API gives a receipt as
the body (JSON with the case's id and version and its events' versions): the customer's data
stays in the log, and a retry's answer is rebuilt from it. A row answered before receipts
holds a whole body; it is still given to a retry, and goes like any row a day after its
request. The columns did not change, so the table needs no migration.

An account's `session_epoch` (its sessions' generation, `Account.session_epoch`) is a column
added after the first release: a store opened on an older `accounts` table adds it in place
(`ALTER TABLE … ADD COLUMN`, 0 for every account) whether or not it creates tables (under
the schema lock `entrypoints.bootstrap.accounts` holds). A process of an older release keeps
working beside it: it names its columns, and leaves this one as it is.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import argon2
import attrs
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from eventsourcing.persistence import InfrastructureFactory, OperationalError, PersistenceError
from eventsourcing.utils import Environment, strtobool

from adapters.sql_view import dt_required, ts
from application.ports.accounts import (
    AccessRole,
    Account,
    IdempotencyRecord,
    LogNews,
    StoredAnswer,
    TokenRecord,
)

ACCOUNT_TABLES = ("accounts", "access_tokens", "idempotency_keys")
"""The tables on PostgreSQL (`schema_lock.without_ddl_when_ready` checks for them)."""

_CREATE = (
    "CREATE TABLE IF NOT EXISTS accounts ("
    " login TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT NOT NULL, password_hash TEXT,"
    " disabled INTEGER NOT NULL, failed_attempts INTEGER NOT NULL, locked_until TEXT,"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
    " session_epoch INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS access_tokens ("
    " token_id TEXT PRIMARY KEY, digest TEXT NOT NULL,"
    " login TEXT NOT NULL REFERENCES accounts (login), scope TEXT NOT NULL,"
    " created_at TEXT NOT NULL, revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    " login TEXT NOT NULL, idem_key TEXT NOT NULL, digest TEXT NOT NULL,"
    " created_at TEXT NOT NULL, status INTEGER, body TEXT, headers TEXT,"
    " PRIMARY KEY (login, idem_key))",
    "CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at)",
)
_ACCOUNT_COLUMNS = (
    "login, role, name, password_hash, disabled, failed_attempts, locked_until, created_at,"
    " updated_at, session_epoch"
)
_TOKEN_COLUMNS = "token_id, digest, login, scope, created_at, revoked_at"


def _put(set_epoch: str) -> str:
    return (
        f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (login) DO UPDATE SET role = excluded.role, name = excluded.name,"
        " password_hash = excluded.password_hash, disabled = excluded.disabled,"
        " failed_attempts = excluded.failed_attempts, locked_until = excluded.locked_until,"
        f" created_at = excluded.created_at, updated_at = excluded.updated_at{set_epoch}"
        f" RETURNING {_ACCOUNT_COLUMNS}"
    )


_PUT = _put("")
"""Insert or replace an account, but an existing account's `session_epoch`: a put made from
an older read never brings ended sessions back."""
_PUT_ENDING_SESSIONS = _put(", session_epoch = accounts.session_epoch + 1")
"""`_PUT` raising an existing account's `session_epoch` in the same statement: a change that
ends the account's sessions (disabled, a new password) is kept with them ended, or not at
all."""
_COUNT_ATTEMPT = (
    "UPDATE accounts SET"
    " failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?"
    " THEN 1 ELSE failed_attempts + 1 END,"
    " locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?"
    " THEN NULL ELSE locked_until END"
    f" WHERE login = ? RETURNING {_ACCOUNT_COLUMNS}"
)
_END_SESSIONS = (
    "UPDATE accounts SET session_epoch = session_epoch + 1"
    f" WHERE login = ? RETURNING {_ACCOUNT_COLUMNS}"
)
_END_SESSIONS_OF_EPOCH = (
    "UPDATE accounts SET session_epoch = session_epoch + 1"
    f" WHERE login = ? AND session_epoch = ? RETURNING {_ACCOUNT_COLUMNS}"
)
_ADD_SESSION_EPOCH = (
    "ALTER TABLE accounts ADD COLUMN {if_not_exists}session_epoch INTEGER NOT NULL DEFAULT 0"
)
_HAS_SESSION_EPOCH = {
    "?": "SELECT count(*) AS n FROM pragma_table_info('accounts') WHERE name = 'session_epoch'",
    "%s": "SELECT count(*) AS n FROM pg_attribute WHERE attrelid = to_regclass('accounts')"
    " AND attname = 'session_epoch' AND NOT attisdropped",
}
"""Whether the `accounts` table has its `session_epoch` column, by placeholder (SQLite,
PostgreSQL: the table the unqualified name finds, as every statement here does)."""


_KEY_COLUMNS = "login, idem_key, digest, created_at, status, body, headers"
_FORGET_KEY = (
    "DELETE FROM idempotency_keys WHERE login = ? AND idem_key = ?"
    " AND (created_at < ? OR (status IS NULL AND created_at < ?))"
)
_CLAIM_KEY = (
    "INSERT INTO idempotency_keys (login, idem_key, digest, created_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (login, idem_key) DO NOTHING RETURNING login"
)


_time = functools.lru_cache(maxsize=4_096)(dt_required)
"""A NOT NULL time column, parsed once per value (an account's times change rarely, and the
account is read on every request)."""


def _time_or_none(value: str | None) -> datetime | None:
    return None if value is None else _time(value)


def _key_record(row: Any) -> IdempotencyRecord:
    answer = None
    if row["status"] is not None:
        answer = StoredAnswer(
            status=int(row["status"]), body=row["body"], headers=json.loads(row["headers"])
        )
    return IdempotencyRecord(
        login=row["login"],
        key=row["idem_key"],
        digest=row["digest"],
        created_at=_time(row["created_at"]),
        answer=answer,
    )


def _account(row: Any, prefix: str = "") -> Account:
    return Account(
        login=row[f"{prefix}login"],
        role=AccessRole(row[f"{prefix}role"]),
        name=row[f"{prefix}name"],
        password_hash=row[f"{prefix}password_hash"],
        disabled=bool(row[f"{prefix}disabled"]),
        failed_attempts=int(row[f"{prefix}failed_attempts"]),
        locked_until=_time_or_none(row[f"{prefix}locked_until"]),
        created_at=_time(row[f"{prefix}created_at"]),
        updated_at=_time(row[f"{prefix}updated_at"]),
        session_epoch=int(row[f"{prefix}session_epoch"]),
    )


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        token_id=row["token_id"],
        digest=row["digest"],
        login=row["login"],
        scope=row["scope"],
        created_at=_time(row["created_at"]),
        revoked_at=_time_or_none(row["revoked_at"]),
    )


_ACCOUNT_AS = ", ".join(f"a.{c} AS a_{c}" for c in _ACCOUNT_COLUMNS.split(", "))
"""The account's columns beside a token's, each as `a_<column>`."""
_TOKEN_AS = ", ".join(f"t.{c}" for c in _TOKEN_COLUMNS.split(", "))
_TOKEN_AND_ACCOUNT = (
    f"SELECT {_TOKEN_AS}, {_ACCOUNT_AS} FROM access_tokens AS t"
    " LEFT JOIN accounts AS a ON a.login = t.login WHERE t.token_id = ?"
)
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@attrs.frozen(kw_only=True)
class SharedLog:
    """The log's table when it is in the accounts' database (PostgreSQL: `schema.table`),
    and the topics of the events whose news the account check needs (the roster's
    placements): the account read on every request then brings that news in the same
    statement, and a request checks its user in one round trip."""

    schema: str
    table: str
    topics: tuple[str, ...]

    def __attrs_post_init__(self) -> None:
        for name in (self.schema, self.table):
            if not _NAME.fullmatch(name):
                raise ValueError(f"not a plain SQL name: {name!r}")

    def news(self) -> str:
        """A one-row table of the log's head and the first event of `topics` after a
        position (its one parameter, followed by the topics as an array)."""
        table = f'"{self.schema}"."{self.table}"'
        return (
            f"(SELECT (SELECT max(notification_id) FROM {table}) AS log_head,"
            f" (SELECT notification_id FROM {table} WHERE notification_id > ?"
            " AND topic = ANY(?) ORDER BY notification_id LIMIT 1) AS log_first) AS news"
        )


def _news(row: Any, after: int) -> LogNews:
    return LogNews(after=after, head=int(row["log_head"] or 0), first=row["log_first"])


def _owner_only(database: Path) -> None:
    """A new SQLite file (and its folder) for the owner only; an existing one is left as it
    is (SQLite gives its -wal and -shm files the database file's permissions)."""
    database.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    if not database.exists():
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))


class SqlAccountStore:
    """The accounts and tokens on SQLite or PostgreSQL, by the environment's
    `PERSISTENCE_MODULE` (eventsourcing's settings: `SQLITE_DBNAME`, `POSTGRES_*`)."""

    def __init__(self, env: Mapping[str, str], *, log: SharedLog | None = None) -> None:
        module = env.get("PERSISTENCE_MODULE", "")
        if not module.endswith(("sqlite", "postgres")):
            raise ValueError(f"accounts are kept on SQLite or PostgreSQL, not {module!r}")
        self.placeholder = "%s" if module.endswith("postgres") else "?"
        if log is not None and self.placeholder == "?":
            raise ValueError("the log shares the accounts' database only on PostgreSQL")
        self.log = log
        """The log in the same database (None: the news is read from the log itself)."""
        if log is not None:  # one row whatever is found: the news, and the rest or nulls
            news = log.news()
            self._account_news = (
                f"SELECT {_ACCOUNT_AS}, news.log_head, news.log_first FROM {news}"
                " LEFT JOIN accounts AS a ON a.login = ?"
            )
            self._token_news = (
                f"SELECT {_TOKEN_AS}, {_ACCOUNT_AS}, news.log_head, news.log_first FROM {news}"
                " LEFT JOIN access_tokens AS t ON t.token_id = ?"
                " LEFT JOIN accounts AS a ON a.login = t.login"
            )
        database = env.get("SQLITE_DBNAME", "")
        if module.endswith("sqlite") and database and "memory" not in database:
            _owner_only(Path(database))
        self.factory = InfrastructureFactory.construct(Environment("Accounts", dict(env)))
        self.datastore: Any = getattr(self.factory, "datastore")  # noqa: B009 - not typed
        if strtobool(env.get("CREATE_TABLE") or "y"):
            self.create_tables()
        else:  # the tables exist: still, an older release's lack a column
            with self._transaction(commit=True) as c:
                self._upgrade(c)

    def create_tables(self) -> None:
        with self._transaction(commit=True) as c:
            for statement in _CREATE:
                c.execute(statement)
            self._upgrade(c)

    def _upgrade(self, c: Any) -> None:
        """Add the columns an older release's tables lack (`session_epoch`), in place; a
        read only when they have them (no DDL, no lock taken)."""
        c.execute(_HAS_SESSION_EPOCH[self.placeholder])
        if int(c.fetchone()["n"]):
            return
        if_not_exists = "" if self.placeholder == "?" else "IF NOT EXISTS "
        c.execute(_ADD_SESSION_EPOCH.format(if_not_exists=if_not_exists))

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as c:
            yield c

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", "%s")

    def _rows(self, statement: str, params: tuple[Any, ...] = (), *, commit: bool) -> list[Any]:
        with self._transaction(commit=commit) as c:
            c.execute(self._sql(statement), params)
            return list(c.fetchall())

    def _read(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        """The rows of one `SELECT`, without an explicit transaction: one statement sees one
        snapshot by itself (the connections are in autocommit mode), and on PostgreSQL it is
        one round trip instead of three (`BEGIN`, the `SELECT`, `ROLLBACK`). For the reads
        made on every request (the account, a token)."""
        if self.placeholder == "?":
            try:
                with self.datastore.get_connection(commit=False) as conn, conn.cursor() as c:
                    c.execute(statement, params)
                    return list(c.fetchall())
            except sqlite3.OperationalError as error:  # as eventsourcing's transactions say it
                raise OperationalError(str(error)) from error
            except sqlite3.Error as error:
                raise PersistenceError(str(error)) from error
        with self.datastore.get_connection() as conn, conn.cursor() as c:
            c.execute(self._sql(statement), params)
            return list(c.fetchall())

    def get(self, login: str) -> Account | None:
        rows = self._read(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE login = ?", (login,))
        return _account(rows[0]) if rows else None

    def get_with_news(
        self, login: str, news_after: int | None
    ) -> tuple[Account | None, LogNews | None]:
        if self.log is None or news_after is None:
            return self.get(login), None
        [row] = self._read(self._account_news, (news_after, list(self.log.topics), login))
        account = None if row["a_login"] is None else _account(row, "a_")
        return account, _news(row, news_after)

    def token_with_account(
        self, token_id: str, news_after: int | None
    ) -> tuple[TokenRecord | None, Account | None, LogNews | None]:
        if self.log is None or news_after is None:
            rows = self._read(_TOKEN_AND_ACCOUNT, (token_id,))
            news = None
        else:
            rows = self._read(self._token_news, (news_after, list(self.log.topics), token_id))
            news = _news(rows[0], news_after)
        if not rows or rows[0]["token_id"] is None:
            return None, None, news
        row = rows[0]
        account = None if row["a_login"] is None else _account(row, "a_")
        return _token(row), account, news

    def put(self, account: Account, *, end_sessions: bool = False) -> Account:
        locked = None if account.locked_until is None else ts(account.locked_until)
        params = (
            account.login, account.role.value, account.name, account.password_hash,
            int(account.disabled), account.failed_attempts, locked,
            ts(account.created_at), ts(account.updated_at), account.session_epoch,
        )  # fmt: skip
        [row] = self._rows(_PUT_ENDING_SESSIONS if end_sessions else _PUT, params, commit=True)
        return _account(row)

    def all(self) -> list[Account]:
        rows = self._rows(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY login", commit=False)
        return [_account(row) for row in rows]

    def count_attempt(self, login: str, at: datetime) -> Account | None:
        rows = self._rows(_COUNT_ATTEMPT, (ts(at), ts(at), login), commit=True)
        return _account(rows[0]) if rows else None

    def clear_attempts(self, login: str) -> None:
        with self._transaction(commit=True) as c:
            c.execute(
                self._sql(
                    "UPDATE accounts SET failed_attempts = 0, locked_until = NULL WHERE login = ?"
                ),
                (login,),
            )

    def lock_out(self, login: str, until: datetime) -> None:
        with self._transaction(commit=True) as c:
            c.execute(
                self._sql("UPDATE accounts SET locked_until = ? WHERE login = ?"),
                (ts(until), login),
            )

    def end_sessions(self, login: str, epoch: int | None = None) -> Account | None:
        if epoch is None:
            rows = self._rows(_END_SESSIONS, (login,), commit=True)
        else:
            rows = self._rows(_END_SESSIONS_OF_EPOCH, (login, epoch), commit=True)
        return _account(rows[0]) if rows else None

    def add_token(self, token: TokenRecord) -> None:
        revoked = None if token.revoked_at is None else ts(token.revoked_at)
        params = (
            token.token_id, token.digest, token.login, token.scope, ts(token.created_at), revoked,
        )  # fmt: skip
        insert = f"INSERT INTO access_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
        with self._transaction(commit=True) as c:
            c.execute(self._sql(insert), params)

    def token(self, token_id: str) -> TokenRecord | None:
        rows = self._read(
            f"SELECT {_TOKEN_COLUMNS} FROM access_tokens WHERE token_id = ?", (token_id,)
        )
        return _token(rows[0]) if rows else None

    def tokens(self) -> list[TokenRecord]:
        rows = self._rows(
            f"SELECT {_TOKEN_COLUMNS} FROM access_tokens ORDER BY created_at, token_id",
            commit=False,
        )
        return [_token(row) for row in rows]

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        rows = self._rows(
            "UPDATE access_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL"
            " RETURNING token_id",
            (ts(at), token_id),
            commit=True,
        )
        return bool(rows)

    def claim_key(
        self, record: IdempotencyRecord, *, expired_before: datetime, abandoned_before: datetime
    ) -> IdempotencyRecord | None:
        login, key = record.login, record.key
        with self._transaction(commit=True) as c:
            c.execute(
                self._sql(_FORGET_KEY), (login, key, ts(expired_before), ts(abandoned_before))
            )
            c.execute(self._sql(_CLAIM_KEY), (login, key, record.digest, ts(record.created_at)))
            if c.fetchall():
                return None
            # Kept by a request before this one (on PostgreSQL the insert waited for it to
            # commit, and this statement sees what it committed).
            c.execute(
                self._sql(
                    f"SELECT {_KEY_COLUMNS} FROM idempotency_keys WHERE login = ? AND idem_key = ?"
                ),
                (login, key),
            )
            rows = c.fetchall()
        if not rows:  # forgotten in between (purged): this one may go on
            return self.claim_key(
                record, expired_before=expired_before, abandoned_before=abandoned_before
            )
        return _key_record(rows[0])

    def answer_key(self, login: str, key: str, answer: StoredAnswer) -> None:
        with self._transaction(commit=True) as c:
            c.execute(
                self._sql(
                    "UPDATE idempotency_keys SET status = ?, body = ?, headers = ?"
                    " WHERE login = ? AND idem_key = ?"
                ),
                (answer.status, answer.body, json.dumps(answer.headers), login, key),
            )

    def release_key(self, login: str, key: str) -> None:
        with self._transaction(commit=True) as c:
            c.execute(
                self._sql(
                    "DELETE FROM idempotency_keys WHERE login = ? AND idem_key = ?"
                    " AND status IS NULL"
                ),
                (login, key),
            )

    def purge_keys(self, before: datetime) -> int:
        rows = self._rows(
            "DELETE FROM idempotency_keys WHERE created_at < ? RETURNING login",
            (ts(before),),
            commit=True,
        )
        return len(rows)

    def close(self) -> None:
        self.factory.close()


class MemoryAccountStore:
    """The accounts and tokens in dictionaries: for tests and the `memory` backend."""

    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}
        self._tokens: dict[str, TokenRecord] = {}
        self._keys: dict[tuple[str, str], IdempotencyRecord] = {}
        self._lock = threading.Lock()

    def get(self, login: str) -> Account | None:
        return self._accounts.get(login)

    def put(self, account: Account, *, end_sessions: bool = False) -> Account:
        with self._lock:
            kept = self._accounts.get(account.login)
            if kept is not None:  # as the SQL store: the epoch kept, or raised with the change
                epoch = kept.session_epoch + 1 if end_sessions else kept.session_epoch
                account = attrs.evolve(account, session_epoch=epoch)
            self._accounts[account.login] = account
            return account

    def all(self) -> list[Account]:
        return [self._accounts[login] for login in sorted(self._accounts)]

    def count_attempt(self, login: str, at: datetime) -> Account | None:
        with self._lock:
            account = self._accounts.get(login)
            if account is None:
                return None
            if account.locked_until is not None and account.locked_until <= at:
                account = attrs.evolve(account, failed_attempts=1, locked_until=None)
            else:
                account = attrs.evolve(account, failed_attempts=account.failed_attempts + 1)
            self._accounts[login] = account
            return account

    def clear_attempts(self, login: str) -> None:
        with self._lock:
            account = self._accounts.get(login)
            if account is not None:
                self._accounts[login] = attrs.evolve(account, failed_attempts=0, locked_until=None)

    def lock_out(self, login: str, until: datetime) -> None:
        with self._lock:
            account = self._accounts.get(login)
            if account is not None:
                self._accounts[login] = attrs.evolve(account, locked_until=until)

    def end_sessions(self, login: str, epoch: int | None = None) -> Account | None:
        with self._lock:
            account = self._accounts.get(login)
            if account is None or (epoch is not None and account.session_epoch != epoch):
                return None
            account = attrs.evolve(account, session_epoch=account.session_epoch + 1)
            self._accounts[login] = account
            return account

    def add_token(self, token: TokenRecord) -> None:
        with self._lock:
            if token.token_id in self._tokens:
                raise ValueError(f"token {token.token_id} exists already")
            self._tokens[token.token_id] = token

    def token(self, token_id: str) -> TokenRecord | None:
        return self._tokens.get(token_id)

    def get_with_news(
        self, login: str, news_after: int | None
    ) -> tuple[Account | None, LogNews | None]:
        return self._accounts.get(login), None

    def token_with_account(
        self, token_id: str, news_after: int | None
    ) -> tuple[TokenRecord | None, Account | None, LogNews | None]:
        token = self._tokens.get(token_id)
        return token, None if token is None else self._accounts.get(token.login), None

    def tokens(self) -> list[TokenRecord]:
        return sorted(self._tokens.values(), key=lambda t: (t.created_at, t.token_id))

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        with self._lock:
            token = self._tokens.get(token_id)
            if token is None or token.revoked_at is not None:
                return False
            self._tokens[token_id] = attrs.evolve(token, revoked_at=at)
            return True

    def claim_key(
        self, record: IdempotencyRecord, *, expired_before: datetime, abandoned_before: datetime
    ) -> IdempotencyRecord | None:
        with self._lock:
            kept = self._keys.get((record.login, record.key))
            if kept is not None and (
                kept.created_at < expired_before
                or (kept.answer is None and kept.created_at < abandoned_before)
            ):
                kept = None
            if kept is not None:
                return kept
            self._keys[record.login, record.key] = attrs.evolve(record, answer=None)
            return None

    def answer_key(self, login: str, key: str, answer: StoredAnswer) -> None:
        with self._lock:
            kept = self._keys.get((login, key))
            if kept is not None:
                self._keys[login, key] = attrs.evolve(kept, answer=answer)

    def release_key(self, login: str, key: str) -> None:
        with self._lock:
            kept = self._keys.get((login, key))
            if kept is not None and kept.answer is None:
                del self._keys[login, key]

    def purge_keys(self, before: datetime) -> int:
        with self._lock:
            old = [k for k, record in self._keys.items() if record.created_at < before]
            for k in old:
                del self._keys[k]
            return len(old)

    def close(self) -> None:
        pass


class Argon2Hasher:
    """Passwords hashed with Argon2id (argon2-cffi). `parameters`: argon2-cffi's (default its
    RFC 9106 low-memory profile; tests pass `argon2.profiles.CHEAPEST`)."""

    def __init__(self, parameters: argon2.Parameters | None = None) -> None:
        self._hasher = (
            argon2.PasswordHasher()
            if parameters is None
            else argon2.PasswordHasher.from_parameters(parameters)
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
