"""The event store of cases, on eventsourcing (SQLite, PostgreSQL or in memory)."""
