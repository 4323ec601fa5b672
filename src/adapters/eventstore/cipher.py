"""Encryption at rest of the cases' log: each stored event's bytes under AES-256-GCM.

eventsourcing's mapper calls a `Cipher` on every event it stores and reads
(`CIPHER_TOPIC` names this class). `RotatingCipher` encrypts with one key, the newest, and
decrypts with any key it is given, so that a key can be replaced without rewriting a single
stored row (a rewritten row would break the tamper-evidence chain, `adapters.eventstore.chain`,
which hashes the stored bytes). Each encrypted row says which key it was written with:

    0x00 0x01 ‖ key id (4 bytes) ‖ nonce (12) ‖ ciphertext ‖ tag (16)

The same AES-GCM as eventsourcing's own cipher (`eventsourcing.cryptography.AESCipher`, on
`cryptography`'s AESGCM, whose `create_key` makes the keys), with two differences for
speed, since every event read or written goes through it: one AESGCM object per key instead
of one per event, and the nonce, ciphertext and tag in the order AESGCM takes and gives them
(the library moves the tag before the ciphertext, one more copy each way). The key id is the
first 4 bytes of a SHA-256 over a fixed label and the key: it names a key without revealing
it.

Rows that do not start with the marker were stored in clear (before encryption was turned on,
or while it was off); they are read as they are. Serialised events start with `{` (JSON) or
`x` (zlib), never with a zero byte.

The environment:
- `CIPHER_KEY`: the key new events are encrypted with (base64 of 32 bytes); none: new events
  are stored in clear;
- `CIPHER_OLD_KEYS`: comma-separated keys events were encrypted with before, still read.

A process with no key at all (neither variable) does not write to a store whose events are
encrypted: the store (`adapters.eventstore.store.KeylessWrites`) looks once at the log's
newest row and refuses every append and every cached state when that row is encrypted.
Encryption is turned off on purpose by keeping the keys as old keys only: such a process has
a cipher, and writes in clear.
"""

from __future__ import annotations

import binascii
import hashlib
import os
from base64 import b64decode
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import AggregateRecorder, Cipher, PersistenceError, StoredEvent

MARKER = b"\x00\x01"
"""The first bytes of an encrypted row (format 1)."""
KEY_ID_SIZE = 4
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
"""AES-256: keys of 32 bytes, written in base64 (44 characters)."""
_HEAD = len(MARKER) + KEY_ID_SIZE
_SEALED = _HEAD + NONCE_SIZE

NEW_KEY_VARIABLE = "CIPHER_KEY"
OLD_KEYS_VARIABLE = "CIPHER_OLD_KEYS"


class EncryptionKeyError(ValueError):
    """A stored row that the configured keys cannot decrypt. The message names no key and
    no data: only what is missing or wrong."""


NO_KEY = (
    "the store's events are encrypted and no encryption key is set "
    "(encryption_key, BACKOFFICE_ENCRYPTION_KEY)"
)


NO_KEY_TO_WRITE = (
    "cannot store new events: the store's events are encrypted and no encryption key is set "
    "(encryption_key, BACKOFFICE_ENCRYPTION_KEY); to store them in clear on purpose, keep the "
    "key in encryption_old_keys (BACKOFFICE_ENCRYPTION_OLD_KEYS)"
)


class KeylessWriteRefused(PersistenceError):
    """A process without any key tried to write to a store whose events are encrypted. A
    `PersistenceError`: the command line and the HTTP API tell it as storage unavailable."""


def is_encrypted(state: bytes) -> bool:
    """Whether a stored row was written by this cipher (with some key)."""
    return state[: len(MARKER)] == MARKER


def read_key(text: str) -> bytes:
    """A key as written in the settings (base64 of 32 bytes); ValueError saying what is wrong
    with it, never quoting it."""
    try:
        key = b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not base64") from None
    if len(key) != KEY_SIZE:
        raise ValueError(f"{len(key)} bytes once decoded, not {KEY_SIZE} (AES-256)")
    return key


