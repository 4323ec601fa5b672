"""Adapters to Claro's systems: scriptable in-memory fakes and HTTP/JSON clients."""
