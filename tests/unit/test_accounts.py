"""Accounts, sign-in and tokens (`application.access.accounts`): the rules, on the memory store,
with Argon2 at its cheapest and a fixed clock (T0: 09:00 in Bogotá, 15 July 2026). The roster's
rules are checked both ways: asked on every check, and kept between checks against the log's
news (`RosterWatch`); the reads each check makes are counted."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from datetime import date, timedelta
from typing import Any, cast

import argon2
import pytest

from adapters.accounts import Argon2Hasher, MemoryAccountStore
from adapters.clock import FixedClock
from application.access.accounts import Accounts, Principal, RosterWatch, SignInRefused
from application.ports.accounts import AccessRole, Account, LogNews, TokenRecord
from application.ports.cases import LoggedEvent
from domain.errors import InvalidValue, RuleViolation
from domain.team.roster import (
    AgentState,
    Role,
    enrol,
    fold_agent,
    fold_agent_onto,
    leave,
)
from domain.values import Actor, ActorKind
from tests.conftest import T0

PASSWORD = "correct horse battery"
OTHER = "not the password at all"
WRONG = "login or password is wrong"
HR = Actor(ActorKind.INTAKE, "nomina")


class CountingHasher:
    """Argon2 at its cheapest, counting the verifications."""

    def __init__(self) -> None:
        self.inner = Argon2Hasher(argon2.profiles.CHEAPEST)
        self.verified = 0

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return self.inner.verify(password_hash, password)


class Log:
    """The log as the account check reads it, counting the reads: its head and the events
    of some kinds after a position (`last_position`, `read_log`: two reads)."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.reads = 0

    def last_position(self) -> int:
        self.reads += 1
        return len(self.events)

    def read_log(
        self, after: int, limit: int, *, through: int | None = None, kinds: object = None
    ) -> list[LoggedEvent]:
        self.reads += 1
        return self.found(after, through, kinds)[:limit]

    def found(self, after: int, through: int | None, kinds: object) -> list[LoggedEvent]:
        assert isinstance(kinds, tuple)
        last = len(self.events) if through is None else through
        return [
            LoggedEvent(n, cast(Any, e))
            for n, e in enumerate(self.events[after:last], start=after + 1)
            if isinstance(e, kinds)
        ]


class NewsLog(Log):
    """A log that also answers its news in one read (`log_news`), as the event store does."""

    def log_news(self, after: int, kinds: Collection[type[object]]) -> LogNews:
        self.reads += 1
        return self.news(after, kinds)

    def news(self, after: int, kinds: Collection[type[object]]) -> LogNews:
        found = self.found(after, None, tuple(kinds))
        first = found[0].position if found else None
        return LogNews(after=after, head=len(self.events), first=first)


class Roster:
    """A roster the tests set: its people, whether one is in use, and the log its events go
    to; `state` is the roster's state of a login, counting the reads of its stream."""

    def __init__(self) -> None:
        self.people: dict[str, AgentState] = {}
        self.in_use = False
        self.log = NewsLog()
        self.reads = 0

    def state(self, login: str) -> AgentState | None:
        self.reads += 1
        return self.people.get(login)

    def join(self, login: str, role: Role, since: date = date(2026, 1, 5)) -> None:
        events = enrol(None, agent=login, team="Hogar 1", role=role, since=since, actor=HR, at=T0)
        state = fold_agent(events)
        assert state is not None
        self.people[login] = state
        self.in_use = True
        self.log.events += events

    def leave(self, login: str, left_on: date) -> None:
        state = self.people[login]
        events = leave(state, left_on=left_on, reason="renuncia", actor=HR, at=T0)
        left = fold_agent_onto(state, events)
        assert left is not None
        self.people[login] = left
        self.log.events += events


class CountingStore(MemoryAccountStore):
    """The memory store, counting the reads a check makes."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, login: str) -> Account | None:
        self.reads += 1
        return super().get(login)

    def token(self, token_id: str) -> TokenRecord | None:
        self.reads += 1
        return super().token(token_id)

    def get_with_news(
        self, login: str, news_after: int | None
    ) -> tuple[Account | None, LogNews | None]:
        self.reads += 1
        return super().get_with_news(login, news_after)

    def token_with_account(
        self, token_id: str, news_after: int | None
    ) -> tuple[TokenRecord | None, Account | None, LogNews | None]:
        self.reads += 1
        return super().token_with_account(token_id, news_after)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def store() -> MemoryAccountStore:
    return MemoryAccountStore()


@pytest.fixture
def roster() -> Roster:
    return Roster()


@pytest.fixture(params=["asked", "watched"])
def accounts(
    request: pytest.FixtureRequest,
    store: MemoryAccountStore,
    hasher: CountingHasher,
    clock: FixedClock,
    roster: Roster,
) -> Accounts:
    """Asked: the roster on every check (no log); watched: kept against the log's news."""
    log = cast(Any, roster.log) if request.param == "watched" else None
    return Accounts(store, hasher, clock, roster.state, lambda: roster.in_use, log=log)


