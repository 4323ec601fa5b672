"""`backoffice keys new` and `backoffice keys id` (encryption at rest, docs/privacy.md), as an
operator runs them: separate processes, the key handed to the store's processes in
`BACKOFFICE_ENCRYPTION_KEY` (the `encryption_key` setting), a real SQLite data folder."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from base64 import b64decode
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "crm_export_sample.csv"
SCRIPT = str(Path(sys.executable).parent / "backoffice")

FIXED_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
"""Bytes 0 to 31, in base64: a key whose id must never change (stored rows carry it)."""
FIXED_ID = "2e15837b"
ZERO_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
ZERO_ID = "63a2b618"
SHORT_KEY = "AAECAwQFBgcICQoLDA0ODw=="
"""Base64 of 16 bytes: an AES-128 key, not one for AES-256."""
MARKER = b"\x00\x01"
"""The first bytes of an encrypted row (docs/privacy.md, "Encryption at rest")."""
IN_THE_LOG = (b"cobro no reconocido", b"front.lrojas")
"""A typification and a front-office agent of the sample export: not personal data, so in the
events' payloads as they are when the store is not encrypted at rest."""
NO_KEY = "the store's events are encrypted and no encryption key is set"


def run(
    *args: str, stdin: str = "", key: str | None = None, data: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKOFFICE_", "PG"))}
    if key is not None:
        env["BACKOFFICE_ENCRYPTION_KEY"] = key
    folder = ["--data-dir", str(data)] if data is not None else []
    done = subprocess.run([SCRIPT, *folder, *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120, check=False)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done


def new_key() -> tuple[str, str]:
    """`keys new`: the key (stdout, alone, as `$(backoffice keys new)` takes it) and the id
    it says on stderr."""
    done = run("keys", "new")
    assert done.returncode == 0, done.stderr
    [key] = done.stdout.splitlines()
    said = re.fullmatch(
        r"key id ([0-9a-f]{8}): keep the key apart from the database and its backups\n",
        done.stderr,
    )
    assert said is not None, done.stderr
    return key, said.group(1)


def key_ids(stdin: str, *options: str) -> str:
    """What `keys id` prints for `stdin`; it must succeed and say nothing on stderr."""
    done = run("keys", "id", *options, stdin=stdin)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout


def stored_rows(data: Path) -> list[bytes]:
    """The log's stored rows, in order."""
    conn = sqlite3.connect(data / "cases.sqlite")
    try:
        rows = conn.execute("SELECT state FROM stored_events ORDER BY rowid").fetchall()
    finally:
        conn.close()
    return [bytes(state) for (state,) in rows]


def on_disk(data: Path) -> bytes:
    """The raw bytes of the log's SQLite database, with its write-ahead log if one is left."""
    return b"".join(path.read_bytes() for path in sorted(data.glob("cases.sqlite*")))


def test_a_new_key_is_taken_as_the_encryption_key_and_the_store_is_then_encrypted(
    tmp_path: Path,
) -> None:
    key, ident = new_key()
    assert key_ids(key + "\n") == f"{ident}\n"  # `keys id` names it as `keys new` did
    encrypted, clear = tmp_path / "cifrado", tmp_path / "claro"
    for data, given in ((encrypted, key), (clear, None)):
        done = run("ingest", str(SAMPLE), key=given, data=data)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("read 8 · created 7"), done.stdout

    rows = stored_rows(encrypted)
    assert len(rows) >= 7
    assert all(row.startswith(MARKER + bytes.fromhex(ident)) for row in rows)
    assert not any(row.startswith(MARKER) for row in stored_rows(clear))
    for text in IN_THE_LOG:
        assert text in on_disk(clear), text  # where the key is not given, the text is there
        assert text not in on_disk(encrypted), text

    without = run("case", "show", "CRM-260001", data=encrypted)
    assert without.returncode == 5
    assert without.stdout == ""
    [line] = without.stderr.splitlines()
    assert line.startswith("error: storage unavailable: cannot decode stored event ")
    assert NO_KEY in line

    other, other_id = new_key()
    wrong = run("case", "show", "CRM-260001", key=other, data=encrypted)
    assert wrong.returncode == 5
    [line] = wrong.stderr.splitlines()
    assert f"encrypted with key {ident}, which is not among the keys set ({other_id})" in line
    assert key not in line
    assert other not in line

    right = run("case", "show", "CRM-260001", key=key, data=encrypted)
    assert right.returncode == 0, right.stderr
    assert "crm:CRM-260001" in right.stdout


def test_each_new_key_is_another_random_aes_256_key() -> None:
    (first, first_id), (second, second_id) = new_key(), new_key()
    done = run("keys", "new", "--json")
    assert done.returncode == 0, done.stderr
    third = json.loads(done.stdout)
    assert set(third) == {"key", "key_id"}
    keys = [first, second, third["key"]]
    assert len(set(keys)) == 3
    assert len({first_id, second_id, third["key_id"]}) == 3
    assert all(len(b64decode(k, validate=True)) == 32 for k in keys)
    assert key_ids(third["key"]) == f"{third['key_id']}\n"


def test_keys_id_names_a_given_key_the_same_way_every_time() -> None:
    assert key_ids(FIXED_KEY) == f"{FIXED_ID}\n"
    assert key_ids(f"  {FIXED_KEY}  \n\n") == f"{FIXED_ID}\n"
    both = f"{FIXED_ID}\n{ZERO_ID}\n"
    assert key_ids(f"{FIXED_KEY}\n{ZERO_KEY}\n") == both
    assert key_ids(f"{FIXED_KEY}, {ZERO_KEY}") == both
    assert json.loads(key_ids(f"{ZERO_KEY}\n{FIXED_KEY}\n", "--json")) == [ZERO_ID, FIXED_ID]


@pytest.mark.parametrize(
    ("stdin", "line"),
    [
        ("not a key!\n", "error: standard input: key 1 is not base64"),
        ("clé-ñandú\n", "error: standard input: key 1 is not base64"),
        (
            f"{FIXED_KEY}\n{SHORT_KEY}\n",
            "error: standard input: key 2 is 16 bytes once decoded, not 32 (AES-256)",
        ),
        ("", "error: standard input: no key given"),
        (" \n,\n", "error: standard input: no key given"),
    ],
)
def test_keys_id_refuses_a_malformed_key_in_one_line_with_exit_2(stdin: str, line: str) -> None:
    done = run("keys", "id", stdin=stdin)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == line + "\n"
    assert SHORT_KEY not in done.stderr
    assert FIXED_KEY not in done.stderr
