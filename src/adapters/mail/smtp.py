"""`Mailer` over SMTP with aiosmtplib: implicit TLS or STARTTLS, login, timeouts.

Errors are sorted for the outbox: the connection, timeouts, a login refused and 4xx replies
are transient (try again later: nothing is wrong with the message); a 5xx reply to the
sender, to every recipient or to the data is permanent. Recipients refused one by one while
others accept come back in `Delivery.refused`.
"""

from __future__ import annotations

import asyncio
import ssl

import aiosmtplib
import attrs

from adapters.mail.message import to_email
from application.jobs.mail import Delivery, OutgoingMail, PermanentMailError, TransientMailError


@attrs.frozen(kw_only=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"
    """`none`, `starttls` or `tls` (implicit TLS, usually port 465)."""
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    timeout_seconds: float = 30.0
    ca_file: str | None = None
    """A CA bundle to trust instead of the system's (e.g. an internal relay's)."""

    def __attrs_post_init__(self) -> None:
        if self.security not in ("none", "starttls", "tls"):
            raise ValueError(f"smtp security must be none, starttls or tls, not {self.security!r}")


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.settings.security == "none":
            return None
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def send(self, mail: OutgoingMail, *, sender: str) -> Delivery:
        return asyncio.run(self._send(mail, sender))

    async def _send(self, mail: OutgoingMail, sender: str) -> Delivery:
        s = self.settings
        message = to_email(mail, sender=sender)
        try:
            refused, _ = await aiosmtplib.send(
                message,
                sender=sender,
                recipients=list(mail.recipients),
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                timeout=s.timeout_seconds,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                tls_context=self._tls_context(),
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            reasons = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in error.recipients)
            if all(500 <= code < 600 for code in codes):
                raise PermanentMailError(f"every recipient refused ({reasons})") from error
            raise TransientMailError(f"recipients refused for now ({reasons})") from error
        except aiosmtplib.SMTPAuthenticationError as error:
            raise TransientMailError(f"SMTP login refused ({error.code})") from error
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600:
                raise PermanentMailError(f"SMTP {error.code}: {error.message}") from error
            raise TransientMailError(f"SMTP {error.code}: {error.message}") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise TransientMailError(f"SMTP server unavailable: {error}") from error
        return Delivery({r: f"{resp.code} {resp.message}" for r, resp in refused.items()})