def refused(reason: str) -> pytest.RaisesExc[SignInRefused]:
    return pytest.raises(SignInRefused, match=f"^{re.escape(reason)}$")


# --- adding accounts -------------------------------------------------------------------------


def test_an_account_keeps_a_hash_of_its_password_never_the_password(
    accounts: Accounts, store: MemoryAccountStore
) -> None:
    added = accounts.add("maria.b", "agent", "María Báez", PASSWORD)
    assert added.role is AccessRole.AGENT
    assert (added.created_at, added.updated_at) == (T0, T0)
    kept = store.get("maria.b")
    assert kept == added
    assert kept.password_hash is not None
    assert kept.password_hash.startswith("$argon2id$")
    assert PASSWORD not in repr(kept)
    assert accounts.list() == [added]


@pytest.mark.parametrize(
    "login", ["", "Maria.B", "maria b", "maria\nb", "maría", "a" * 65, "x@y", " maria"]
)
def test_a_login_is_one_line_of_lower_case_letters_digits_and_dot_dash_underscore(
    accounts: Accounts, login: str
) -> None:
    with pytest.raises(InvalidValue, match=r"^login: 1 to 64 lower-case"):
        accounts.add(login, "agent", "Someone", PASSWORD)


def test_the_login_name_and_role_are_checked(accounts: Accounts) -> None:
    assert accounts.add("a" * 64, "auditor", "Auditor", PASSWORD).login == "a" * 64
    accounts.add("maria.b", AccessRole.AGENT, "María", PASSWORD)
    with pytest.raises(RuleViolation, match=r"^an account maria.b exists already$"):
        accounts.add("maria.b", "supervisor", "Otra María", PASSWORD)
    with pytest.raises(InvalidValue, match=r"^role: 'boss' is not one of: agent, supervisor"):
        accounts.add("boss", "boss", "Boss", PASSWORD)
    with pytest.raises(InvalidValue, match=r"^name: must not be empty$"):
        accounts.add("nobody", "agent", "  ", PASSWORD)
    with pytest.raises(InvalidValue, match=r"^name: must be one line"):
        accounts.add("two.lines", "agent", "Two\nLines", PASSWORD)


def test_a_person_needs_a_password_of_12_characters_and_an_integration_none(
    accounts: Accounts,
) -> None:
    short = "elevenchars"
    with pytest.raises(InvalidValue) as error:
        accounts.add("maria.b", "agent", "María", short)
    assert str(error.value) == "password: must be at least 12 characters"
    assert short not in str(error.value)
    with pytest.raises(InvalidValue, match=r"^password: the role manager needs one$"):
        accounts.add("jefe", "manager", "Jefe", None)
    with pytest.raises(InvalidValue, match=r"^password: an integration has none: it uses tokens"):
        accounts.add("crm", "integration", "CRM", PASSWORD)
    crm = accounts.add("crm", "integration", "The CRM", None)
    assert crm.password_hash is None
    assert accounts.add("maria.b", "agent", "María", "twelve chars").login == "maria.b"


def test_disable_enable_and_reset_need_an_existing_account(accounts: Accounts) -> None:
    for action in (accounts.disable, accounts.enable):
        with pytest.raises(RuleViolation, match=r"^no account ghost$"):
            action("ghost")
    with pytest.raises(RuleViolation, match=r"^no account ghost$"):
        accounts.reset("ghost", PASSWORD)


# --- signing in ------------------------------------------------------------------------------


def test_signing_in_gives_the_principal_of_the_account(accounts: Accounts) -> None:
    accounts.add("laura.s", "supervisor", "Laura Suárez", PASSWORD)
    principal = accounts.sign_in("laura.s", PASSWORD)
    assert principal == Principal(
        login="laura.s", role=AccessRole.SUPERVISOR, name="Laura Suárez", scope=None
    )
    assert principal.actor == Actor.agent("laura.s")
    assert accounts.principal("laura.s") == principal


