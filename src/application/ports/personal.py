"""The key store of personal data, as a port: keys per data subject, and erasures.

The personal fields of events (`domain.case.events.PERSONAL_FIELDS`) are stored encrypted with
a key of their data subject (the account). Deleting the subject's keys erases those fields in
every copy of the log at once (crypto-shredding): the events stay, their bytes unchanged, and
read as erased. The store also keeps the register of erasures: who asked, why, who ran it, when.
Encrypting and decrypting is the event store's business (`adapters.eventstore.mapper`); the
use cases of `application.privacy` need only what is here.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs


def subject_digest(account: str) -> str:
    """How the register of erasures names an account (`Erasure.subject`): its SHA-256."""
    return hashlib.sha256(account.encode("utf-8")).hexdigest()


@attrs.frozen(kw_only=True)
class Erasure:
    """One entry of the register of erasures. The account itself is not kept: its digest
    (`subject`) answers "was this account erased, and when"."""

    subject: str
    """SHA-256 of the account, hexadecimal."""
    erased_at: datetime
    requested_by: str
    reason: str
    operator: str
    """Who ran it (an actor, `supervisor:<login>`, or `sweep:retention`)."""
    cases: int
    """Cases on which the erasure was recorded."""
    keys: int
    """Keys deleted."""


@runtime_checkable
class PersonalKeys(Protocol):
    """What the privacy use cases ask of the key store."""

    def in_clear(self, case_ids: Iterable[uuid.UUID]) -> int:
        """How many events of these cases hold personal data stored in clear (written before
        personal-data encryption, or with it off): no key deletion erases those."""
        ...

    def live_keys(self, account: str) -> int:
        """How many keys the account has (0: nothing of it can be decrypted any more)."""
        ...

    def forget(self, account: str, erasure: Erasure) -> int:
        """Delete every key of the account and record `erasure` (its `keys` is filled in),
        in one transaction; returns the keys deleted. A later case of the same account gets a
        new key."""
        ...

    def erasures(self, account: str) -> Sequence[Erasure]:
        """The register's entries of this account, oldest first."""
        ...

    def accounts_with_keys(self, *, after: str | None, limit: int) -> Sequence[str]:
        """Accounts that have a key, in order, after `after` (a page of the retention's
        round)."""
        ...
