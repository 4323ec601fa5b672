"""The desks of the procedure's branches: SAC, support, PQR and sales."""
