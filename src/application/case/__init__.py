"""Commands on a case, as data, and their handling; the case's writes outside."""
