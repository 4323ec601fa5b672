"""`backoffice keys new|id`: the keys of encryption at rest (docs/privacy.md, "Encryption at
rest"). Neither opens the store nor reads the settings.

Exit codes: 0 done; 2 bad input (a key that is not base64 of 32 bytes; its place is named,
the key never printed).
"""

from __future__ import annotations

import json
import sys

import typer

from domain.errors import InvalidValue
from entrypoints.cli.shared import HELP, JsonOption, app, err, out

keys_app = typer.Typer(
    no_args_is_help=True,
    context_settings=HELP,
    help="Encryption at rest: make a key, tell a key's id.",
)
app.add_typer(keys_app, name="keys")


@keys_app.command("new")
def new(as_json: JsonOption = False) -> None:
    """Print a new random AES-256 key (base64) for BACKOFFICE_ENCRYPTION_KEY; its id goes to
    standard error, so that `$(backoffice keys new)` captures the key alone."""
    from adapters.eventstore.cipher import key_id, new_key, read_key

    key = new_key()
    ident = key_id(read_key(key)).hex()
    if as_json:
        out.file.write(json.dumps({"key": key, "key_id": ident}) + "\n")
        return
    out.file.write(key + "\n")
    err.print(f"key id {ident}: keep the key apart from the database and its backups")


@keys_app.command("id")
def ids(as_json: JsonOption = False) -> None:
    """Read keys from standard input (one a line, or comma-separated) and print the id of
    each, the one that names it in stored events and in error messages."""
    from adapters.eventstore.cipher import key_id, read_key, split_keys

    found: list[str] = []
    for number, text in enumerate(split_keys(sys.stdin.read().replace("\n", ",")), 1):
        try:
            found.append(key_id(read_key(text)).hex())
        except ValueError as error:
            raise InvalidValue("standard input", f"key {number} is {error}") from None
    if not found:
        raise InvalidValue("standard input", "no key given")
    if as_json:
        out.file.write(json.dumps(found) + "\n")
        return
    out.file.write("".join(f"{ident}\n" for ident in found))