def test_an_unknown_login_and_a_wrong_password_get_the_same_answer_after_the_same_work(
    accounts: Accounts, hasher: CountingHasher
) -> None:
    accounts.add("maria.b", "agent", "María", PASSWORD)
    accounts.add("crm", "integration", "The CRM", None)
    for login, password in [
        ("maria.b", OTHER),
        ("nobody", PASSWORD),
        ("Not A Login\n", PASSWORD),
        ("crm", PASSWORD),  # an integration signs in with no password
    ]:
        before = hasher.verified
        with refused(WRONG):
            accounts.sign_in(login, password)
        assert hasher.verified == before + 1, login


def test_five_failures_in_a_row_lock_the_account_for_15_minutes(
    accounts: Accounts, clock: FixedClock, hasher: CountingHasher, store: MemoryAccountStore
) -> None:
    accounts.add("maria.b", "agent", "María", PASSWORD)
    for _ in range(5):  # the fifth locks the account, and says no more than the others
        with refused(WRONG):
            accounts.sign_in("maria.b", OTHER)
    locked = store.get("maria.b")
    assert locked is not None
    assert locked.locked_until == T0 + timedelta(minutes=15)
    clock.advance(timedelta(minutes=14, seconds=59))
    verified = hasher.verified
    with refused(WRONG):  # the right password: refused as a wrong one, the guessing ends
        accounts.sign_in("maria.b", PASSWORD)
    assert hasher.verified == verified + 1  # after the same work as any attempt
    clock.advance(timedelta(seconds=1))
    assert accounts.sign_in("maria.b", PASSWORD).login == "maria.b"
    again = store.get("maria.b")
    assert again is not None
    assert (again.failed_attempts, again.locked_until) == (0, None)


def test_after_a_lock_out_ends_five_more_failures_are_needed(
    accounts: Accounts, clock: FixedClock
) -> None:
    accounts.add("maria.b", "agent", "María", PASSWORD)
    for _ in range(5):
        with pytest.raises(SignInRefused):
            accounts.sign_in("maria.b", OTHER)
    clock.advance(timedelta(minutes=15))
    for _ in range(4):
        with refused(WRONG):
            accounts.sign_in("maria.b", OTHER)
    assert accounts.sign_in("maria.b", PASSWORD).login == "maria.b"  # four: not locked
    for _ in range(5):
        with refused(WRONG):
            accounts.sign_in("maria.b", OTHER)
    with refused(WRONG):
        accounts.sign_in("maria.b", PASSWORD)  # five: locked again


def test_a_success_resets_the_count_of_failures(accounts: Accounts) -> None:
    accounts.add("maria.b", "agent", "María", PASSWORD)
    for _ in range(4):
        with refused(WRONG):
            accounts.sign_in("maria.b", OTHER)
    accounts.sign_in("maria.b", PASSWORD)
    for _ in range(4):
        with refused(WRONG):
            accounts.sign_in("maria.b", OTHER)
    assert accounts.sign_in("maria.b", PASSWORD).login == "maria.b"


def test_attempts_made_at_once_get_no_more_guesses_than_the_limit(
    accounts: Accounts, store: MemoryAccountStore, hasher: CountingHasher
) -> None:
    """Five attempts still being checked (counted, not yet answered): a sixth, even with
    the right password, is refused as a wrong one (after the same work)."""
    accounts.add("maria.b", "agent", "María", PASSWORD)
    for _ in range(5):
        store.count_attempt("maria.b", T0)
    verified = hasher.verified
    with refused(WRONG):
        accounts.sign_in("maria.b", PASSWORD)
    assert hasher.verified == verified + 1


