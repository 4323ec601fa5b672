"""The demo's packaged data and the project's examples/ do not drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = ROOT / "src" / "entrypoints" / "demo_data"
SHARED = ["crm_export_sample.csv", "contact_matrix.toml", "markings.toml", "regulation.toml",
          "indicators.toml", "mail/01-recomendado-gerencia.eml",
          "mail/02-recomendado-vicepresidencia.eml"]  # fmt: skip


@pytest.mark.parametrize("name", SHARED)
def test_a_file_the_demo_shares_with_examples_is_the_same(name: str) -> None:
    assert (PACKAGED / name).read_bytes() == (ROOT / "examples" / name).read_bytes()


def test_every_example_mail_is_in_the_demo() -> None:
    examples = sorted(p.name for p in (ROOT / "examples" / "mail").iterdir())
    assert sorted(p.name for p in (PACKAGED / "mail").iterdir()) == examples
