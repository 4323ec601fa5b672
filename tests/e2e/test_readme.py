"""The embedding example (docs/embedding.md) runs as written (on the in-memory backend)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_embedding_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "docs" / "embedding.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert "postgresql://app@db:5432/backoffice" in example
    monkeypatch.chdir(ROOT)
    exec(
        compile(example.replace("postgresql://app@db:5432/backoffice", "memory"), "README", "exec")
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "closing in first contact: typify the case (marking and resolution) first"
    assert printed[1:] == [
        "1 Ingested intake:intake",
        "2 RepeatContactRecorded intake:intake",
        "3 Assigned agent:maria.b",
        "4 Interpreted agent:maria.b",
    ]