def test_a_reset_gives_a_new_password_and_ends_a_lock_out(
    accounts: Accounts, clock: FixedClock
) -> None:
    accounts.add("maria.b", "agent", "María", PASSWORD)
    for _ in range(5):
        with pytest.raises(SignInRefused):
            accounts.sign_in("maria.b", OTHER)
    clock.advance(timedelta(minutes=1))
    reset = accounts.reset("maria.b", OTHER)
    assert (reset.failed_attempts, reset.locked_until, reset.updated_at) == (0, None, clock.now())
    with refused(WRONG):
        accounts.sign_in("maria.b", PASSWORD)
    assert accounts.sign_in("maria.b", OTHER).login == "maria.b"
    with pytest.raises(InvalidValue, match=r"^password: must be at least 12"):
        accounts.reset("maria.b", "short")
    accounts.add("crm", "integration", "The CRM", None)
    with pytest.raises(InvalidValue, match=r"^password: an integration has none"):
        accounts.reset("crm", PASSWORD)


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(
    accounts: Accounts, hasher: CountingHasher
) -> None:
    accounts.add("maria.b", "agent", "María", PASSWORD)
    accounts.sign_in("maria.b", PASSWORD)
    assert accounts.disable("maria.b").disabled
    assert accounts.disable("maria.b").disabled  # again: nothing changes
    verified = hasher.verified
    with refused("the account is disabled"):  # told only to whoever knows the password
        accounts.sign_in("maria.b", PASSWORD)
    assert hasher.verified == verified + 1
    with refused(WRONG):
        accounts.sign_in("maria.b", OTHER)
    with refused("the account is disabled"):
        accounts.principal("maria.b")
    assert not accounts.enable("maria.b").disabled
    assert accounts.principal("maria.b").login == "maria.b"
    with refused("no account 'ghost'"):
        accounts.principal("ghost")


def test_no_answer_tells_a_login_or_its_state_without_its_password(
    accounts: Accounts, clock: FixedClock, hasher: CountingHasher, store: MemoryAccountStore
) -> None:
    """Whatever state an account is in (unknown, locked out, being guessed at once, disabled,
    an integration), a wrong password gets the same answer after the same work (one check),
    and the failures still count."""
    accounts.add("locked.l", "agent", "Locked", PASSWORD)
    accounts.add("busy.b", "agent", "Busy", PASSWORD)
    accounts.add("off.o", "agent", "Off", PASSWORD)
    accounts.add("crm", "integration", "The CRM", None)
    accounts.disable("off.o")
    for _ in range(5):
        with refused(WRONG):
            accounts.sign_in("locked.l", OTHER)
    for _ in range(5):
        store.count_attempt("busy.b", T0)
    for login in ("nobody", "locked.l", "busy.b", "off.o", "crm", "Not A Login"):
        before = hasher.verified
        with refused(WRONG):
            accounts.sign_in(login, OTHER)
        assert hasher.verified == before + 1, login
    off = store.get("off.o")
    assert off is not None
    assert off.failed_attempts == 1  # a disabled account's failures count too
    for _ in range(4):
        with refused(WRONG):
            accounts.sign_in("off.o", OTHER)
    with refused(WRONG):  # locked out: not even told it is disabled
        accounts.sign_in("off.o", PASSWORD)
    clock.advance(timedelta(minutes=15))
    with refused("the account is disabled"):
        accounts.sign_in("off.o", PASSWORD)


# --- the roster ------------------------------------------------------------------------------


def test_without_a_roster_the_accounts_role_holds(accounts: Accounts) -> None:
    accounts.add("maria.b", "supervisor", "María", PASSWORD)
    assert accounts.sign_in("maria.b", PASSWORD).role is AccessRole.SUPERVISOR


def test_the_rosters_role_of_the_day_takes_precedence(accounts: Accounts, roster: Roster) -> None:
    accounts.add("maria.b", "agent", "María", PASSWORD)
    roster.join("maria.b", Role.SUPERVISOR)
    assert accounts.sign_in("maria.b", PASSWORD).role is AccessRole.SUPERVISOR
    assert accounts.principal("maria.b").role is AccessRole.SUPERVISOR


def test_someone_who_left_the_roster_cannot_sign_in_nor_keep_a_session(
    accounts: Accounts, roster: Roster, clock: FixedClock
) -> None:
    accounts.add("juan.r", "agent", "Juan", PASSWORD)
    roster.join("juan.r", Role.AGENT)
    roster.leave("juan.r", date(2026, 7, 15))  # today is the last day: still in
    assert accounts.sign_in("juan.r", PASSWORD).role is AccessRole.AGENT
    clock.advance(timedelta(days=1))
    with refused("not on the team's roster today (left on 2026-07-15)"):
        accounts.sign_in("juan.r", PASSWORD)
    with refused("not on the team's roster today (left on 2026-07-15)"):
        accounts.principal("juan.r")
    with refused(WRONG):  # a wrong password says nothing of the roster
        accounts.sign_in("juan.r", OTHER)


