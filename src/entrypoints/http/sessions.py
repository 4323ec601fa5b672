"""The session cookie: Litestar's client-side session (AES-GCM encrypted and signed, its
expiry inside), issued again only when it changed or is more than `RENEW_SECONDS` old.

Litestar's own backend encrypts the session again and sends a new `Set-Cookie` with every
answer, the session unchanged: that is most of what reading a session costs a request, on
the server and on the client, which stores the cookie again each time. Here an unchanged
session is renewed at most once every `RENEW_SECONDS`: it still expires `max_age` after the
last request (give or take that much), and a changed session (signing in, out, the single
sign-on's) is sent at once, as before.

A cookie is decrypted once: its value (authenticated by AES-GCM the first time) is kept with
the session's serialized form and expiry, for the next requests that send it again (an
agent's every request, until the cookie is renewed). Its expiry is checked on every request
as before, and each request gets a session of its own (deserialized again).

A password's session carries, beside its login and CSRF token, the account's session epoch
it was issued in (`EPOCH`, `password_session`), compared on every request with the
account's own, read in the statement that reads the account (`Accounts.principal`): signing
out (`end_session`), a new password or disabling the account raises the account's epoch,
and every session issued before ends, copies of its cookie included. A session without an
epoch (issued before there were epochs) is refused: its holder signs in once more.
"""

from __future__ import annotations

import binascii
import contextlib
import time
from base64 import b64decode
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from litestar.exceptions import SerializationException
from litestar.middleware.session.client_side import (
    AAD,
    NONCE_SIZE,
    ClientSideSessionBackend,
    CookieBackendConfig,
)
from litestar.serialization import decode_json
from litestar.types import Empty

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.types import Message, ScopeSession

    from application.access.accounts import Accounts

RENEW_SECONDS = 60
"""An unchanged session's cookie is issued again once it is this old (seconds)."""
LOADED = "backoffice.session_loaded"
"""The scope's key for the session as the request's cookie carried it, and its expiry."""
OPENED = 1_024
"""Cookies kept decrypted (the most recently sent): about one per agent at work."""
EPOCH = "epoch"
"""The session's key for the account's session epoch it was issued in."""
NO_EPOCH = -1
"""The epoch of a session that carries none (or not a whole number): no account's (they
start at 0), so such a session is refused."""


def password_session(login: str, csrf: str, epoch: int | None) -> dict[str, Any]:
    """The session of a password's sign-in: the login, the CSRF token, and the account's
    session epoch as the sign-in read it (`Principal.epoch`; None, which no sign-in gives,
    makes a session that nothing admits)."""
    return {"login": login, "csrf": csrf, EPOCH: NO_EPOCH if epoch is None else epoch}


def session_epoch(session: Mapping[str, Any]) -> int:
    """The epoch a password's session was issued in, for `Accounts.principal`; `NO_EPOCH`
    when it carries none (issued before epochs were) or not a whole number."""
    value = session.get(EPOCH)
    return value if type(value) is int and value >= 0 else NO_EPOCH


def end_session(accounts: Accounts, session: Mapping[str, Any]) -> bool:
    """Sign a password's session out for good, and with it every session of its account
    issued before (`Accounts.sign_out`): copies of its cookie no longer sign anyone in.
    Blocking (one write): call it in a worker thread, then clear the session. A session of
    the proxy's header (`sso`) ends with the proxy's sign-out, and one ended already ends
    no other: False for those, and for no session."""
    login = session.get("login")
    epoch = session_epoch(session)
    if not isinstance(login, str) or not login or session.get("sso") or epoch == NO_EPOCH:
        return False
    return accounts.sign_out(login, epoch)


class SessionCookies(ClientSideSessionBackend):
    """Litestar's cookie backend, which leaves an unchanged, recent cookie as it is, and
    decrypts a cookie sent again only once."""

    def __init__(self, config: CookieBackendConfig) -> None:
        super().__init__(config)
        self._opened: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()
        """A cookie's value: its session serialized (decrypted) and its expiry. Used on the
        event loop only (the session middleware), so without a lock."""

    async def load_from_connection(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> dict[str, Any]:
        if cookie_keys := self.get_cookie_keys(connection):
            data = b"".join(connection.cookies[key].encode("utf-8") for key in cookie_keys)
            # As Litestar's: a cookie that cannot be read, or has expired, is no session.
            with contextlib.suppress(InvalidTag, binascii.Error, ValueError, KeyError, TypeError,
                                     SerializationException):  # fmt: skip
                session, expires_at = self._open(data)
                if session:
                    connection.scope[LOADED] = (dict(session), expires_at)  # type: ignore[literal-required]
                return session
        return {}

    def _open(self, data: bytes) -> tuple[dict[str, Any], float]:
        """The session a cookie's value carries, and when it expires (`load_data`'s work),
        decrypted once for all the requests that send that value."""
        opened = self._opened.get(data)
        if opened is None:
            opened = self._decrypt(data)
            if not opened[0]:
                return {}, 0.0
            self._opened[data] = opened
            if len(self._opened) > OPENED:
                self._opened.popitem(last=False)
        else:
            self._opened.move_to_end(data)
        serialized, expires_at = opened
        if not expires_at > round(time.time()):
            self._opened.pop(data, None)
            return {}, 0.0
        session: dict[str, Any] = self.deserialize_data(serialized)
        return session, expires_at

    def _decrypt(self, data: bytes) -> tuple[bytes, float]:
        """The session a cookie's value carries, serialized, and its expiry (`b""` when the
        value carries none or has expired); `InvalidTag` and the like when it is not ours."""
        decoded = b64decode(data)
        nonce = decoded[:NONCE_SIZE]
        aad_starts_from = decoded.find(AAD)
        if aad_starts_from == -1:
            return b"", 0.0
        associated_data = decoded[aad_starts_from:].replace(AAD, b"")
        expires_at = decode_json(value=associated_data)["expires_at"]
        if not expires_at > round(time.time()):
            return b"", 0.0
        encrypted_session = decoded[NONCE_SIZE:aad_starts_from]
        decrypted = self.aesgcm.decrypt(nonce, encrypted_session, associated_data=associated_data)
        return decrypted, float(expires_at)

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        loaded: tuple[dict[str, Any], float] | None = connection.scope.get(LOADED)  # type: ignore[assignment]
        if (
            loaded is not None
            and scope_session
            and scope_session is not Empty
            and scope_session == loaded[0]
            and loaded[1] - time.time() > self.config.max_age - RENEW_SECONDS
        ):
            return  # the client's cookie says the same, and was issued less than a minute ago
        await super().store_in_message(scope_session, message, connection)


@dataclass
class SessionCookieConfig(CookieBackendConfig):
    """`CookieBackendConfig` with `SessionCookies` as its backend."""

    _backend_class = SessionCookies
