"""One query string on a pooled psycopg2 connection, past SQLAlchemy's execution layer.

:meth:`folio_common.database.Database.statement` sends a single query string in
autocommit. Through SQLAlchemy's ``Connection`` that cost an upload's statement 0.41-0.47
ms of the API's CPU, and 0.13-0.2 ms on the pool's own psycopg2 connection: the
connection and transaction objects, the execution context, result metadata rebuilt from
each textual statement's cursor description, and the row objects (docs/performance.md).
Here the work gets a :class:`DirectConnection` with the part of the ``Connection`` API
statements use (``execute(query, params)``, whose rows have attributes and ``_asdict``),
and what SQLAlchemy would do on an error is kept: the driver's error is wrapped in
:class:`sqlalchemy.exc.DBAPIError`, which :func:`folio_common.uow.is_transient` judges,
and a connection the dialect sees as disconnected is invalidated, never pooled again.
The pool, its checkout and its events are SQLAlchemy's.
"""

from __future__ import annotations

import collections
import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

import psycopg2
import psycopg2.extensions
import sqlalchemy.exc
from sqlalchemy import Engine, TextClause

T = TypeVar("T")

#: The execution option of an engine view whose statements start with a timeout
#: (:func:`folio_common.database.timed_view`), the prefix as its value.
PREFIX_OPTION = "folio_statement_prefix"


class Executes(Protocol):
    """What a unit of work calls on its connection: SQLAlchemy's ``Connection`` in a
    transaction, a :class:`DirectConnection` in a single statement."""

    def execute(self, statement: TextClause, parameters: Mapping[str, Any] | None = None) -> Any:
        """Rows with ``first``, ``one``, ``scalar``, ``scalar_one`` and iteration."""


class Rows:
    """A statement's rows, fetched: the part of SQLAlchemy's ``Result`` the work uses."""

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if not self._rows:
            raise sqlalchemy.exc.NoResultFound("no row")
        if len(self._rows) > 1:
            raise sqlalchemy.exc.MultipleResultsFound("more than one row")
        return self._rows[0]

    def scalar(self) -> Any:
        row = self.first()
        return None if row is None else row[0]

    def scalar_one(self) -> Any:
        return self.one()[0]


@functools.lru_cache(maxsize=256)
def _row_type(names: tuple[str, ...]) -> Any:
    """A row type with these columns: attribute access and ``_asdict``, as SQLAlchemy's."""
    return collections.namedtuple("Row", names)


@functools.lru_cache(maxsize=512)
def _driver_sql(statement: TextClause, dialect: Any) -> str:
    """``statement`` with the driver's placeholders (``%(name)s``), compiled once."""
    return str(statement.compile(dialect=dialect))


class DirectConnection:
    """A pooled psycopg2 connection in autocommit, for the one query string of a statement.

    Parameters:
      pooled: the pool's proxy for it (:meth:`Engine.raw_connection`).
      engine: for its dialect (the SQL and error handling) and its statement prefix.
    """

    def __init__(self, pooled: Any, engine: Engine) -> None:
        self._pooled = pooled
        self._dialect = engine.dialect
        self._prefix: str = engine.get_execution_options().get(PREFIX_OPTION, "")

    def execute(self, statement: TextClause, parameters: Mapping[str, Any] | None = None) -> Rows:
        sql = self._prefix + _driver_sql(statement, self._dialect)
        params = dict(parameters or {})
        cursor = None
        try:
            cursor = self._pooled.cursor()
            cursor.execute(sql, params)
            if cursor.description is None:
                return Rows([])
            row = _row_type(tuple(column.name for column in cursor.description))
            return Rows([row._make(values) for values in cursor.fetchall()])
        except psycopg2.Error as exc:
            raise self.translated(exc, sql, params, cursor) from exc
        finally:
            if cursor is not None:
                with contextlib.suppress(psycopg2.Error):
                    cursor.close()

    def translated(
        self, exc: psycopg2.Error, sql: str | None, params: Any, cursor: Any = None
    ) -> sqlalchemy.exc.DBAPIError:
        """``exc`` as SQLAlchemy raises it; a lost connection is invalidated first."""
        lost = self._dialect.is_disconnect(exc, self._pooled.dbapi_connection, cursor)
        if lost:
            self._pooled.invalidate(exc)
        return _wrapped(exc, sql, params, lost)


def _wrapped(
    exc: psycopg2.Error, sql: str | None, params: Any, lost: bool
) -> sqlalchemy.exc.DBAPIError:
    error: sqlalchemy.exc.DBAPIError = sqlalchemy.exc.DBAPIError.instance(
        sql, params, exc, psycopg2.Error, connection_invalidated=lost
    )
    return error


def attempt(engine: Engine, work: Callable[..., T], args: Any, kwargs: Any) -> T:
    """One try of ``work(conn, *args, **kwargs)`` on a pooled connection in autocommit
    (the shape of :func:`folio_common.uow.run_in_transaction`'s tries, for its retries)."""
    try:
        pooled: Any = engine.raw_connection()
    except psycopg2.Error as exc:  # could not connect: SQLAlchemy's own wrapping
        lost = engine.dialect.is_disconnect(exc, None, None)
        raise _wrapped(exc, None, None, lost) from exc
    conn = DirectConnection(pooled, engine)
    try:
        raw: Any = pooled.dbapi_connection
        try:
            if raw.status != psycopg2.extensions.STATUS_READY:
                raw.rollback()  # something began a transaction already (a pre-ping)
            raw.autocommit = True
        except psycopg2.Error as exc:  # closed under us: a fresh connection, please
            raise conn.translated(exc, None, None) from exc
        try:
            return work(conn, *args, **kwargs)
        finally:
            if pooled.is_valid:
                try:
                    raw.autocommit = False
                except psycopg2.Error:
                    pooled.invalidate()
    finally:
        pooled.close()
