"""Accounts, sign-in and bearer tokens: the rules; `application.ports.accounts` keeps them.

- An account's login is one line of 1 to 64 lower-case letters, digits, `.`, `_` or `-`.
  An integration has no password (it uses tokens); every other account has one of at least
  12 characters, kept only as its hash.
- Signing in, anything but the right password gets the same answer ("login or password is
  wrong") after the same work (one password checked; for an unknown login, against a hash
  of nothing), whether the login is unknown, locked out or disabled: logins and their state
  cannot be probed. After `max_failures` attempts in a row without a success the account is
  locked for `lockout`, during which even the right password gets that answer (so the
  guessing cannot go on); a disabled account with the right password is told it is
  disabled. Attempts are counted before the check, so requests made at once get no more
  guesses than requests made in turn.
- A person of the roster (an account of `ROSTER_ROLES`), once a roster is in use, must be on
  it today (Bogotá): someone who left cannot sign in, and the role is the roster's of the
  day, not the one the account was given. `principal` applies the same checks to a session
  on each request, and `authenticate_token` to a token: a disabled account, or someone who
  left, loses access at once.
- A password's session carries the account's session epoch of its sign-in
  (`Principal.epoch`), compared on each request with the account's, read in the same
  statement (`principal(login, epoch)`). Signing out (`sign_out`), a new password (`reset`)
  or disabling the account raises the account's epoch: every session issued before ends,
  on every device (enabling the account again brings none back). A new password or a
  disable raises it in the statement that keeps the change: never one without the other.
- What an administrator is shown of an account is as it stands now (`standing`): a
  lock-out that has ended shows as none, and its attempts as none (the next one counts
  from 1); while locked, the attempts shown are those that locked it and those made since.
- A token's secret is `bo_<id>_<random>`, shown once when issued and kept as its SHA-256
  digest; its scope (`TOKEN_SCOPES`) narrows what its account's role allows.
- Administering keeps a way in: an administrator may not disable their own account, and
  the last enabled administrator's account is not disabled (`disable_guarded`). A password
  an administrator does not choose is made up here (`generated_password`) and shown once.
- Whether a roster is in use, and a person's roster state, are needed on every request:
  `RosterWatch` keeps both between requests and checks them against the log's news on each
  (one read, or none when the account's own read brought it), so that a request checks its
  user in one statement on PostgreSQL and two on SQLite, never missing a change.
- A request made with an `Idempotency-Key` (`IdempotencyKeys`) runs once per login and key:
  a retry gets the first answer again, for 24 hours.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

import attrs

from application.ports.accounts import (
    ROSTER_ROLES,
    TOKEN_SCOPES,
    AccessRole,
    Account,
    AccountStore,
    IdempotencyRecord,
    IdempotencyStore,
    LogNews,
    LogNewsReader,
    PasswordHasher,
    StoredAnswer,
    TokenRecord,
)
from application.ports.cases import AnyEvent, CaseStore, Clock
from domain.calendar import BusinessCalendar
from domain.case.decisions import clean_text
from domain.errors import DomainError, InvalidValue, RuleViolation
from domain.team.roster import AgentJoined, AgentLeft, AgentMoved, AgentState
from domain.values import Actor, ActorKind

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1_024
"""Longer is refused: hashing a megabyte on each attempt would be a way to load the server."""

WRONG_LOGIN_OR_PASSWORD = "login or password is wrong"
ACCOUNT_DISABLED = "the account is disabled"
SESSION_ENDED = "the session has ended (signed out, or a new password): sign in again"
TOKEN_NOT_VALID = "the token is not valid"

_LOGIN = re.compile(r"[a-z0-9._-]{1,64}")
_TOKEN = re.compile(r"bo_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
_NO_DIGEST = hashlib.sha256(b"no such token").hexdigest()
"""Compared with when a token's id is unknown: every token costs one comparison."""


