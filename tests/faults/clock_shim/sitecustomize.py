"""A fixed clock for the `backoffice` processes the fault-injection tests start.

The settings offer no fixed clock (docs/settings.md), and an event's `timestamp` (and the
sweep's `at`) comes from the clock: two runs over the same input would differ in time alone.
The tests put this folder first on `PYTHONPATH` and set `BACKOFFICE_FAULTS_NOW` to an ISO
time; Python imports this module at start-up, and every `SystemClock` of the process then
answers that time. Without the variable it does nothing.
"""

from __future__ import annotations

import os
from datetime import datetime

_NOW = os.environ.get("BACKOFFICE_FAULTS_NOW")

if _NOW:
    import adapters.clock

    _FIXED = datetime.fromisoformat(_NOW)

    def _now(self: adapters.clock.SystemClock) -> datetime:
        return _FIXED

    adapters.clock.SystemClock.now = _now  # type: ignore[method-assign]
