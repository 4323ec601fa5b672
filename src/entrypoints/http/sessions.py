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
"""

from __future__ import annotations

import binascii
import contextlib
import time
from base64 import b64decode
from collections import OrderedDict
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

RENEW_SECONDS = 60
"""An unchanged session's cookie is issued again once it is this old (seconds)."""
LOADED = "backoffice.session_loaded"
"""The scope's key for the session as the request's cookie carried it, and its expiry."""
OPENED = 1_024
"""Cookies kept decrypted (the most recently sent): about one per agent at work."""


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
