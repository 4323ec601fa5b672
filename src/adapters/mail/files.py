"""`Mailer` that writes each message as an .eml file in a folder (demos, local use)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from adapters.mail.message import to_email
from application.jobs.mail import Delivery, OutgoingMail


class FolderMailer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, mail: OutgoingMail, *, sender: str) -> Delivery:
        if not self.folder.exists():  # the messages carry customers' accounts: owner only
            self.folder.mkdir(parents=True, mode=0o700)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", mail.message_id.strip("<>")) + ".eml"
        message = to_email(mail, sender=sender)
        # Same Message-ID, same file: a re-send after a crash overwrites, never duplicates.
        descriptor = os.open(self.folder / name, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(bytes(message))
        return Delivery()
