"""An `OutgoingMail` as an RFC 5322 message."""

from __future__ import annotations

import email.errors
from email.message import EmailMessage
from email.utils import format_datetime

from application.jobs.mail import OutgoingMail, PermanentMailError


def to_email(mail: OutgoingMail, *, sender: str) -> EmailMessage:
    """The message; `PermanentMailError` when it cannot be built (a header value no mail
    can carry): the outbox records that message as failed and goes on with the others."""
    try:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(mail.recipients)
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(mail.date)
        message["Message-ID"] = mail.message_id
        message["X-Backoffice-Purpose"] = mail.purpose
        message.set_content(mail.body, charset="utf-8")
        message.as_bytes()  # every header must also serialize
    except (ValueError, TypeError, email.errors.MessageError) as error:
        raise PermanentMailError(f"the message cannot be built: {error}") from None
    return message