class SignInRefused(DomainError):
    """A sign-in, a session or a token refused; the reason says only what the user may know."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen(kw_only=True)
class Principal:
    """Who is asking: a signed-in person (`scope` None) or a token's account (its scope)."""

    login: str
    role: AccessRole
    """The role in effect: for a person of the roster, the roster's role today."""
    name: str
    scope: str | None = None
    epoch: int | None = attrs.field(default=None, eq=False)
    """The account's session epoch as read for this principal (`Account.session_epoch`):
    the one a session issued now carries (`sign_in`). None: not read (a principal made
    elsewhere). Not part of who the principal is (left out of equality)."""

    @property
    def actor(self) -> Actor:
        """The actor on the events recorded for this principal: an integration hands cases
        over as an intake (like the HR roster or the survey tool), anyone else acts as a
        person by login."""
        if self.role is AccessRole.INTEGRATION:
            return Actor(ActorKind.INTAKE, self.login)
        return Actor.agent(self.login)


def check_login(login: str) -> str:
    if not _LOGIN.fullmatch(login):
        raise InvalidValue(
            "login", "1 to 64 lower-case letters, digits, '.', '_' or '-' (one line)"
        )
    return login


def access_role(role: AccessRole | str) -> AccessRole:
    try:
        return AccessRole(role)
    except ValueError:
        known = ", ".join(r.value for r in AccessRole)
        raise InvalidValue("role", f"{role!r} is not one of: {known}") from None


def check_scope(scope: str) -> str:
    if scope not in TOKEN_SCOPES:
        raise InvalidValue("scope", f"{scope!r} is not one of: {', '.join(TOKEN_SCOPES)}")
    return scope


