"""The one composition root: settings in, a ready `Backoffice` out.

Nothing connects at import time. An embedding host does:

    from entrypoints.bootstrap import bootstrap
    with bootstrap() as office:          # reads BACKOFFICE_* from the environment
        office.ingest(...)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from adapters.calendar_co import colombian_calendar
from adapters.case_index import open_case_index
from adapters.config_files import (
    ConfigError,
    load_indicator_rules,
    load_markings,
    load_regulation,
)
from adapters.eventstore.store import EventSourcedCaseStore
from adapters.indicator_view import open_indicator_view
from adapters.schema_lock import missing_tables, schema_lock, without_ddl_when_ready
from application.case.handling import Policies
from application.case.outside import (
    AC,
    DIAGNOSTICADOR,
    DIME,
    RR,
    WFM,
    OutsideSystems,
    OutsideWriter,
)
from application.indicators.report import IndicatorRules
from application.jobs.mail import Mailer
from application.ports.cases import ChainAudit, Clock
from application.service import Backoffice
from domain.calendar import SATURDAY_SUNDAY
from domain.case.deadlines import DeadlineRules, RegulatoryClocks
from domain.case.decisions import FollowUpRules
from entrypoints.index_worker import ProcessIndexWorker
from entrypoints.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from adapters.mail.directory import ContactDirectory
    from adapters.read_register import MemoryReadRegister, SqlReadRegister
    from adapters.systems.http import JsonClient
    from adapters.tracking import TrackedPosition
    from application.access.accounts import Accounts
    from application.branches.pqr import PqrDesk
    from application.branches.sac import SacDesk
    from application.branches.support import SupportDesk
    from application.dispatch import Dispatcher
    from application.jobs.outbox import Outbox
    from application.jobs.retention import RetentionJob
    from application.ports.accounts import AccountStore, PasswordHasher
    from application.privacy.subjects import Privacy


T = TypeVar("T")

STORE_TABLES = (
    "cases_events",
    "cases_snapshots",
    "cases_chain_checkpoints",
    "cases_personal_keys",
    "cases_personal_erasures",
)
"""The event store's tables on PostgreSQL (eventsourcing names them after the application):
the log, the cached case states (`adapters.eventstore.state_cache`) and the log's checkpoints
(`adapters.eventstore.chain`; a store without them gets them, and its events' hash column,
the first time a process of this version opens it); the data subjects' keys and erasures
(`adapters.personal_keys`, created the same way)."""


def bootstrap(
    settings: Settings | None = None, *, clock: Clock | None = None, existing: bool = False
) -> Backoffice:
    """Build the back office for these settings (default: from the environment). With
    `existing`, a PostgreSQL database that holds no back office yet is refused (a reading
    command must not create one, nor show a mistyped database as an empty office)."""
    settings = settings or load_settings()
    clock = clock or settings.clock()  # the system's, or the demo folder's `fixed_clock`
    policies = _policies(settings, clock.now().year)
    if settings.backend == "memory":  # plain Python, nothing shared: the fakes
        from adapters.memory import InMemoryCaseIndex, InMemoryCaseStore

        indicators = open_indicator_view(settings.view_env("indicators"))
        return Backoffice(InMemoryCaseStore(), InMemoryCaseIndex(), clock, policies, indicators)
    owner_only_files(settings)
    use_libpq_options(settings)
    with schema_lock(settings.store_env()):
        missing = missing_tables(settings.store_env(), STORE_TABLES)
        if existing and "cases_events" in missing:  # an older release's store lacks the rest
            raise SettingsError(
                "no back-office data in that PostgreSQL database (no cases_events table): "
                "`backoffice ingest FILE`, an import or `backoffice worker` creates it"
            )
        store_env = without_ddl_when_ready(settings.store_env(), STORE_TABLES, missing)
        store = EventSourcedCaseStore(store_env)
        try:
            index = open_case_index(settings.index_env())
            indicators = open_indicator_view(settings.view_env("indicators"))
        except Exception:
            store.close()
            raise
    worker = None
    if settings.index_worker:
        config = {"store": store_env, "index": settings.index_env()}
        worker = functools.partial(ProcessIndexWorker.start, config)
    return Backoffice(store, index, clock, policies, indicators, index_worker=worker)


def use_libpq_options(settings: Settings) -> None:
    """The database URL's options (`sslmode`, …) for every PostgreSQL connection this process
    (and the index worker it starts) opens: libpq reads them from its environment variables.
    As in libpq's own connection strings, an option written in the URL beats the same variable
    set in the environment (a `PGSSLMODE=disable` left in a shell does not weaken a URL's
    `sslmode=verify-full`)."""
    os.environ.update(settings.libpq_env())


def owner_only_files(settings: Settings) -> None:
    """On SQLite, the data folder (when this creates it) and every database file are created
    for their owner only (0700, 0600): they hold customers' data. SQLite gives its -wal and
    -shm files the database file's permissions; files that exist are left as they are."""
    if settings.backend != "sqlite":
        return
    # exist_ok: another process starting at the same moment may have just made it
    settings.data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    envs = (
        settings.store_env(),
        settings.index_env(),
        settings.view_env("indicators"),
        settings.tracking_env("Outbox"),
    )
    for env in envs:
        path = Path(env["SQLITE_DBNAME"])
        if not path.exists():  # an empty file is a new SQLite database
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _policies(settings: Settings, year: int) -> Policies:
    """Rules from settings and configuration files, checked before anything is opened."""
    regulation = settings.config_path("regulation.toml", settings.regulation)
    markings = settings.config_path("markings.toml", settings.markings)
    indicators = settings.config_path("indicators.toml", settings.indicators)
    try:
        clocks, weekend = (
            load_regulation(regulation) if regulation else (RegulatoryClocks(), SATURDAY_SUNDAY)
        )
        catalogue = load_markings(markings) if markings else None
        rules = load_indicator_rules(indicators) if indicators else IndicatorRules()
    except ConfigError as error:
        raise SettingsError(str(error)) from error
    return Policies(
        deadlines=DeadlineRules(colombian_calendar(year - 2, year + 3, weekend), clocks),
        markings=catalogue,
        follow_up=FollowUpRules(
            on_time_window=timedelta(minutes=settings.follow_up_on_time_minutes),
            missed_after=timedelta(hours=settings.follow_up_missed_after_hours),
        ),
        rr_note_max_length=settings.rr_note_max_length,
        indicators=rules,
    )


