"""Operations: metrics (Prometheus) and readiness: see `ROUTES`."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
