"""Configuration as data: shipped examples load; bad files name the file, key and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.config_files import ConfigError, load_markings, load_regulation
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
    assert catalogue["SOP-01"].category is Category.SOPORTE


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
