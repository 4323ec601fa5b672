"""The back office over HTTP: `backoffice serve` (see docs/http.md)."""
