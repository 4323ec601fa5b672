"""The Case aggregate: its events, state, decisions, deadlines and closing."""
