"""Retention of personal data (the worker's `retention` job).

With `personal_data_retention_years` set, each run examines the next page of data subjects
that still have a key (in account order, round and round) and erases those whose cases all
closed more than that many years ago (`application.privacy.subjects.Privacy.erase_expired`).
It is idempotent: an erased subject has no key left, so it is not examined again (until a new
case of theirs gives them one). The round's place lives in the job (the worker's memory): a
restarted worker starts the round again. Its log line counts subjects, never names them.
"""

from __future__ import annotations

from typing import Any

import attrs

from application.privacy.subjects import Privacy

SUBJECTS_PER_RUN = 200
"""Data subjects examined a run."""


@attrs.define
class RetentionJob:
    privacy: Privacy
    years: int
    subjects_per_run: int = SUBJECTS_PER_RUN
    after: str | None = None
    """The last subject examined (None: the round starts again)."""
    rounds: int = 0

    def run(self) -> dict[str, Any]:
        """One page of subjects; the worker's JSON log fields."""
        page = self.privacy.keys.accounts_with_keys(after=self.after, limit=self.subjects_per_run)
        erased = self.privacy.erase_expired(page, self.years)
        if len(page) < self.subjects_per_run:
            self.after = None
            self.rounds += 1
        else:
            self.after = page[-1]
        return {"examined": len(page), "erased": erased, "rounds": self.rounds}

    def run_whole(self) -> dict[str, Any]:
        """Every subject at once (`worker --once`)."""
        self.after = None
        examined = erased = 0
        while True:
            fields = self.run()
            examined += fields["examined"]
            erased += fields["erased"]
            if self.after is None:
                return {"examined": examined, "erased": erased, "rounds": self.rounds}
