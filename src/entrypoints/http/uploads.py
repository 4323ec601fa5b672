"""Imports over HTTP (CRM exports, e-mails, surveys, monitorings, roster, shifts,
practices) and e-mail intake: see `ROUTES`."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
