"""The register of reads of personal data (`adapters.read_register`), the same checks on every
backend: what is recorded comes back with its id, oldest first, narrowed by case, reader and
time, a page at a time past many reads of one moment; many reads go in one call; it survives
reopening; on SQLite its file is the owner's only."""

from __future__ import annotations

import csv
import io
import json
import stat
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapters.read_register import MemoryReadRegister, SqlReadRegister
from application.ports.reads import MAX_READ_ID, PersonalRead, ReadRegister, UnknownRead
from entrypoints.bootstrap import bootstrap, read_register
from entrypoints.cli import main
from entrypoints.settings import Settings, load_settings
from tests.conftest import BACKENDS, T0, record

A, B, C = (uuid.uuid5(uuid.NAMESPACE_URL, f"case-{n}") for n in "abc")


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else request.param
    return load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)


@pytest.fixture
def register(settings: Settings) -> Iterator[MemoryReadRegister | SqlReadRegister]:
    opened = read_register(settings)
    try:
        yield opened
    finally:
        opened.close()


def _read(
    minutes: int, reader: str, case_id: uuid.UUID, through: str = "GET /cases/{x}"
) -> PersonalRead:
    return PersonalRead(at=T0 + timedelta(minutes=minutes), reader=reader, case_id=case_id,
                        through=through)  # fmt: skip


SEVERAL = [
    _read(5, "maria.b", A),
    _read(1, "sofia.t", B, "console:case"),
    _read(3, "maria.b", C, "GET /cases?search"),
    _read(3, "audit.a", A, "console:replay"),
]


def test_what_is_recorded_comes_back_oldest_first(register: ReadRegister) -> None:
    assert isinstance(register, ReadRegister)
    assert register.reads() == []
    register.record(SEVERAL)
    got = register.reads()
    assert [(r.at, r.reader, r.case_id, r.through) for r in got] == [
        (T0 + timedelta(minutes=1), "sofia.t", B, "console:case"),
        (T0 + timedelta(minutes=3), "maria.b", C, "GET /cases?search"),
        (T0 + timedelta(minutes=3), "audit.a", A, "console:replay"),  # same moment: as recorded
        (T0 + timedelta(minutes=5), "maria.b", A, "GET /cases/{x}"),
    ]
    assert all(r.at.utcoffset() == timedelta(0) for r in got)
    ids = [r.id for r in got if r.id is not None]  # the row ids: B, C, A (min 3), A (min 5)
    assert len(set(ids)) == 4
    first, second, third, fourth = ids
    assert second == first + 1
    assert third == first + 2  # recorded as SEVERAL[1], [2], [3]
    assert fourth == first - 1  # SEVERAL[0], recorded first, listed last (the latest moment)


def _paged(
    register: ReadRegister, size: int, *, since: datetime | None = None, reader: str | None = None
) -> list[list[PersonalRead]]:
    """Every page of `size` reads, each after the last read of the one before."""
    pages: list[list[PersonalRead]] = []
    after = None
    while True:
        page = list(register.reads(since=since, reader=reader, after=after, limit=size))
        if not page:
            return pages
        pages.append(page)
        after = page[-1].id


def test_many_reads_of_one_moment_are_paged_through_by_id(register: ReadRegister) -> None:
    """A search's (or a stream batch's) reads share their moment: `since` and `limit` alone
    would give the same first page again and again; `after` the last id steps past it."""
    cases = [uuid.uuid5(uuid.NAMESPACE_URL, f"batch-{n}") for n in range(8)]
    register.record([_read(2, "sofia.t", case_id, "GET /cases?search") for case_id in cases])
    register.record(SEVERAL)  # earlier, equal and later moments, recorded after the batch
    whole = list(register.reads())
    assert [r.at for r in whole] == sorted(r.at for r in whole)
    batch = [r.id or 0 for r in whole if r.case_id in cases]
    assert batch == sorted(batch)  # the same moment: in recording order
    assert len(set(batch)) == 8
    since = T0 + timedelta(minutes=2)
    assert [r.case_id for r in register.reads(since=since, limit=3)] == cases[:3]
    assert [r.case_id for r in register.reads(since=since, limit=3)] == cases[:3]  # stuck
    pages = _paged(register, 3, since=since)
    assert [len(page) for page in pages] == [3, 3, 3, 2]  # 8 at 2 min, 2 at 3 min, 1 at 5
    flat = [r for page in pages for r in page]
    assert flat == [r for r in whole if r.at >= since]  # each once, none skipped, in order
    assert [r.case_id for r in flat[:8]] == cases
    assert _paged(register, 5) == [whole[:5], whole[5:10], whole[10:]]
    mine = _paged(register, 2, reader="sofia.t")  # narrowed as well as paged
    assert [r.case_id for page in mine for r in page] == [B, *cases]
    # After a read the narrowing leaves out, from its place on: the reads after it.
    last_of_batch = whole[8]
    assert last_of_batch.case_id == cases[-1]
    after = register.reads(after=whole[8].id, reader="maria.b")
    assert [(r.case_id, r.at) for r in after] == [(C, T0 + timedelta(minutes=3)),
                                                  (A, T0 + timedelta(minutes=5))]  # fmt: skip
    assert register.reads(after=whole[-1].id) == []


def test_a_page_after_a_read_the_register_does_not_have_is_refused(
    register: ReadRegister,
) -> None:
    register.record(SEVERAL)
    ids = [r.id for r in register.reads()]
    missing = max(n for n in ids if n is not None) + 1
    for wrong in (missing, 0, -1, MAX_READ_ID, MAX_READ_ID + 1):
        with pytest.raises(UnknownRead, match=f"no read has id {wrong}"):
            register.reads(after=wrong)


