"""Intake adapters: CRM exports (CSV, JSON Lines) and mailboxes read into intake items.

See docs/intake.md for the accepted input formats.
"""
