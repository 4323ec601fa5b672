"""NYC Council constituent cases (CouncilStat) mapped onto CRM export rows.

The source file is public casework of the NYC Council (see /work/shared/data/SOURCES.md),
not telecom data: this module turns each of its rows into a row of a CRM export, streaming
(gzip + csv, one row in memory at a time), so that the import can be timed at scale.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice
from pathlib import Path

from adapters.intake.parsing import CRM_FIELDS
from bench.common import REPO_ROOT

DEFAULT_PATH = REPO_ROOT.parent / "shared" / "data" / "nyc_council_constituent_cases.csv.gz"

CRM_COLUMNS = CRM_FIELDS

HOME_BOROUGHS = frozenset({"MANHATTAN", "BROOKLYN"})
NAMES = (
    "Ana María Peña",
    "Jorge Núñez",
    "Lucía Ibáñez",
    "Camilo Rengifo",
    "Sofía Restrepo",
    "Andrés Gómez",
    "Valentina Ortiz",
    "Mateo Cárdenas",
    "Isabela Londoño",
    "Juan Pablo Mejía",
    "Daniela Quintero",
    "Santiago Ríos",
)
NO_TYPIFICATION = "Sin tipificar"
NO_ZIP = "00000"
FOLLOW_UP_AFTER = timedelta(days=2)

MAPPING = (
    "`crm_case_id` = `NYC-` + `unique_key`; "
    "`received_at` = `opendate` (ISO date: 00:00 Bogotá); "
    "`account` = `account` (council office) + `zip` (`00000` when blank or not letters and "
    "digits) + `opendate`, "
    "e.g. `NYCC34-11385-2025-01-09`: one synthetic customer per office, ZIP code and day, so "
    "that another contact about the same complaint type that day is a repeat contact; "
    "`line` = `hogar` when `borough` is Manhattan or Brooklyn, else `movil`; "
    "`customer_name` = one of 12 synthetic names, chosen by CRC-32 of `unique_key`; "
    "`typification` = `complaint_type` (`Sin tipificar` when blank); "
    "`request` = `descriptor`; `follow_up_at` = `opendate` + 2 days (09:00 Bogotá); "
    "`front_agent` = `council-` + `council_dist` (empty when blank); `recommended_by` empty."
)
ACCOUNT_CHOICE = (
    "Why that account: office + ZIP alone would make 94 % of the 341k rows repeat contacts "
    "(20,163 distinct office/ZIP/complaint-type triples, one of them 6,651 rows), which is no "
    "customer base; adding the day gives about 27 % repeat contacts on the full file (25 % on "
    "the first 30k rows), the largest group 452 rows."
)


@dataclass(frozen=True)
class Conversion:
    rows: int
    path: Path


def crm_row(row: dict[str, str], *, distinct_accounts: bool = False) -> list[str]:
    """One CouncilStat row as a CRM export row (see `MAPPING`).

    With `distinct_accounts` every row gets an account of its own (office + `unique_key`), so
    that no row is a repeat contact: the import then only creates cases.
    """
    key = row["unique_key"].strip()
    opened = row["opendate"].strip()
    follow_up = ""
    if opened:
        follow_up = (date.fromisoformat(opened) + FOLLOW_UP_AFTER).isoformat()
    office = row["account"].strip()
    zip_code = row["zip"].strip()
    if not zip_code.isalnum() or not zip_code.isascii():  # blank, `n/a`, `New Y`: no account's
        zip_code = NO_ZIP
    borough = row["borough"].strip().upper()
    district = row["council_dist"].strip()
    account = f"{office}-{key}" if distinct_accounts else f"{office}-{zip_code}-{opened}"
    return [
        f"NYC-{key}",
        opened,
        account,
        "hogar" if borough in HOME_BOROUGHS else "movil",
        NAMES[zlib.crc32(key.encode()) % len(NAMES)],
        row["complaint_type"].strip() or NO_TYPIFICATION,
        row["descriptor"].strip(),
        follow_up,
        f"council-{district}" if district else "",
        "",
    ]


def convert(
    source: Path, target: Path, limit: int | None = None, *, distinct_accounts: bool = False
) -> Conversion:
    """Write a CRM export CSV (UTF-8, comma) from the first `limit` rows of `source`."""
    count = 0
    with (
        gzip.open(source, "rt", encoding="utf-8", newline="") as incoming,
        target.open("w", encoding="utf-8", newline="") as outgoing,
    ):
        writer = csv.writer(outgoing)
        writer.writerow(CRM_COLUMNS)
        for row in islice(csv.DictReader(incoming), limit):
            writer.writerow(crm_row(row, distinct_accounts=distinct_accounts))
            count += 1
    return Conversion(count, target)
