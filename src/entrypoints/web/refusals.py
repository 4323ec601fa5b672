"""The domain's refusals in the console's language.

The domain, the application and the access rules refuse in one English line with the values
of the case in it ("the case is closed: close is not allowed (only a reopen is)"). The
console shows each in the user's language: `MESSAGES` lists the refusals as templates, each
`{placeholder}` standing for a value; a refusal is matched against them (the first that
matches wins: specific ones come before general ones), its template looked up in the
catalogue and filled again with the values, themselves translated when the placeholder says
what they are (`{field}` by its label on the form, `{why}` as a refusal in turn, `{category}`
by the category's label...). `tests/web/test_refusals.py` checks that every refusal written
in `src/` matches its template and that every template has its Spanish.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime

from domain.calendar import BOGOTA
from entrypoints.web.i18n import Speaker

MESSAGES: tuple[str, ...] = (
    # --- the console -----------------------------------------------------------------------
    "the form is out of date: reload the page and send it again",
    # --- signing in ------------------------------------------------------------------------
    "login or password is wrong",
    "the account is disabled",
    "not on the team's roster today (left on {day})",
    "not on the team's roster today",
    "the token is not valid",
    "the token was revoked",
    "the session has ended (signed out, or a new password): sign in again",
    # --- who may do what -------------------------------------------------------------------
    "an agent may take a case (assign it to themselves); reassigning is a supervisor's",
    "the case is {owner}'s: reassigning it is a supervisor's",
    "an administrator may not disable their own account (another administrator may)",
    "{command} is recorded by the system, not asked for",
    "a token with scope intake only hands cases over",
    "a token with scope read hands nothing over",
    "a token with scope read may not change accounts or tokens",
    "a token with scope {scope} gives no command on cases",
    "a token with scope {scope} may not ask for visit slots",
    "a token with scope {scope} may not import {imported}",
    "{someone} does not hand cases over (the front line's systems do)",
    "{someone} may not ask for visit slots: whoever works the case does",
    "{someone} may not administer accounts and tokens",
    "{someone} may not read {reading}",
    "{someone} may not import {imported}",
    "{someone} may not {command}",
    # --- the case and its procedure --------------------------------------------------------
    "the case is closed: {action} is not allowed (only a reopen is)",
    "the case is closed: reopen it before requesting an adjustment",
    "the case is open; only a closed case can be reopened",
    "the closing protocol is incomplete: missing {missing}",
    "not a first-contact resolution: {blockers} (close it normally)",
    "{action}: typify the case (marking and resolution) first",
    "{action}: record the closing protocol first",
    "{action}: follow-up #{id} still pending; complete it first",
    "{action}: follow-ups {ids} still pending; complete them first",
    "{action}: {clocks} still running; answer or complete it first",
    "the case has no PQR waiting for an answer",
    "the answer cannot be notified before the PQR was filed",
    "an adjustment is already pending on this case",
    "an adjustment request needs its DIME ticket",
    "the case has no pending adjustment",
    "no answer is awaited for escalation #{escalation}",
    "the new request is this case's own contact (same typification)",
    "the case is already assigned to {agent}",
    "the case is already interpreted as {category}/{subcategory}",
    "follow-up #{follow_up} is already pending at {time} Bogotá",
    "follow-up #{follow_up} is already {status}",
    "the case has no pending follow-up",
    "interpret the case (category and subcategory) before typifying it",
    "the PQR {cun} is open on this case (its response clock runs): answer it (pqr-answer) "
    "before a typification with another CUN or none",
    "{write} is still pending on this case: repeat that request, or let the sweep settle it, "
    "before asking for another",
    "the case asked for no outside write with key {key}",
    "interpret the case before checking the account",
    "the case has no clock #{clock}",
    "the case has no follow-up #{follow_up}",
    "no case found for that reference (search by account, phone or name instead)",
    "no case of that account",
    "no case found for {reference} as of {moment}",
    "no case found for {reference}",
    "a case already exists for {reference}",
    "{reference} matches several cases ({ids}); use the case id",
    "the case changed since version {expected} (it is at version {current}): read it again "
    "before acting",
    "case {case} kept changing under this command; try again",
    "no business calendar is configured: clocks cannot be computed",
    "{day} is outside the business calendar's years ({first}–{last})",
    "cannot assign the case: {why}",
    "interpret the case as PQR first",
    "a PQR needs its CUN: typify it with the CUN first",
    "branch B needs a contact with the customer after the PQR came in",
    "interpret the case as ventas first",
    "interpret the case as SAC (cartera, facturación or recaudo) first",
    "interpret the case as soporte first",
    "the contact matrix has no route for {route}",
    "say what the customer disputes (reason)",
    "WFM does not offer slot {slot} now: {slots}",
    "WFM offers {n} slot(s): agree one with the customer and give it ({slots})",
    "slot {slot} was taken meanwhile; order {order} stays: agree another slot with the customer",
    "escalation #{escalation} is not a visit without slot sent to the operation's CRM",
    "marking {marking} is for {categories} cases, this case is {category}",
    "marking {marking} means {resolution}, not {expected}",
    "{system} filed a PQR (CUN {cun}) for marking {marking}: it means {resolution}, not "
    "{expected}; the case records what {system} did",
    "{system} filed no PQR for marking {marking}: it means {resolution}, not {expected}; the "
    "case records what {system} did",
    "no gateway is configured for {system} (set {setting})",
    "no gateway is configured for {system}",
    "unknown outside operation {operation}",
    "no outside write with key {key} is pending on this case",
    "this back office was built without the indicators' projection",
    # --- the team: roster, shifts, practices -------------------------------------------------
    "the owner is not on the roster: import the roster first",
    "the agent is not on the roster: import them first",
    "{agent} is not on the roster on {day} (left on {left})",
    "{agent} is not on the roster on {day}",
    "{agent} is not on the roster",
    "{agent} is a {role} on the roster, not a back-office agent",
    "{agent} was not on the roster on {day}",
    "{agent} had the role {role}; {practice} is held by: {roles}",
    "{agent} left on {left}; a rejoin must start after that (got {day})",
    "{agent} already left on {left}",
    "{agent} moved team or role on {day}; the last day cannot be before it",
    "register entry {key} is already recorded with other data",
    # --- accounts and tokens -----------------------------------------------------------------
    "an account {login} exists already",
    "no account {login}",
    "{login} is disabled: enable it before issuing a token",
    "no token {token}",
    "the last enabled administrator's account is not disabled: add or enable another first",
    "a request with this Idempotency-Key is in progress",
    # --- a value refused, named by its field (after the refusals with a `{x}: ` of their
    # own, before the reasons that start with a value: "'x' is not one of: a, b") -----------
    "{field}: {why}",
    # --- why a value is refused (the `{why}` above) -------------------------------------------
    "required",
    "must not be empty",
    "is {length} characters long; at most {most}",
    "holds a NUL character",
    "must be one line (it holds a line break or a control character)",
    "needs a time zone (a naive date-time is ambiguous)",
    "is in the future: a case cannot be received after now (clocks may differ by 5 minutes at "
    "most)",
    "is on a day before the case was received (received_at): the follow-up the customer asked "
    "for cannot precede the call",
    "is out of range (years {first}–{last})",
    "is not an account number (digits, letters, '-' or '.', at least one digit, at most 30 "
    "characters)",
    "must be one e-mail address (or a name)",
    "must be at least 12 characters",
    "must be at most 1024 characters",
    "answer yes or no",
    "not one of the choices",
    "give a whole number",
    "give a date and time (2026-12-05 09:30)",
    "one key=value a line",
    "a filing time needs its cun",
    "a marking that generates a CUN needs the CUN",
    "a first-contact resolution carries no CUN",
    "a PQR cannot be filed in the future",
    "{subcategory} is not a subcategory of {category} (one of: {subcategories})",
    "a follow-up belongs to the case's future; {time} is past",
    "a follow-up belongs to the case's future",
    "the slot must end after it starts",
    "a visit slot must be in the future; {time} is past",
    "{value} is outside 0–100",
    "{value} is outside 0–10",
    "{value} is not between 1 and 600",
    "{value} is not between 1 and 60",
    "{value} is not one of: {choices}",
    "{value} is not in the marking catalogue",
    "{day} is before the agent joined ({joined})",
    "{day} is before {agent} joined ({joined})",
    "an agent login is required",
    "give the corrected name, phone or both",
    "unknown actor kind {kind}",
    "a phone is 7 to 15 digits (spaces, dashes, a leading +)",
    "a CUN is 6 to 30 digits, optionally with dashes",
    "1 to 64 lower-case letters, digits, '.', '_' or '-' (one line)",
    "an integration has none: it uses tokens",
    "the role {role} needs one",
    "12 lower-case hexadecimal digits (see the token list)",
    "1 to 255 visible ASCII characters (a UUID, say), no spaces",
    "reused for another request (a new request needs a new key)",
    "say why the write was not applied (or give its answer)",
    "the same typification is this case's own request, not a new one",
    "differs from case {reference} as ingested: kept as it was",
    "no case with that key",
    "at most 200 characters",
    "at least 1",
    "not negative",
    "the case is at version {current}, not {version}",
    "this agent already has a shift that day in this file ({day})",
)
"""Every refusal the console translates, as a template (more specific ones first)."""

VALUE_PATTERNS: dict[str, str] = {"field": r"[\w.-]+(?: [\w.-]+)?"}
"""What a placeholder's value may be, when not any text: a field is a name (one or two
words: `subcategory`, `source key`), so a reason with a colon of its own is not read as a
field and its reason."""

LABELLED: dict[str, str] = {
    "action": "action",
    "missing": "protocol",
    "blockers": "blocker",
    "clocks": "clock",
    "reading": "reading",
    "imported": "imported",
    "category": "category",
    "categories": "category",
    "subcategory": "subcategory",
    "subcategories": "subcategory",
    "status": "follow-up",
    "resolution": "resolution",
    "expected": "resolution",
    "role": "role",
    "slots": "slots",
}
"""Placeholders whose value is a label of some kind: each reads as the catalogue's
`kind:value` (a list, item by item)."""
MID_SENTENCE = frozenset({"role", "follow-up"})
"""Kinds whose labels (capitalised on their own, "Auditor", "Realizado tarde") read in
lower case inside a refusal."""


@functools.cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    compiled = []
    for template in MESSAGES:
        seen: set[str] = set()
        regex = []
        for part in re.split(r"(\{\w+\})", template):
            name = part[1:-1] if re.fullmatch(r"\{\w+\}", part) else None
            if name is None:
                regex.append(re.escape(part))
            elif name in seen:
                regex.append(f"(?P={name})")  # the same value again
            else:
                seen.add(name)
                regex.append(f"(?P<{name}>{VALUE_PATTERNS.get(name, '.+?')})")
        compiled.append((template, re.compile("".join(regex), re.DOTALL)))
    return tuple(compiled)


def template_of(text: str) -> tuple[str, dict[str, str]] | None:
    """The template `text` was written from, and its values; None when none matches."""
    for template, pattern in _patterns():
        match = pattern.fullmatch(text)
        if match is not None:
            return template, match.groupdict()
    return None


MAX_TEXT = 2_000
"""A refusal longer than this is shown as it is (no refusal of the domain is)."""
MAX_DEPTH = 3
"""How deep a reason within a reason is translated (`field: why`, whose `why` is a reason)."""


def refusal_text(text: str, t: Speaker, depth: int = 0) -> str:
    """`text` (a refusal, in English) in the language of `t`; as it is when no template
    matches it."""
    text = text.strip()
    found = template_of(text) if len(text) <= MAX_TEXT and depth <= MAX_DEPTH else None
    if found is None:
        return t.gettext(text)
    template, values = found
    return t.gettext(template).format(**{name: _value(name, value, t, depth)
                                         for name, value in values.items()})  # fmt: skip


def _value(name: str, value: str, t: Speaker, depth: int = 0) -> str:
    """A value of a refusal, as the user reads it: a field by its label on the form, a
    reason translated in turn, a command by its form's title, a role, a category or a
    clock by its label; a moment as the console writes it (Bogotá, "1 dic 2026, 09:00");
    anything else as it is (a login, a day, a CUN)."""
    from entrypoints.web.views import FIELD_LABELS, TITLES

    moment = _moment(value)
    if moment is not None:
        return t.when(moment)
    if name == "field":
        return t.gettext(FIELD_LABELS.get(value, value))
    if name == "why":
        return refusal_text(value, t, depth + 1)
    if name == "command":  # `AssignCase`, or as the access rules say it: "assign case"
        command = value if value in TITLES else "".join(w.capitalize() for w in value.split())
        title = TITLES.get(command, value)
        translated = t.gettext(title)
        return translated if translated != title else value  # English: the rule's own words
    if name == "someone":  # "an auditor": the role, read as its label
        role = value.partition(" ")[2]
        label = _label("role", role, t)
        return label.lower() if label != role else value
    kind = LABELLED.get(name)
    if kind is None:
        return value
    text = _label(kind, value, t)
    return text.lower() if kind in MID_SENTENCE and text != value else text


_BOGOTA_MINUTE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
"""A moment written without its offset, in Bogotá time ("already pending at … Bogotá")."""


def _moment(value: str) -> datetime | None:
    """`value` read as a moment: with its offset (ISO 8601, or Python's `str`), or to the
    minute in Bogotá time; None when it is not one."""
    from entrypoints.web.views import moment_of

    if _BOGOTA_MINUTE.fullmatch(value):
        try:
            return datetime.fromisoformat(value).replace(tzinfo=BOGOTA)
        except ValueError:
            return None
    return moment_of(value)


def _label(kind: str, value: str, t: Speaker) -> str:
    """`value`'s label of `kind` from the catalogue; a list ("a, b" or "a; b") item by item;
    the value itself when the catalogue has no label for it."""
    if len(value) > 2 and value[0] == value[-1] == "'":  # a value quoted as `repr` shows it
        return f"'{_label(kind, value[1:-1], t)}'"
    key = f"{kind}:{value}"
    text = t.gettext(key)
    if text != key:
        return text
    for separator in ("; ", ", "):
        if separator in value:
            return separator.join(_label(kind, item, t) for item in value.split(separator))
    return value