def token_digest(secret: str) -> str:
    """What is kept of a token's secret."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def standing(account: Account, now: datetime) -> Account:
    """`account` as it stands at `now`, as an administrator is shown it: a lock-out that has
    ended is none (`locked_until` None) and so are its attempts (0: the next attempt counts
    from 1, `AccountStore.count_attempt`); otherwise as kept."""
    if account.locked_until is None or account.locked_until > now:
        return account
    return attrs.evolve(account, locked_until=None, failed_attempts=0)


def generated_password() -> str:
    """A password made up for an administrator to hand over: 24 characters (144 random
    bits), shown once and kept only as its hash."""
    return secrets.token_urlsafe(18)


LAST_ADMINISTRATOR = (
    "the last enabled administrator's account is not disabled: add or enable another first"
)
OWN_ACCOUNT = "an administrator may not disable their own account (another administrator may)"


class Accounts:
    """The use cases of accounts and sign-in, over a store and a password hasher.

    `roster(login)` is the roster's state of a login (None: never on it); `roster_in_use()`
    says whether a roster was imported (before that, the roles given to accounts hold). Given
    the `log`, both are kept between requests and asked again only when the log has news of
    the roster (`RosterWatch`); without it, both are asked on every check (for tests).
    `idempotency`: where the `Idempotency-Key`s are kept (`IdempotencyKeys`)."""

    def __init__(
        self,
        store: AccountStore,
        hasher: PasswordHasher,
        clock: Clock,
        roster: Callable[[str], AgentState | None],
        roster_in_use: Callable[[], bool],
        *,
        log: CaseStore | None = None,
        max_failures: int = 5,
        lockout: timedelta = timedelta(minutes=15),
        idempotency: IdempotencyStore | None = None,
    ) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self.store = store
        self.watch = None if log is None else RosterWatch(roster_in_use, roster, log)
        """The roster kept between requests (None: asked on every check)."""
        self.idempotency = None if idempotency is None else IdempotencyKeys(idempotency, clock)
        """The requests made with an `Idempotency-Key` (None: none are kept)."""
        self.hasher = hasher
        self.clock = clock
        self.roster = roster
        self.roster_in_use = roster_in_use
        self.max_failures = max_failures
        self.lockout = lockout
        self._dummy_hash: str | None = None

    def close(self) -> None:
        self.store.close()

    # --- administration ---------------------------------------------------------------------

    def add(self, login: str, role: AccessRole | str, name: str, password: str | None) -> Account:
        """A new account; refused when the login has one already."""
        login, role, name = self.check_new(login, role, name)
        self._check_password(role, password)
        now = self.clock.now()
        account = Account(
            login=login,
            role=role,
            name=name,
            password_hash=None if password is None else self.hasher.hash(password),
            created_at=now,
            updated_at=now,
        )
        self.store.put(account)
        return account

    def check_new(
        self, login: str, role: AccessRole | str, name: str
    ) -> tuple[str, AccessRole, str]:
        """What `add` checks but the password, without adding: a caller asking for the
        password checks first (the login, role and name, as `add` keeps them)."""
        login = check_login(login)
        role = access_role(role)
        name = clean_text("name", name, max_length=120, one_line=True)
        if self.store.get(login) is not None:
            raise RuleViolation(f"an account {login} exists already")
        return login, role, name

    def account(self, login: str) -> Account:
        """The account of `login` as it stands now (`standing`; `RuleViolation` when there is
        none)."""
        return standing(self._existing(login), self.clock.now())

    def disable(self, login: str) -> Account:
        """The account can no longer sign in nor use its tokens; its sessions end for good
        (enabling it again brings none back), in the statement that keeps it disabled. An
        account disabled already is left as it is but for its sessions, ended again: a
        disable retried over one kept without them ended (as an earlier release could leave
        it) still ends them."""
        account = self._existing(login)
        if account.disabled:
            ended = self.store.end_sessions(account.login)
            return standing(ended or account, self.clock.now())
        return self._put(attrs.evolve(account, disabled=True), end_sessions=True)

    def enable(self, login: str) -> Account:
        account = self._existing(login)
        if not account.disabled:
            return standing(account, self.clock.now())
        return self._put(attrs.evolve(account, disabled=False))

    def reset(self, login: str, password: str) -> Account:
        """A new password; also ends a lock-out, and every session of the account (signed in
        with the old password), in the statement that keeps the new password."""
        account = self._existing(login)
        self._check_password(account.role, password)
        changed = attrs.evolve(
            account,
            password_hash=self.hasher.hash(password),
            failed_attempts=0,
            locked_until=None,
        )
        return self._put(changed, end_sessions=True)

    def list(self) -> builtins.list[Account]:
        """Every account by login, as it stands now (`standing`)."""
        now = self.clock.now()
        return [standing(account, now) for account in self.store.all()]

    def find(self, login: str) -> Account | None:
        """The account of `login` as it stands now (`standing`), None when there is none
        (`InvalidValue`: not a login)."""
        account = self.store.get(check_login(login))
        return None if account is None else standing(account, self.clock.now())

    def add_generated(
        self, login: str, role: AccessRole | str, name: str
    ) -> tuple[Account, str | None]:
        """`add` with a password made up here (`generated_password`), returned this once
        beside the account; an integration gets none (it uses tokens)."""
        login, given, name = self.check_new(login, role, name)
        password = None if given is AccessRole.INTEGRATION else generated_password()
        return self.add(login, given, name, password), password

    def reset_generated(self, login: str) -> tuple[Account, str]:
        """`reset` with a password made up here, returned this once beside the account."""
        if self._existing(login).role is AccessRole.INTEGRATION:
            raise InvalidValue("password", "an integration has none: it uses tokens")
        password = generated_password()
        return self.reset(login, password), password

    def disable_guarded(self, login: str, *, by: str | None = None) -> Account:
        """`disable`, keeping a way in: `by` (the administrator asking, None from the CLI)
        may not disable their own account, and the last enabled administrator's account is
        not disabled. Checked again once disabled: when another process disabled the other
        administrators meanwhile, this one is enabled again and refused (at worst both are
        refused, never both done)."""
        account = self._existing(login)
        if by is not None and account.login == by:
            raise RuleViolation(OWN_ACCOUNT)
        if account.disabled or account.role is not AccessRole.ADMIN:
            return self.disable(account.login)
        if not self._other_administrators(account.login):
            raise RuleViolation(LAST_ADMINISTRATOR)
        disabled = self.disable(account.login)
        if not self._other_administrators(account.login):
            self.enable(account.login)
            raise RuleViolation(LAST_ADMINISTRATOR)
        return disabled

    def _other_administrators(self, login: str) -> bool:
        """Whether an enabled administrator's account other than `login` exists."""
        return any(
            other.role is AccessRole.ADMIN and not other.disabled and other.login != login
            for other in self.store.all()
        )

    def _existing(self, login: str) -> Account:
        account = self.store.get(check_login(login))
        if account is None:
            raise RuleViolation(f"no account {login}")
        return account

    def _put(self, account: Account, *, end_sessions: bool = False) -> Account:
        """`account` changed by an administrator now, as kept (`end_sessions`: its sessions
        ended in the same statement, `AccountStore.put`)."""
        now = self.clock.now()
        kept = self.store.put(attrs.evolve(account, updated_at=now), end_sessions=end_sessions)
        return standing(kept, now)

    def _check_password(self, role: AccessRole, password: str | None) -> None:
        if role is AccessRole.INTEGRATION:
            if password is not None:
                raise InvalidValue("password", "an integration has none: it uses tokens")
            return
        if password is None:
            raise InvalidValue("password", f"the role {role.value} needs one")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidValue("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidValue("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")

    # --- signing in -------------------------------------------------------------------------

    def sign_in(self, login: str, password: str) -> Principal:
        """The principal of a login and password; `SignInRefused` with the reason.

        Unless the password is right, the answer is a wrong password's, whatever the login's
        state (unknown, locked, disabled, an integration): the answer tells nothing of the
        account but to whoever knows its password. Every attempt checks one password (an
        unknown login, one against a hash of nothing) and is counted before its check; the
        `max_failures`-th failure in a row locks the account for `lockout`. While locked (or
        while more than `max_failures` attempts are being checked at once), even the right
        password gets a wrong password's answer: telling it apart would let the guessing go
        on through the lock-out. A disabled account with the right password is told so."""
        now = self.clock.now()
        account = self.store.get(login) if _LOGIN.fullmatch(login) else None
        if account is None or account.password_hash is None:
            self._verify_nothing(password)
            raise SignInRefused(WRONG_LOGIN_OR_PASSWORD)
        counted = self.store.count_attempt(login, now)
        if counted is None or counted.password_hash is None:  # changed meanwhile
            self._verify_nothing(password)
            raise SignInRefused(WRONG_LOGIN_OR_PASSWORD)
        right = self._verify(counted.password_hash, password)
        if self._locked(counted, now):
            raise SignInRefused(WRONG_LOGIN_OR_PASSWORD)
        if not right:
            if counted.failed_attempts >= self.max_failures:  # kept: they are the lock's why
                self.store.lock_out(login, now + self.lockout)
            raise SignInRefused(WRONG_LOGIN_OR_PASSWORD)
        if counted.disabled:
            raise SignInRefused(ACCOUNT_DISABLED)
        self.store.clear_attempts(login)
        return self._admit(counted, scope=None)

    def principal(self, login: str, epoch: int | None = None) -> Principal:
        """The principal of a session already signed in, checked again (on each request): a
        disabled account, or someone who left the roster, is refused; so is a password's
        session whose `epoch` (the one it was issued in) is no longer the account's (signed
        out, a new password, disabled since). `epoch` None: not a password's session (the
        proxy's header's user), none compared. One read of the store (the epoch is a column
        of the account), which on PostgreSQL also brings the log's news of the roster; on
        SQLite a person of the roster's roles adds one read of the log (`RosterWatch`)."""
        account, news = None, None
        if _LOGIN.fullmatch(login):
            account, news = self.store.get_with_news(login, self._news_after())
        if account is None:
            raise SignInRefused(f"no account {login!r}")
        if epoch is not None and epoch != account.session_epoch:
            raise SignInRefused(ACCOUNT_DISABLED if account.disabled else SESSION_ENDED)
        return self._admit(account, scope=None, news=news)

    def sign_out(self, login: str, epoch: int) -> bool:
        """End the session of `login` issued in `epoch`, and with it every session of the
        account issued before (the account's epoch is raised: one counter per account, read
        with it on every request). A session ended already ends no other: False then (and
        for an unknown login)."""
        if not _LOGIN.fullmatch(login):
            return False
        return self.store.end_sessions(login, epoch) is not None

    def _news_after(self) -> int | None:
        """Where the log's news is to be read from with the account (None: no news kept)."""
        return None if self.watch is None else self.watch.after()

    def _locked(self, counted: Account, now: datetime) -> bool:
        """Whether an attempt just counted comes while the account is locked out, or while
        more than `max_failures` attempts are being checked at once (others are trying at
        this moment): no guess of it may count."""
        locked = counted.locked_until is not None and counted.locked_until > now
        return locked or counted.failed_attempts > self.max_failures

    def _admit(self, account: Account, scope: str | None, news: LogNews | None = None) -> Principal:
        """`account`'s principal, or refused; `news`: the log's, read with the account."""
        if account.disabled:
            raise SignInRefused(ACCOUNT_DISABLED)
        role = account.role
        if role in ROSTER_ROLES:
            if self.watch is not None:
                in_use, member = self.watch.member(account.login, news)
            else:
                in_use = self.roster_in_use()
                member = self.roster(account.login) if in_use else None
            if in_use:
                role = self._roster_role(member)
        return Principal(login=account.login, role=role, name=account.name, scope=scope,
                         epoch=account.session_epoch)  # fmt: skip

    def _roster_role(self, member: AgentState | None) -> AccessRole:
        """The roster's role today of someone whose roster state is `member` (None: never
        on it); refused when not on it today."""
        today = BusinessCalendar.local_date(self.clock.now())
        role = None if member is None else member.role_on(today)
        if role is None:
            left = [day for day in member.leavings if day < today] if member else []
            when = f" (left on {max(left).isoformat()})" if left else ""
            raise SignInRefused(f"not on the team's roster today{when}")
        return AccessRole(role.value)

    def _verify(self, password_hash: str, password: str) -> bool:
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        return self.hasher.verify(password_hash, password)

    def _verify_nothing(self, password: str) -> None:
        """Check a password against a hash of nothing: an unknown login takes as long as a
        wrong password."""
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        self._verify(self._dummy_hash, password)

    # --- tokens -----------------------------------------------------------------------------

    def issue_token(self, login: str, scope: str) -> tuple[TokenRecord, str]:
        """A new token acting as `login` within `scope`: its record and its secret (shown
        this once; only its digest is kept)."""
        scope = check_scope(scope)
        account = self._existing(login)
        if account.disabled:
            raise RuleViolation(f"{login} is disabled: enable it before issuing a token")
        token_id = secrets.token_hex(6)
        secret = f"bo_{token_id}_{secrets.token_urlsafe(32)}"
        record = TokenRecord(
            token_id=token_id,
            digest=token_digest(secret),
            login=account.login,
            scope=scope,
            created_at=self.clock.now(),
        )
        self.store.add_token(record)
        return record, secret

    def authenticate_token(self, secret: str) -> Principal:
        """The principal of a token's secret; `SignInRefused` for a malformed, unknown or
        revoked token, a disabled account, or someone who left the roster."""
        match = _TOKEN.fullmatch(secret)
        record, account, news = None, None, None
        if match:  # the token and its account in one read (and the log's news, as above)
            record, account, news = self.store.token_with_account(match[1], self._news_after())
        expected = _NO_DIGEST if record is None else record.digest
        if not hmac.compare_digest(expected, token_digest(secret)) or record is None:
            raise SignInRefused(TOKEN_NOT_VALID)
        if record.revoked_at is not None:
            raise SignInRefused("the token was revoked")
        if account is None:
            raise SignInRefused(TOKEN_NOT_VALID)
        return self._admit(account, scope=record.scope, news=news)

    def revoke_token(self, token_id: str) -> None:
        """The token no longer works; nothing changes when it was revoked already."""
        record = self.store.token(token_id)
        if record is None:
            raise RuleViolation(f"no token {token_id!r}")
        if record.revoked_at is None:
            self.store.revoke_token(token_id, self.clock.now())

    def tokens(self) -> builtins.list[TokenRecord]:
        return self.store.tokens()

    def find_token(self, token_id: str) -> TokenRecord | None:
        """The token of `token_id` (never its secret: only its digest is kept), None when
        there is none (`InvalidValue`: not a token's id)."""
        if not re.fullmatch(r"[0-9a-f]{12}", token_id):
            raise InvalidValue("token_id", "12 lower-case hexadecimal digits (see the token list)")
        return self.store.token(token_id)


# --- the roster, as each request needs it -----------------------------------------------------


MEMBERS_KEPT = 10_000
"""Roster states kept at most (one per login that signed in); past that they are read again."""


class RosterWatch:
    """Whether a roster is in use and each person's roster state, as the account check of
    every request needs them, kept between requests and never stale.

    Both change only with a placement in the log (someone joining, moving or leaving: the
    `KINDS`), and a day's role is computed from the state with the day, so what is kept holds
    until the log has a placement after the position it was kept at. Every check reads the
    log's news after the last position seen (`LogNews`: the head, and the first placement
    after that position), in one statement of its own (`log.log_news`, or the head and then
    the placements since for a log without it) or in the account's own statement (a store
    sharing the log's database). A placement drops every state kept and, while no roster is
    in use, has `in_use` asked again (the office's answer, which catches the indicators up);
    a login's state is read from its stream the first time it is needed after that. A roster
    once in use stays in use. A placement recorded a moment ago, by any process, is seen by
    the next check: someone who left is refused at their next request.

    Requests check at once from several threads: news is taken and `in_use` asked under one
    lock; a state read from a stream is kept only if no placement was taken meanwhile (it
    may have been read before that placement)."""

    KINDS: tuple[type[AnyEvent], ...] = (AgentJoined, AgentMoved, AgentLeft)
    """The events that change whether a roster is in use, or someone's role on a day."""

    def __init__(
        self,
        in_use: Callable[[], bool],
        roster: Callable[[str], AgentState | None],
        log: CaseStore,
    ) -> None:
        self.in_use = in_use
        self.roster = roster
        self.news = _news_of(log)
        """The log's news after a position, of the `KINDS`."""
        self._through = 0
        """The log's position through which every placement has been taken."""
        self._ask = True
        """Whether `in_use` is to be asked (at first, and after a placement while it said no)."""
        self._yes = False
        self._members: dict[str, AgentState | None] = {}
        self._taken = 0
        """Placements taken (states read before one are not kept)."""
        self._lock = threading.Lock()

    def after(self) -> int:
        """The position to read the news after."""
        return self._through

    def member(self, login: str, news: LogNews | None = None) -> tuple[bool, AgentState | None]:
        """Whether a roster is in use and, when it is, the roster's state of `login` (None:
        never on it), as of the log now. `news`: the log's, read with the account (None: it
        is read here)."""
        if news is None:
            news = self.news(self.after(), self.KINDS)
        with self._lock:
            self._take(news)
            if self._ask and not self._yes:
                self._yes = self.in_use()
                self._ask = False
            if not self._yes:
                return False, None
            if login in self._members:
                return True, self._members[login]
            taken = self._taken
        state = self.roster(login)
        if state is not None:  # what a role needs: the placements and the leavings
            state = attrs.evolve(state, shifts={}, absences={})
        with self._lock:
            if self._taken == taken:
                if len(self._members) >= MEMBERS_KEPT:
                    self._members.clear()
                self._members[login] = state
        return True, state

    def _take(self, news: LogNews) -> None:
        """Account for the placements in `news` (under the lock). News read after a
        position past the last one seen leaves a gap: taken as a placement."""
        if news.first is not None or news.after > self._through:
            self._members.clear()
            self._taken += 1
            self._ask = True
        self._through = max(self._through, news.head)


def _news_of(log: CaseStore) -> Callable[[int, Collection[type[AnyEvent]]], LogNews]:
    """`log.log_news` (one read), or its head and then its events since (two reads)."""
    if isinstance(log, LogNewsReader):
        return log.log_news

    def news(after: int, kinds: Collection[type[AnyEvent]]) -> LogNews:
        head = log.last_position()
        found = log.read_log(after, 1, through=head, kinds=kinds) if head > after else ()
        return LogNews(after=after, head=head, first=found[0].position if found else None)

    return news


# --- Idempotency-Key ---------------------------------------------------------------------------

IDEMPOTENCY_KEY = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class RequestInProgress(DomainError):
    """A request with the same `Idempotency-Key` is being handled at this moment."""


def check_idempotency_key(key: str) -> str:
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidValue(
            IDEMPOTENCY_KEY, "1 to 255 visible ASCII characters (a UUID, say), no spaces"
        )
    return key


class IdempotencyKeys:
    """A request made with an `Idempotency-Key` runs once per login and key.

    `begin` keeps the key as in progress before the request runs (None: run it), or gives
    the answer kept for it (a retry: give that again, run nothing). A key given again with
    another request (another digest) is refused (`InvalidValue`), and one whose request is
    still running is `RequestInProgress`. `finish` keeps the answer; `abandon` forgets the
    key when the request failed (a retry may then run it). Keys are forgotten `lifetime`
    after their first use (24 hours); one left in progress by a process that died is taken
    over after `abandoned_after`. Each login has keys of its own."""

    def __init__(
        self,
        store: IdempotencyStore,
        clock: Clock,
        *,
        lifetime: timedelta = timedelta(hours=24),
        abandoned_after: timedelta = timedelta(minutes=10),
        purge_every: timedelta = timedelta(hours=1),
    ) -> None:
        self.store = store
        self.clock = clock
        self.lifetime = lifetime
        self.abandoned_after = abandoned_after
        self.purge_every = purge_every
        self._purged_at: datetime | None = None

    def begin(self, login: str, key: str, digest: str) -> StoredAnswer | None:
        key = check_idempotency_key(key)
        now = self.clock.now()
        self._purge(now)
        record = IdempotencyRecord(login=login, key=key, digest=digest, created_at=now)
        kept = self.store.claim_key(
            record,
            expired_before=now - self.lifetime,
            abandoned_before=now - self.abandoned_after,
        )
        if kept is None:
            return None
        if not hmac.compare_digest(kept.digest, digest):
            raise InvalidValue(
                IDEMPOTENCY_KEY, "reused for another request (a new request needs a new key)"
            )
        if kept.answer is None:
            raise RequestInProgress(f"a request with this {IDEMPOTENCY_KEY} is in progress")
        return kept.answer

    def finish(self, login: str, key: str, answer: StoredAnswer) -> None:
        self.store.answer_key(login, key, answer)

    def abandon(self, login: str, key: str) -> None:
        self.store.release_key(login, key)

    def _purge(self, now: datetime) -> None:
        if self._purged_at is not None and now - self._purged_at < self.purge_every:
            return
        self._purged_at = now
        self.store.purge_keys(now - self.lifetime)
