"""Configuration as data: shipped examples load; bad files name the file, key and problem."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.config_files import (
    ConfigError,
    load_indicator_rules,
    load_markings,
    load_regulation,
)
from application.indicators.report import IndicatorRules
from domain.indicators.definitions import NpsScale
from domain.indicators.goals import Goal
from domain.values import Category, Priority, Resolution

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_regulation_and_catalogue_load() -> None:
    clocks, weekend = load_regulation(ROOT / "examples" / "regulation.toml")
    assert (clocks.pqr_response_business_days, clocks.pqr_warning_business_day) == (15, 12)
    assert clocks.reposicion_business_days == 10
    assert clocks.escalation_hours(Priority.URGENT) == 4
    assert "5111" in clocks.source
    assert weekend == frozenset({5, 6})
    catalogue = load_markings(ROOT / "examples" / "markings.toml")
    assert catalogue["PQR-FACT"].resolution is Resolution.CUN
    assert catalogue["SOP-01"].categories == (Category.SOPORTE,)
    assert catalogue["PQR-FACT"].categories == (Category.SAC, Category.PQR)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pqr_response_business_days = 15\n", "source: say where the numbers come from"),
        ('source = "x"\npqr_response_business_days = "quince"\n',
         "pqr_response_business_days: expected a whole number"),
        ('source = "x"\ncolor = 1\n', "unknown keys ['color']"),
    ],
)  # fmt: skip
def test_a_bad_regulation_file_says_where_and_what(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "regulation.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"regulation\.toml") as caught:
        load_regulation(path)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("pqr_warning_business_day = 12", "pqr_warning_business_day = 16",
         "warning day must fall within"),
        ('weekend = ["saturday", "sunday"]', 'weekend = ["domingo"]',
         "weekend: expected a list of monday"),
        ("urgent = 4\n", "", "escalation_response_hours: give hours for each of"),
    ],
)  # fmt: skip
def test_a_shipped_file_changed_wrongly_is_refused(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = (ROOT / "examples" / "regulation.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "regulation.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_regulation(path)
    assert message in str(caught.value)


def test_inconsistent_numbers_are_refused(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "regulation.toml").read_text(encoding="utf-8")
    path = tmp_path / "regulation.toml"
    path.write_text(text.replace("pqr_warning_business_day = 12", "pqr_warning_business_day = 16"),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError, match="warning day must fall within"):
        load_regulation(path)


def test_a_bad_marking_names_its_code_and_field(tmp_path: Path) -> None:
    path = tmp_path / "markings.toml"
    path.write_text('[markings."X-1"]\nlabel = "x"\ncategory = "billing"\nresolution = "cun"\n'
                    'tool = "UCC"\n', encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError, match=r"markings\.X-1: 'billing' is not a valid Category"):
        load_markings(path)
    path.write_text('[markings."X-1"]\nlabel = "x"\ncategory = "sac"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"markings\.X-1: resolution: required text"):
        load_markings(path)


def test_the_shipped_indicator_rules_are_the_defaults() -> None:
    assert load_indicator_rules(ROOT / "examples" / "indicators.toml") == IndicatorRules()


def test_indicator_rules_override_only_what_they_say(tmp_path: Path) -> None:
    path = tmp_path / "indicators.toml"
    path.write_text(
        "[nps]\nmaximum = 9\npromoters_from = 9\ndetractors_to = 6\n"
        "[reincidencia]\nwindow_days = 15\n"
        "[goals.ausentismo]\ntarget = 4.5\n",
        encoding="utf-8",
    )
    rules = load_indicator_rules(path)
    assert rules.scale == NpsScale(9, 9, 6)
    assert rules.window == timedelta(days=15)
    assert rules.goals.ausentismo == Goal(4.5, higher_is_better=False, margin=2.0)
    assert rules.goals.fcr == IndicatorRules().goals.fcr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[goals.speed]\ntarget = 1\n", "goals: unknown keys ['speed']"),
        ("[goals.fcr]\ntarget = 'high'\n", "goals.fcr: target: expected a number, got 'high'"),
        ("[goals.nps]\nmargin = -1\n", "goals.nps: a goal's margin must not be negative"),
        ("[goals.fcr]\nhigher_is_better = 1\n", "goals.fcr: higher_is_better: expected true"),
        ("[calidad_mec]\nemitted = 0.5\n", "the quality weights must be non-negative and add up"),
        ("[nps]\npromoters_from = 3\n", "NPS bands must be"),
        ("[reincidencia]\nwindow_days = 0\n", "window_days: expected a whole number of at least 1"),
        ("[colors]\nred = 1\n", "unknown sections ['colors']"),
    ],
)
def test_bad_indicator_rules_say_where_and_what(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "indicators.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_indicator_rules(path)
    assert str(path) in str(caught.value)


def test_a_database_url_in_an_error_never_shows_its_password() -> None:
    """Issue: a non-PostgreSQL URL was echoed with its password."""
    from entrypoints.settings import SettingsError, load_settings

    settings = load_settings(environ={}, database_url="mysql://app:s3cr3t@db:3306/bo")
    with pytest.raises(SettingsError) as refused:
        _ = settings.backend
    assert "s3cr3t" not in str(refused.value)
    assert "mysql://app:***@db:3306/bo" in str(refused.value)


def test_a_line_rejection_repeats_no_phone_account_or_name() -> None:
    from adapters.intake.parsing import line_rejection

    assert "3104567890" not in line_rejection("3104567890")
    assert "Ana" not in line_rejection("Ana")
    assert "'satelital' is not" in line_rejection("satelital")


def test_the_pair_key_of_account_and_typification_cannot_collide() -> None:
    """Issue: a \\x1f in an account or typification attached one customer's contact to
    another's case. Neither may hold a control character now (an account is an account
    number), so the separator cannot occur inside either part."""
    from datetime import UTC, datetime

    from domain.case import decisions
    from domain.errors import InvalidValue
    from domain.values import INTAKE, Channel, LineOfBusiness, SourceKey

    at = datetime(2026, 12, 1, tzinfo=UTC)
    for account, typification, why in (("8\x1f9", "C", "is not an account number"),
                                       ("89", "B\x1fC", "must be one line")):  # fmt: skip
        with pytest.raises(InvalidValue, match=why):
            decisions.ingest(
                source=SourceKey(Channel.CRM, "K"), received_at=at, account=account,
                line=LineOfBusiness.HOGAR, customer_name="Ana", typification=typification,
                request="", follow_up_at=None, front_agent=None, recommended_by=None,
                actor=INTAKE, at=at,
            )  # fmt: skip


def test_rejections_repeat_no_account_or_phone_that_landed_in_a_date_or_score() -> None:
    """Issue: rejection messages repeated phones and accounts from shifted columns."""
    from adapters.intake.parsing import DateError, parse_datetime
    from adapters.intake.surveys import shown

    for value in ("310-456-7890", "80123456", "3104567890"):
        with pytest.raises(DateError) as refused:
            parse_datetime(value)
        assert value not in str(refused.value)
    assert shown("80123456") == "the value"
    assert shown("11") == "'11'"
    assert shown("07:00") == "'07:00'"
    with pytest.raises(DateError, match="'31/02/2026'"):
        parse_datetime("31/02/2026")