def split_keys(text: str | None) -> list[str]:
    """A comma-separated list of keys, blanks left out."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def key_id(key: bytes) -> bytes:
    """The 4 bytes that name `key` in each row it encrypted."""
    return hashlib.sha256(b"backoffice encryption key id\x00" + key).digest()[:KEY_ID_SIZE]


def new_key() -> str:
    """A fresh random key, as the settings take it (base64 of 32 bytes)."""
    return AESCipher.create_key(KEY_SIZE)


class RotatingCipher(Cipher):
    """Encrypts with the newest key, decrypts with any of the keys, reads clear rows as they
    are. Without a newest key it stores in clear (old keys only: encryption turned off)."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        newest = environment.get(NEW_KEY_VARIABLE) or ""
        old = split_keys(environment.get(OLD_KEYS_VARIABLE))
        self._readers: dict[bytes, AESGCM] = {}
        self._writer: tuple[bytes, AESGCM] | None = None
        for n, text in enumerate([newest, *old] if newest else old):
            try:
                key = read_key(text)
            except ValueError as error:
                which = "the newest key" if n == 0 and newest else "an old key"
                raise ValueError(f"encryption: {which} is {error}") from None
            ident = key_id(key)
            if ident in self._readers:
                raise ValueError("encryption: the same key is listed twice")
            self._readers[ident] = AESGCM(key)
        if newest:
            ident = next(iter(self._readers))
            self._writer = (ident, self._readers[ident])

    @property
    def encrypting(self) -> bool:
        """Whether new rows are encrypted (a newest key is set)."""
        return self._writer is not None

    @property
    def key_ids(self) -> Sequence[str]:
        """The keys' ids in hex, the newest (the one written with, if any) first."""
        return [ident.hex() for ident in self._readers]

    def encrypt(self, plaintext: bytes) -> bytes:
        if self._writer is None:
            return plaintext
        ident, aesgcm = self._writer
        nonce = os.urandom(NONCE_SIZE)
        return MARKER + ident + nonce + aesgcm.encrypt(nonce, plaintext, None)

    def decrypt(self, ciphertext: bytes) -> bytes:
        if not is_encrypted(ciphertext):
            return ciphertext  # stored in clear
        ident = ciphertext[len(MARKER) : _HEAD]
        aesgcm = self._readers.get(ident)
        if aesgcm is None:
            if not self._readers:
                raise EncryptionKeyError(NO_KEY)
            raise EncryptionKeyError(
                f"an event is encrypted with key {ident.hex()}, which is not among the keys "
                f"set ({', '.join(self.key_ids)}): add it to encryption_old_keys "
                "(BACKOFFICE_ENCRYPTION_OLD_KEYS)"
            )
        try:
            return aesgcm.decrypt(ciphertext[_HEAD:_SEALED], ciphertext[_SEALED:], None)
        except InvalidTag:
            raise EncryptionKeyError(
                f"an event encrypted with key {ident.hex()} does not decrypt: the row was "
                "damaged or changed (`backoffice audit verify` names it)"
            ) from None


class CipheredRecorder(AggregateRecorder):
    """Another recorder whose rows' state goes through `cipher` (the cached case states,
    `adapters.eventstore.state_cache`, which keep the same data as the events). A row it
    cannot decrypt is reported as a `PersistenceError`: the cache then folds the events."""

    def __init__(self, recorder: AggregateRecorder, cipher: Cipher) -> None:
        self.recorder = recorder
        self.cipher = cipher

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        encrypt = self.cipher.encrypt
        sealed = [
            StoredEvent(e.originator_id, e.originator_version, e.topic, encrypt(e.state))
            for e in stored_events
        ]
        return self.recorder.insert_events(sealed, **kwargs)

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        rows = self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        decrypt = self.cipher.decrypt
        try:
            return [
                StoredEvent(e.originator_id, e.originator_version, e.topic, decrypt(e.state))
                for e in rows
            ]
        except ValueError as error:
            raise PersistenceError(str(error)) from error
