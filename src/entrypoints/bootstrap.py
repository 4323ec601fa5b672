"""The one composition root: settings in, a ready `Backoffice` out.

Nothing connects at import time. An embedding host does:

    from entrypoints.bootstrap import bootstrap
    with bootstrap() as office:          # reads BACKOFFICE_* from the environment
        office.ingest(...)
"""

from __future__ import annotations

from datetime import timedelta

from adapters.case_index import open_case_index
from adapters.clock import SystemClock
from adapters.eventstore.store import EventSourcedCaseStore
from application.ports import Clock
from application.service import Backoffice, Policies
from domain.decisions import FollowUpRules
from entrypoints.settings import Settings, load_settings


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None) -> Backoffice:
    """Build the back office for these settings (default: from the environment)."""
    settings = settings or load_settings()
    if settings.backend == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = EventSourcedCaseStore(settings.store_env())
    try:
        index = open_case_index(settings.index_env())
    except Exception:
        store.close()
        raise
    policies = Policies(
        follow_up=FollowUpRules(
            on_time_window=timedelta(minutes=settings.follow_up_on_time_minutes),
            missed_after=timedelta(hours=settings.follow_up_missed_after_hours),
        ),
        rr_note_max_length=settings.rr_note_max_length,
    )
    return Backoffice(store, index, clock or SystemClock(), policies)