def test_reads_are_narrowed_by_case_reader_and_time(register: ReadRegister) -> None:
    register.record(SEVERAL)
    assert [r.reader for r in register.reads(case_ids=[A])] == ["audit.a", "maria.b"]
    assert {r.case_id for r in register.reads(case_ids={A, B})} == {A, B}
    assert register.reads(case_ids=[]) == []
    assert register.reads(case_ids=[uuid.uuid4()]) == []
    assert [r.case_id for r in register.reads(reader="maria.b")] == [C, A]
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=5)
    window = register.reads(since=since, until=until)  # since included, until excluded
    assert [r.case_id for r in window] == [C, A]
    assert [r.case_id for r in register.reads(reader="maria.b", since=since, until=until)] == [C]
    assert [r.case_id for r in register.reads(case_ids=[A], reader="maria.b")] == [A]
    assert [r.reader for r in register.reads(limit=2)] == ["sofia.t", "maria.b"]
    assert len(register.reads(limit=10**20)) == 4  # beyond a 64-bit LIMIT: every read


def test_a_page_of_reads_goes_in_one_call(register: ReadRegister) -> None:
    cases = [uuid.uuid4() for _ in range(1_203)]  # more than one SQLite statement's rows
    register.record([_read(0, "audit.a", case_id, "GET /cases?search") for case_id in cases])
    register.record([])
    got = register.reads(reader="audit.a")
    assert sorted(r.case_id for r in got) == sorted(cases)
    assert len(register.reads(case_ids=cases[:700])) == 700


STORED = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("settings", STORED, indirect=True)
def test_the_register_outlives_its_process_apart_from_the_log(settings: Settings) -> None:
    first = read_register(settings)
    first.record(SEVERAL[:2])
    first.close()
    again = read_register(settings)
    try:
        assert [r.case_id for r in again.reads()] == [B, A]
    finally:
        again.close()
    if settings.backend == "sqlite":
        path = settings.data_dir / "personal_reads.sqlite"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not (settings.data_dir / "cases.sqlite").exists()  # nothing of the log


@pytest.mark.parametrize("settings", STORED, indirect=True)
def test_the_auditor_exports_the_register_on_the_command_line(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with bootstrap(settings) as office:
        office.ingest([record("R-1")])
        case = office.case("R-1").case_id
        key = str(office.case("R-1").source)  # what the exports name the case by
    register = read_register(settings)
    register.record([_read(0, "maria.b", case, "console:case"), _read(2, "sofia.t", A)])
    register.close()
    args = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url]

    def run(*more: str, code: int = 0) -> tuple[str, str]:
        capsys.readouterr()
        assert main([*args, "audit", "reads", *more]) == code
        got = capsys.readouterr()
        return got.out, got.err

    table, _ = run()
    assert "Reads of personal data (2)" in table
    assert " id " in table.splitlines()[2]  # the header: each read's id, to page with --after
    assert "2026-07-15 09:00:00" in table  # Bogotá time
    assert "maria.b" in table
    assert "console:case" in table
    assert key in table  # the case by its key; one the index does not know, by its id
    assert str(A) in table
    rows = json.loads(run("--json")[0])
    one, two = rows[0]["id"], rows[1]["id"]
    assert isinstance(one, int)
    assert two == one + 1
    first = {"id": one, "at": T0.isoformat(), "reader": "maria.b", "case": key,
             "case_id": str(case), "through": "console:case"}  # fmt: skip
    assert rows == [
        first,
        {"id": two, "at": (T0 + timedelta(minutes=2)).isoformat(), "reader": "sofia.t",
         "case": "", "case_id": str(A), "through": "GET /cases/{x}"},
    ]  # fmt: skip
    assert json.loads(run("--json", "--after", str(one))[0]) == rows[1:]
    assert json.loads(run("--json", "--after", str(two))[0]) == []
    _, unknown = run("--after", str(two + 1), code=2)
    assert unknown.startswith(f"error: --after: no read has id {two + 1}")
    assert [r["reader"] for r in json.loads(run("--json", "--case", "R-1")[0])] == ["maria.b"]
    assert [r["reader"] for r in json.loads(run("--json", "--case", str(A))[0])] == ["sofia.t"]
    assert [r["reader"] for r in json.loads(run("--json", "--reader", "sofia.t")[0])] == ["sofia.t"]
    assert len(json.loads(run("--json", "--since", "2026-07-15", "--until", "15/07/2026")[0])) == 2
    assert json.loads(run("--json", "--until", "2026-07-14")[0]) == []
    after = json.loads(run("--json", "--since", "2026-07-15 09:01")[0])  # Bogotá
    assert [r["reader"] for r in after] == ["sofia.t"]
    download = list(csv.DictReader(io.StringIO(run("--csv", "--limit", "1")[0])))
    assert download == [{**first, "id": str(one)}]
    header = run("--csv", "--until", "2026-07-14")[0]
    assert header.strip() == "id,at,reader,case,case_id,through"  # no reads, the same columns
    _, why = run("--since", "ayer", code=2)
    assert why.startswith("error: --since:")
    assert "Traceback" not in why
    assert run("--json", "--csv", code=2)[1].startswith("error: --csv:")
    assert run("--case", "R-404", code=3)[1].startswith("error:")
