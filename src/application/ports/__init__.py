"""What the application needs from the outside, as small protocols."""