def test_a_person_never_on_the_roster_is_refused_once_one_is_in_use(
    accounts: Accounts, roster: Roster
) -> None:
    accounts.add("nuevo", "agent", "Nuevo", PASSWORD)
    accounts.add("auditora", "auditor", "Auditora", PASSWORD)
    roster.join("maria.b", Role.AGENT)
    with refused("not on the team's roster today"):
        accounts.sign_in("nuevo", PASSWORD)
    roster.join("futuro", Role.AGENT, since=date(2026, 8, 1))
    accounts.add("futuro", "agent", "Futuro", PASSWORD)
    with refused("not on the team's roster today"):
        accounts.sign_in("futuro", PASSWORD)
    # the roster says nothing of those who are not on it by their role
    assert accounts.sign_in("auditora", PASSWORD).role is AccessRole.AUDITOR


# --- tokens ----------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_kept_as_a_digest(
    accounts: Accounts, store: MemoryAccountStore
) -> None:
    accounts.add("crm", "integration", "The CRM", None)
    record, secret = accounts.issue_token("crm", "intake")
    assert re.fullmatch(r"bo_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", secret)
    assert secret.startswith(f"bo_{record.token_id}_")
    assert record.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert (record.login, record.scope, record.created_at, record.revoked_at) == (
        "crm", "intake", T0, None,
    )  # fmt: skip
    kept = store.token(record.token_id)
    assert kept == record
    random_part = secret.split("_", 2)[2]  # the secret itself may hold "_"
    assert random_part not in repr(store.tokens())
    assert accounts.tokens() == [record]
    second, other = accounts.issue_token("crm", "intake")
    assert (second.token_id, other) != (record.token_id, secret)


def test_a_token_authenticates_as_its_account_within_its_scope(accounts: Accounts) -> None:
    accounts.add("crm", "integration", "The CRM", None)
    accounts.add("laura.s", "supervisor", "Laura", PASSWORD)
    _, secret = accounts.issue_token("crm", "intake")
    principal = accounts.authenticate_token(secret)
    assert principal == Principal(
        login="crm", role=AccessRole.INTEGRATION, name="The CRM", scope="intake"
    )
    assert principal.actor == Actor(ActorKind.INTAKE, "crm")
    _, script = accounts.issue_token("laura.s", "read")
    person = accounts.authenticate_token(script)
    assert (person.role, person.scope, person.actor) == (
        AccessRole.SUPERVISOR, "read", Actor.agent("laura.s"),
    )  # fmt: skip


def test_a_wrong_or_malformed_token_is_not_valid(accounts: Accounts) -> None:
    accounts.add("crm", "integration", "The CRM", None)
    record, secret = accounts.issue_token("crm", "all")
    last = "A" if secret[-1] != "A" else "B"
    unknown_id = f"bo_{'0' * 12}_{secret.split('_', 2)[2]}"
    for wrong in ["", "bo_", secret[:-1], secret[:-1] + last, secret + "x", unknown_id,
                  secret.upper(), f"Bearer {secret}", record.digest]:  # fmt: skip
        with refused("the token is not valid"):
            accounts.authenticate_token(wrong)


def test_a_revoked_token_no_longer_works(accounts: Accounts, clock: FixedClock) -> None:
    accounts.add("crm", "integration", "The CRM", None)
    record, secret = accounts.issue_token("crm", "intake")
    kept, other = accounts.issue_token("crm", "intake")
    clock.advance(timedelta(hours=1))
    accounts.revoke_token(record.token_id)
    with refused("the token was revoked"):
        accounts.authenticate_token(secret)
    assert accounts.authenticate_token(other).login == "crm"
    accounts.revoke_token(record.token_id)  # again: nothing changes
    revoked = {t.token_id: t.revoked_at for t in accounts.tokens()}
    assert revoked == {record.token_id: T0 + timedelta(hours=1), kept.token_id: None}
    with pytest.raises(RuleViolation, match=r"^no token 'nope'$"):
        accounts.revoke_token("nope")


def test_a_token_follows_its_account_disabled_or_gone_from_the_roster(
    accounts: Accounts, roster: Roster, clock: FixedClock
) -> None:
    accounts.add("juan.r", "agent", "Juan", PASSWORD)
    _, secret = accounts.issue_token("juan.r", "all")
    accounts.disable("juan.r")
    with refused("the account is disabled"):
        accounts.authenticate_token(secret)
    accounts.enable("juan.r")
    roster.join("juan.r", Role.AGENT)
    roster.leave("juan.r", date(2026, 7, 10))
    with refused("not on the team's roster today (left on 2026-07-10)"):
        accounts.authenticate_token(secret)


