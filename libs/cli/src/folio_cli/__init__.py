"""The ``folio`` command line: a client of the API and an operator's tool."""

__version__ = "0.1.0"
