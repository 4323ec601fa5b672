"""The team behind the cases: the roster's and the practice register's streams."""