def build_outbox(office: Backoffice, settings: Settings, *, mailer: Mailer | None = None) -> Outbox:
    """The outbox for these settings; `mailer` overrides the configured one (tests, demo)."""
    from adapters.mail.files import FolderMailer
    from adapters.mail.smtp import SmtpMailer, SmtpSettings
    from adapters.sender_lock import sender_lock
    from application.jobs.outbox import Outbox

    if settings.mailer not in ("folder", "smtp"):
        raise SettingsError(f"mailer: {settings.mailer!r} is not folder or smtp")
    if mailer is None and settings.mailer == "smtp":
        try:
            smtp = SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                username=settings.smtp_username,
                password=settings.smtp_password,
                timeout_seconds=settings.smtp_timeout_seconds,
                ca_file=settings.smtp_ca_file,
            )
        except ValueError as error:
            raise SettingsError(str(error)) from error
        mailer = SmtpMailer(smtp)
    elif mailer is None:
        mailer = FolderMailer(settings.data_dir / "outbox")
    directory = contact_matrix(settings)
    return Outbox(
        office,
        mailer,
        directory,
        outbox_position(settings),
        sender=settings.mail_from,
        domain=settings.mail_domain,
        lock=sender_lock(settings.tracking_env("Outbox"), "Outbox"),
    )


def outbox_position(settings: Settings) -> TrackedPosition:
    """Where the outbox is in the log (its own table), without a mailer or a directory: what
    `projections status` needs."""
    from adapters.tracking import TrackedPosition

    owner_only_files(settings)
    use_libpq_options(settings)
    with schema_lock(settings.store_env()):
        env = without_ddl_when_ready(settings.tracking_env("Outbox"), ("outbox_tracking",))
        return TrackedPosition(env, "Outbox")


def _client(settings: Settings, system: str, url: str | None) -> JsonClient | None:
    from adapters.systems.http import HttpSettings, JsonClient

    if not url:
        return None
    return JsonClient(
        system,
        HttpSettings(
            base_url=url,
            timeout_seconds=settings.systems_timeout_seconds,
            token=settings.systems_token,
        ),
    )


