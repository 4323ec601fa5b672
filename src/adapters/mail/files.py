"""`Mailer` that writes each message as an .eml file in a folder (demos, local use)."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.mail.message import to_email
from application.mail import Delivery, OutgoingMail


class FolderMailer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, mail: OutgoingMail, *, sender: str) -> Delivery:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", mail.message_id.strip("<>")) + ".eml"
        message = to_email(mail, sender=sender)
        # Same Message-ID, same file: a re-send after a crash overwrites, never duplicates.
        (self.folder / name).write_bytes(bytes(message))
        return Delivery()