def test_a_token_needs_a_known_scope_and_an_enabled_account(accounts: Accounts) -> None:
    accounts.add("crm", "integration", "The CRM", None)
    with pytest.raises(InvalidValue, match=r"^scope: 'admin' is not one of: intake, read, all$"):
        accounts.issue_token("crm", "admin")
    with pytest.raises(RuleViolation, match=r"^no account ghost$"):
        accounts.issue_token("ghost", "intake")
    accounts.disable("crm")
    with pytest.raises(RuleViolation, match=r"^crm is disabled"):
        accounts.issue_token("crm", "intake")
    assert accounts.tokens() == []


def test_argon2_hasher_says_false_for_a_wrong_password_or_a_malformed_hash() -> None:
    hasher = Argon2Hasher(argon2.profiles.CHEAPEST)
    hashed = hasher.hash(PASSWORD)
    assert hasher.verify(hashed, PASSWORD)
    assert not hasher.verify(hashed, OTHER)
    assert not hasher.verify("not a hash", PASSWORD)
    assert not hasher.verify(hashed.replace("$argon2id$", "$argon2i$"), PASSWORD)


# --- the reads of a check, made on every request ----------------------------------------------


class Counted:
    """The reads made since the last look: (the store's, the log's, the streams', the
    times `in_use` was asked)."""

    def __init__(self, store: CountingStore, log: Log, roster: Roster, asked: list[bool]) -> None:
        self.store, self.log, self.roster, self.asked = store, log, roster, asked

    def __call__(self) -> tuple[int, int, int, int]:
        seen = (self.store.reads, self.log.reads, self.roster.reads, len(self.asked))
        self.store.reads = self.log.reads = self.roster.reads = 0
        self.asked.clear()
        return seen


def watched(
    clock: FixedClock, roster: Roster, log: Log, store: CountingStore | None = None
) -> tuple[Accounts, Counted]:
    """Accounts over a counting store whose roster is kept against `log`, and its counts."""
    store = store or CountingStore()
    asked: list[bool] = []

    def in_use() -> bool:  # the office's answer: it catches the indicators up first
        asked.append(roster.in_use)
        return roster.in_use

    hasher = Argon2Hasher(argon2.profiles.CHEAPEST)
    accounts = Accounts(store, hasher, clock, roster.state, in_use, log=cast(Any, log))
    accounts.add("maria.b", "agent", "María", PASSWORD)
    accounts.add("auditora", "auditor", "Auditora", PASSWORD)
    counted = Counted(store, log, roster, asked)
    counted()
    return accounts, counted


def test_a_check_reads_the_account_once_and_the_logs_news_once(
    clock: FixedClock, roster: Roster
) -> None:
    """Exact counts: (account, log, stream, `in_use` asked) per check."""
    accounts, counted = watched(clock, roster, roster.log)
    assert accounts.principal("maria.b").role is AccessRole.AGENT  # no roster yet
    assert counted() == (1, 1, 0, 1)  # the first check asks whether a roster is in use
    accounts.principal("maria.b")
    assert counted() == (1, 1, 0, 0)  # the log has not moved: nothing asked
    roster.log.events += ["a note", "an assignment"]
    accounts.principal("maria.b")
    assert counted() == (1, 1, 0, 0)  # other events: nothing asked
    roster.join("maria.b", Role.SUPERVISOR)
    assert accounts.principal("maria.b").role is AccessRole.SUPERVISOR
    assert counted() == (1, 1, 1, 1)  # a placement: asked again, and the stream read
    for _ in range(3):
        accounts.principal("maria.b")
        assert counted() == (1, 1, 0, 0)  # the state kept
    roster.log.events += ["a note"]
    accounts.principal("maria.b")
    assert counted() == (1, 1, 0, 0)
    roster.join("otro.o", Role.AGENT)  # someone else's placement: every state read again
    accounts.principal("maria.b")
    assert counted() == (1, 1, 1, 0)  # a roster once in use stays in use: not asked
    accounts.principal("auditora")
    assert counted() == (1, 0, 0, 0)  # not a role of the roster: the account only
    _, secret = accounts.issue_token("maria.b", "read")
    counted()
    assert accounts.authenticate_token(secret).role is AccessRole.SUPERVISOR
    assert counted() == (1, 1, 0, 0)  # the token and its account in one read


