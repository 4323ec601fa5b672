"""A clock that stands still (`fixed_clock`) is the demo's folder's only: refused, naming why,
without the simulated systems, on PostgreSQL, or beside any of Claro's real systems."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from adapters.clock import FixedClock, SystemClock
from entrypoints.settings import (
    FIXED_CLOCK_REFUSED_WITH,
    Settings,
    SettingsError,
    load_settings,
)

FRIDAY = "2026-12-04T15:50:00-05:00"
DEMO = {"BACKOFFICE_SIMULATED_SYSTEMS": "true", "BACKOFFICE_FIXED_CLOCK": FRIDAY}
"""The demo's folder's settings."""


def test_the_demos_folder_stands_still_and_any_other_runs(tmp_path: Path) -> None:
    demo = load_settings(DEMO, data_dir=str(tmp_path))
    clock = demo.clock()
    assert isinstance(clock, FixedClock)
    assert clock.now() == datetime(2026, 12, 4, 20, 50, tzinfo=UTC)
    assert isinstance(load_settings(DEMO, data_dir=str(tmp_path), database_url="memory").clock(),
                      FixedClock)  # fmt: skip
    real = {"BACKOFFICE_RR_URL": "https://rr.claro.example", "BACKOFFICE_MAILER": "smtp"}
    assert isinstance(load_settings(real, data_dir=str(tmp_path)).clock(), SystemClock)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"BACKOFFICE_SIMULATED_SYSTEMS": "false"}, "refused without simulated_systems = true"),
        ({"BACKOFFICE_DATABASE_URL": "postgresql://u@127.0.0.1/demo"},
         "refused on PostgreSQL (database_url)"),
        ({"BACKOFFICE_RR_URL": "https://rr.claro.example"}, "refused with rr_url set"),
        ({"BACKOFFICE_AC_URL": "https://ac.claro.example"}, "refused with ac_url set"),
        ({"BACKOFFICE_DIME_URL": "https://dime.example"}, "refused with dime_url set"),
        ({"BACKOFFICE_DIAGNOSTICS_URL": "https://d.example"}, "refused with diagnostics_url set"),
        ({"BACKOFFICE_WFM_URL": "https://wfm.example"}, "refused with wfm_url set"),
        ({"BACKOFFICE_MAILER": "smtp"}, "refused with mailer = smtp"),
    ],
)  # fmt: skip
def test_a_fixed_clock_beside_anything_real_is_refused_naming_why(
    tmp_path: Path, changes: dict[str, str], why: str
) -> None:
    settings = load_settings({**DEMO, **changes}, data_dir=str(tmp_path))
    with pytest.raises(SettingsError) as error:
        settings.clock()
    message = str(error.value)
    assert message.startswith("fixed_clock: a clock that stands still is for the demo's folder")
    assert why in message
    assert "\n" not in message
    assert "claro.example" not in message  # the setting named, not its value


def test_every_real_systems_url_is_in_the_list() -> None:
    """A new system's `*_url` setting refuses the fixed clock too."""
    urls = {field.name for field in attrs.fields(Settings) if field.name.endswith("_url")}
    assert set(FIXED_CLOCK_REFUSED_WITH) == urls - {"database_url"}
