"""The team's imports: roster, shifts and the practice register."""