def test_a_store_sharing_the_logs_database_checks_in_one_read(
    clock: FixedClock, roster: Roster
) -> None:
    log = roster.log

    class WithNews(CountingStore):  # as `SqlAccountStore` with a `SharedLog`
        def get_with_news(
            self, login: str, news_after: int | None
        ) -> tuple[Account | None, LogNews | None]:
            account, _ = super().get_with_news(login, news_after)
            news = None if news_after is None else log.news(news_after, RosterWatch.KINDS)
            return account, news

        def token_with_account(
            self, token_id: str, news_after: int | None
        ) -> tuple[TokenRecord | None, Account | None, LogNews | None]:
            token, account, _ = super().token_with_account(token_id, news_after)
            news = None if news_after is None else log.news(news_after, RosterWatch.KINDS)
            return token, account, news

    accounts, counted = watched(clock, roster, log, WithNews())
    accounts.principal("maria.b")
    assert counted() == (1, 0, 0, 1)
    roster.join("maria.b", Role.AGENT)
    accounts.principal("maria.b")
    assert counted() == (1, 0, 1, 1)
    _, secret = accounts.issue_token("maria.b", "all")
    counted()
    for _ in range(3):
        roster.log.events += ["a note"]
        accounts.principal("maria.b")
        assert counted() == (1, 0, 0, 0)  # one read: the account and the news together
        accounts.authenticate_token(secret)
        assert counted() == (1, 0, 0, 0)
    roster.leave("maria.b", date(2026, 7, 14))
    with refused("not on the team's roster today (left on 2026-07-14)"):
        accounts.principal("maria.b")
    assert counted() == (1, 0, 1, 0)


def test_a_log_without_news_is_read_for_its_head_and_then_for_its_placements(
    clock: FixedClock, roster: Roster
) -> None:
    log = Log()
    accounts, counted = watched(clock, roster, log)
    accounts.principal("maria.b")
    assert counted() == (1, 1, 0, 1)  # the head (0): nothing to read after it
    log.events += ["a note"]
    accounts.principal("maria.b")
    assert counted() == (1, 2, 0, 0)  # the head moved: the placements since, none
    accounts.principal("maria.b")
    assert counted() == (1, 1, 0, 0)


def test_someone_who_leaves_is_refused_at_the_next_check_though_their_state_was_kept(
    accounts: Accounts, roster: Roster, clock: FixedClock
) -> None:
    accounts.add("juan.r", "agent", "Juan", PASSWORD)
    roster.join("juan.r", Role.AGENT)
    _, secret = accounts.issue_token("juan.r", "all")
    for _ in range(2):  # kept, when watched
        assert accounts.principal("juan.r").role is AccessRole.AGENT
        assert accounts.authenticate_token(secret).role is AccessRole.AGENT
    roster.leave("juan.r", date(2026, 7, 14))  # recorded today: yesterday was the last day
    with refused("not on the team's roster today (left on 2026-07-14)"):
        accounts.principal("juan.r")
    with refused("not on the team's roster today (left on 2026-07-14)"):
        accounts.authenticate_token(secret)


def test_a_leaving_recorded_ahead_takes_effect_the_day_after_with_no_new_event(
    accounts: Accounts, roster: Roster, clock: FixedClock
) -> None:
    accounts.add("juan.r", "agent", "Juan", PASSWORD)
    roster.join("juan.r", Role.AGENT)
    roster.leave("juan.r", date(2026, 7, 15))  # today is the last day
    assert accounts.principal("juan.r").role is AccessRole.AGENT
    assert accounts.principal("juan.r").role is AccessRole.AGENT  # kept, when watched
    clock.advance(timedelta(days=1))
    with refused("not on the team's roster today (left on 2026-07-15)"):
        accounts.principal("juan.r")


def test_a_move_changes_the_role_at_the_next_check(accounts: Accounts, roster: Roster) -> None:
    accounts.add("maria.b", "agent", "María", PASSWORD)
    roster.join("maria.b", Role.AGENT)
    assert accounts.principal("maria.b").role is AccessRole.AGENT
    roster.join("maria.b", Role.SUPERVISOR, since=date(2026, 7, 15))  # a placement from today
    assert accounts.principal("maria.b").role is AccessRole.SUPERVISOR


