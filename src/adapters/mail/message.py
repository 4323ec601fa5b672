"""An `OutgoingMail` as an RFC 5322 message."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from application.mail import OutgoingMail


def to_email(mail: OutgoingMail, *, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(mail.recipients)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = mail.message_id
    message["X-Backoffice-Purpose"] = mail.purpose
    message.set_content(mail.body, charset="utf-8")
    return message
