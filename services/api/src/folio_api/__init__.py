"""Folio's HTTP API: a thin Falcon app that validates, stores, enqueues and reads jobs."""

__version__ = "0.1.0"