def test_a_state_read_while_a_placement_is_taken_is_not_kept(
    clock: FixedClock, roster: Roster
) -> None:
    """Two requests at once: one reads juan.r's stream; meanwhile his leaving is recorded and
    another request takes that news. The state read before the leaving serves its own
    request (which began before it), but is not kept: the next check reads it again."""
    roster.join("juan.r", Role.AGENT)
    roster.join("maria.b", Role.AGENT)
    raced: list[bool] = []
    plain = roster.state

    def racing(login: str) -> AgentState | None:
        state = plain(login)
        if login == "juan.r" and not raced:
            raced.append(True)
            roster.leave("juan.r", date(2026, 7, 14))
            assert door.principal("maria.b").login == "maria.b"  # takes the news
        return state

    roster.state = racing  # type: ignore[method-assign]
    door, _ = watched(clock, roster, roster.log)
    door.add("juan.r", "agent", "Juan", PASSWORD)
    assert door.principal("juan.r").role is AccessRole.AGENT  # read before the leaving
    assert raced == [True]
    with refused("not on the team's roster today (left on 2026-07-14)"):
        door.principal("juan.r")


def test_news_after_a_position_not_yet_seen_counts_as_a_placement(
    clock: FixedClock, roster: Roster
) -> None:
    """A gap (news read after a position past the last one seen) may hide a placement."""
    accounts, counted = watched(clock, roster, roster.log)
    roster.join("maria.b", Role.AGENT)
    watch = accounts.watch
    assert watch is not None
    accounts.principal("maria.b")
    roster.log.events += ["a note"] * 3
    counted()
    watch.member("maria.b", LogNews(after=watch.after() + 2, head=watch.after() + 3, first=None))
    assert counted() == (0, 0, 1, 0)  # the state read again
    watch.member("maria.b", LogNews(after=watch.after(), head=watch.after(), first=None))
    assert counted() == (0, 0, 0, 0)


# --- Idempotency-Key ---------------------------------------------------------------------------


def test_an_idempotency_key_runs_its_request_once_per_login(clock: FixedClock) -> None:
    from application.access.accounts import IdempotencyKeys, RequestInProgress
    from application.ports.accounts import StoredAnswer

    keys = IdempotencyKeys(MemoryAccountStore(), clock)
    assert keys.begin("maria.b", "k-1", "digest-a") is None  # run it
    with pytest.raises(RequestInProgress, match="is in progress"):
        keys.begin("maria.b", "k-1", "digest-a")
    with pytest.raises(InvalidValue, match=r"^Idempotency-Key: reused for another request"):
        keys.begin("maria.b", "k-1", "digest-b")
    answer = StoredAnswer(status=201, body="{}", headers={"ETag": '"1"'})
    keys.finish("maria.b", "k-1", answer)
    assert keys.begin("maria.b", "k-1", "digest-a") == answer  # a retry: given again
    assert keys.begin("carlos.m", "k-1", "digest-b") is None  # another login's key
    keys.abandon("carlos.m", "k-1")  # its request failed: a retry runs again
    assert keys.begin("carlos.m", "k-1", "digest-c") is None
    clock.advance(timedelta(minutes=11))  # left in progress by a process that died
    assert keys.begin("carlos.m", "k-1", "digest-d") is None
    clock.advance(timedelta(hours=24))
    assert keys.begin("maria.b", "k-1", "digest-b") is None  # a day later: forgotten
    for bad in ("", "with space", "x" * 256, "ñ"):
        with pytest.raises(InvalidValue, match=r"^Idempotency-Key: 1 to 255 visible"):
            keys.begin("maria.b", bad, "digest-a")


def test_idempotency_keys_are_purged_at_most_once_an_hour(clock: FixedClock) -> None:
    from datetime import datetime

    from application.access.accounts import IdempotencyKeys

    store = MemoryAccountStore()
    purges: list[object] = []
    purge = store.purge_keys

    def counted(before: datetime) -> int:
        purges.append(before)
        return purge(before)

    store.purge_keys = counted  # type: ignore[method-assign]
    keys = IdempotencyKeys(store, clock)
    keys.begin("maria.b", "k-1", "d")
    keys.begin("maria.b", "k-2", "d")
    clock.advance(timedelta(minutes=61))
    keys.begin("maria.b", "k-3", "d")
    assert purges == [T0 - timedelta(hours=24), T0 + timedelta(minutes=61) - timedelta(hours=24)]
