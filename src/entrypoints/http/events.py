"""The live stream of the log (Server-Sent Events): see `ROUTES`."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