def outside_systems(settings: Settings, *needed: str) -> OutsideSystems:
    """Claro's systems over the configured HTTP gateways; each of `needed` (RR, AC, DIME,
    Diagnosticador, WFM) must have its URL set."""
    from adapters.systems.http import (
        HttpAccounts,
        HttpDiagnostics,
        HttpScheduling,
        HttpTickets,
    )

    urls = {
        RR: ("BACKOFFICE_RR_URL", settings.rr_url),
        AC: ("BACKOFFICE_AC_URL", settings.ac_url),
        DIME: ("BACKOFFICE_DIME_URL", settings.dime_url),
        DIAGNOSTICADOR: ("BACKOFFICE_DIAGNOSTICS_URL", settings.diagnostics_url),
        WFM: ("BACKOFFICE_WFM_URL", settings.wfm_url),
    }
    for system in needed:
        variable, url = urls[system]
        if not url:
            raise SettingsError(f"{variable} is not set: the {system} gateway is needed here")
    clients = {system: _client(settings, system, url) for system, (_, url) in urls.items()}

    def port(system: str, cls: Callable[[JsonClient], T]) -> T | None:
        client = clients[system]
        return cls(client) if client is not None else None

    return OutsideSystems(
        rr=port(RR, HttpAccounts),
        ac=port(AC, HttpAccounts),
        diagnostics=port(DIAGNOSTICADOR, HttpDiagnostics),
        tickets=port(DIME, HttpTickets),
        scheduling=port(WFM, HttpScheduling),
        how_to_configure={system: variable for system, (variable, _) in urls.items()},
    )


def outside_writer(office: Backoffice, settings: Settings) -> OutsideWriter | None:
    """What the sweep settles pending outside writes with; None when no gateway is set."""
    systems = outside_systems(settings)
    ports = (systems.rr, systems.ac, systems.diagnostics, systems.tickets, systems.scheduling)
    return OutsideWriter(office, systems) if any(p is not None for p in ports) else None


def contact_matrix(settings: Settings) -> ContactDirectory:
    from adapters.mail.directory import ContactDirectory, DirectoryError

    matrix = settings.contact_matrix_path()
    try:
        return ContactDirectory.load(matrix) if matrix else ContactDirectory({}, (), None)
    except DirectoryError as error:
        raise SettingsError(str(error)) from error


def build_sac_desk(office: Backoffice, settings: Settings) -> SacDesk:
    """SAC over the configured RR (AC for móvil cases) and DIME gateways."""
    from application.branches.sac import SacDesk

    return SacDesk(office, outside_systems(settings, RR), contact_matrix(settings))


def build_support_desk(
    office: Backoffice, settings: Settings, needed: tuple[str, ...] = (DIAGNOSTICADOR, RR)
) -> SupportDesk:
    """Support over the configured Diagnosticador, RR, DIME and WFM gateways (`needed` must
    be set)."""
    from application.branches.support import SupportDesk

    systems = outside_systems(settings, *needed)
    return SupportDesk(office, systems, contact_matrix(settings))


def build_pqr_desk(office: Backoffice, settings: Settings) -> PqrDesk:
    from application.branches.pqr import PqrDesk

    return PqrDesk(office, outside_systems(settings, RR), contact_matrix(settings))


def dispatcher(office: Backoffice, settings: Settings) -> Dispatcher:
    """The one door for every command (`application.dispatch`), over the configured gateways
    and contact matrix: what the CLI and the HTTP API give their commands to."""
    from application.dispatch import Dispatcher

    if settings.simulated_systems:  # the demo's folder: its week's systems, in memory
        from entrypoints.demo import simulated_systems

        systems = simulated_systems(office.clock)
    else:
        systems = outside_systems(settings)
    return Dispatcher(office, systems, lambda: contact_matrix(settings))


