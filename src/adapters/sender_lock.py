"""One outbox sending at a time, across processes and machines
(`application.jobs.outbox.SenderLock`).

PostgreSQL: a session advisory lock, tried without waiting on a connection of its own; the
server drops it when that connection ends (the process died). SQLite: an exclusive `flock` on
a file beside the outbox's database; the kernel drops it when the process ends. Neither
expires while its holder lives, so a slow SMTP server never lets a second sender in.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.schema_lock import connect
from application.jobs.outbox import InProcessLock, SenderLock

if TYPE_CHECKING:
    import psycopg


class PostgresSenderLock:
    def __init__(self, env: Mapping[str, str], name: str) -> None:
        self.env = dict(env)
        digest = hashlib.sha256(f"backoffice sender {name}".encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def try_acquire(self) -> bool:
        connection = connect(self.env)
        row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if row is None or row[0] is not True:
            connection.close()
            return False
        self._connection = connection
        return True

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            finally:
                self._connection.close()
                self._connection = None


class FileSenderLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._descriptor: int | None = None

    def try_acquire(self) -> bool:
        descriptor = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._descriptor = descriptor
        return True

    def release(self) -> None:
        if self._descriptor is not None:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = None


def sender_lock(env: Mapping[str, str], name: str) -> SenderLock:
    """The lock for the outbox whose position lives in `env` (its tracking environment)."""
    module = env.get("PERSISTENCE_MODULE", "")
    if module.endswith("postgres"):
        return PostgresSenderLock(env, name)
    if module.endswith("sqlite") and "SQLITE_DBNAME" in env:
        return FileSenderLock(Path(env["SQLITE_DBNAME"] + ".sender-lock"))
    return InProcessLock(name)
