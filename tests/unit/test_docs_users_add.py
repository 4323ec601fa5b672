"""Every `backoffice users add …` the documentation writes out is one the command takes: the
login as its argument, the role and the name as `--role` and `--name` (docs/console.md said
`users add LOGIN ROLE NAME`, which the command refuses). Each is parsed by the command itself,
placeholders and all, without running it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main
from typer._click.exceptions import UsageError

from entrypoints.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`]+)`")


def _written(text: str) -> list[str]:
    """What follows `users add` in each code span and each line of a fenced block, as one
    line (a span may wrap), without the optional parts (`[--password-stdin]`) and comments."""
    found: list[str] = []
    for block in FENCE.findall(text):
        found += [line.split(" # ")[0] for line in block.splitlines() if "users add" in line]
    for span in SPAN.findall(FENCE.sub("", text)):
        if "users add" in span:
            found.append(" ".join(span.split()))
    return [re.sub(r"\[[^\]]*\]", " ", line.split("users add", 1)[1]) for line in found]


def _usages() -> list[tuple[str, str]]:
    return [(path.name, args) for path in DOCS
            for args in _written(path.read_text("utf-8")) if args.strip()]  # fmt: skip


def test_the_docs_write_users_add_out_somewhere() -> None:
    assert {name for name, _ in _usages()} >= {"cli.md", "console.md", "http.md"}


@pytest.mark.parametrize(("doc", "args"), _usages())
def test_each_users_add_in_the_docs_is_one_the_command_takes(doc: str, args: str) -> None:
    add = typer.main.get_command(app).commands["users"].commands["add"]  # type: ignore[attr-defined]
    context = add.make_context("add", shlex.split(args))  # refuses what the command would
    assert context.params["role"], (doc, args)
    assert context.params["name"], (doc, args)


def test_the_command_refuses_the_role_and_name_as_arguments() -> None:
    add = typer.main.get_command(app).commands["users"].commands["add"]  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="Missing parameter: role"):
        add.make_context("add", ["LOGIN", "ROLE", "NAME"])  # as docs/console.md wrote it
    assert _written("the name (`backoffice users add LOGIN ROLE\n  NAME`), …") == [
        " LOGIN ROLE NAME"
    ]