def accounts(
    office: Backoffice, settings: Settings, *, hasher: PasswordHasher | None = None
) -> Accounts:
    """Accounts, sign-in and tokens (`application.access.accounts`) beside `office`, checked
    against its roster: in `accounts.sqlite` in the data folder (owner only), in the office's
    PostgreSQL database, or in memory. `hasher` overrides Argon2's default cost (tests). The
    same store keeps the `Idempotency-Key`s. Whether a roster is in use and each person's
    roster state are kept between requests and checked against the log's news on each
    (`RosterWatch`); on PostgreSQL the log's table is in the accounts' database, and the
    account's read brings that news in the same statement (`SharedLog`)."""
    from adapters.accounts import (
        ACCOUNT_TABLES,
        Argon2Hasher,
        MemoryAccountStore,
        SharedLog,
        SqlAccountStore,
    )
    from adapters.eventstore.mapper import TOPICS
    from application.access.accounts import Accounts, RosterWatch

    opened: MemoryAccountStore | SqlAccountStore
    if settings.backend == "memory":
        opened = MemoryAccountStore()
    else:
        use_libpq_options(settings)
        log = None
        if settings.backend == "postgres":  # the log's table, as the event store names it
            log = SharedLog(
                schema=settings.store_env().get("POSTGRES_SCHEMA") or "public",
                table=STORE_TABLES[0],
                topics=tuple(sorted(TOPICS[kind] for kind in RosterWatch.KINDS)),
            )
        with schema_lock(settings.store_env()):
            env = without_ddl_when_ready(settings.view_env("accounts"), ACCOUNT_TABLES)
            opened = SqlAccountStore(env, log=log)
    store: AccountStore = opened
    return Accounts(
        store,
        hasher or Argon2Hasher(),
        office.clock,
        office.roster,
        office.roster_in_use,
        log=office.store,
        idempotency=opened,
    )


def read_register(settings: Settings) -> MemoryReadRegister | SqlReadRegister:
    """The register of reads of personal data (`adapters.read_register`): in
    `personal_reads.sqlite` in the data folder (owner only), in the office's PostgreSQL
    database (`personal_reads`), or in memory. What the HTTP API and the console record their
    reads in, `backoffice audit reads` and `GET /audit/reads` export, and `privacy export`
    reads a data subject's cases in (`reads(case_ids=...)`). The caller closes it."""
    from adapters.read_register import READ_TABLES, MemoryReadRegister, SqlReadRegister

    if settings.backend == "memory":
        return MemoryReadRegister()
    if settings.backend == "sqlite":  # the adapter makes its own file owner-only
        settings.data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    use_libpq_options(settings)
    with schema_lock(settings.store_env()):
        env = without_ddl_when_ready(settings.view_env("personal_reads"), READ_TABLES)
        return SqlReadRegister(env)


def tamper_audit(office: Backoffice) -> ChainAudit | None:
    """The tamper evidence of the office's event store (`adapters.eventstore.chain`): what
    `backoffice audit verify` and the worker's audit job read; None for a store that keeps no
    hashes (the in-memory one)."""
    audit = getattr(office.store, "audit", None)
    found: ChainAudit | None = audit() if callable(audit) else None
    return found


def privacy(office: Backoffice, settings: Settings, *, reads: bool = True) -> Privacy:
    """The data subjects' erasure, export, correction and retention (`application.privacy`)
    over the office's key store (`adapters.personal_keys`) and, with `reads`, the register of
    reads (`read_register`: the caller closes `privacy.reads`). Refused on the in-memory
    store, which seals nothing."""
    from application.privacy.subjects import Privacy

    store = office.store
    keys = getattr(store, "personal", None)
    states = getattr(store, "states", None)
    if keys is None or states is None:
        raise SettingsError(
            "the in-memory store keeps no personal-data keys (use sqlite or postgresql)"
        )
    register = read_register(settings) if reads else None
    # What empties the files of deleted keys and replaced names (SQLite: the write-ahead logs).
    keys_store = "cases.sqlite" if settings.backend == "sqlite" else "cases_personal_keys"
    purgers = {keys_store: keys.purge_deleted}
    purge_index = getattr(office.index, "purge_deleted", None)
    if callable(purge_index):
        purgers["case_index.sqlite"] = purge_index
    return Privacy(office, keys, drop_cached_states=states.drop, reads=register, purgers=purgers)


def retention_job(office: Backoffice, settings: Settings) -> RetentionJob | None:
    """The worker's retention job, when `personal_data_retention_years` is set and the store
    keeps keys."""
    from application.jobs.retention import RetentionJob

    years = settings.personal_data_retention_years
    if years is None or getattr(office.store, "personal", None) is None:
        return None
    return RetentionJob(privacy(office, settings, reads=False), years)
