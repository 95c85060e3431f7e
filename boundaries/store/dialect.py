"""The SQL differences between the two databases, in one place: the embedded GeoPackage (SQLite) and the
PostGIS server (PostgreSQL).

Everything above the stores — the boundaries' :class:`~boundaries.store._sql.SqlStore`, the gazetteer's
stores, the viewer's accounts and snapshots, the migrations — writes its SQL once, with ``?`` placeholders,
and asks the store's :class:`Dialect` for what differs: the placeholder style, how a list parameter, a
substring test or today's date is written, whether a table exists, what its columns are, the column types,
how a read snapshot begins. What cannot be written in common (the GeoPackage's rtree triggers, PostgreSQL's
COPY) stays in the backend modules.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod

__all__ = ["POSTGRESQL", "SQLITE", "Dialect", "column_definitions", "dialect_of"]

_PG_TYPES = {"TEXT": "text", "INTEGER": "bigint", "REAL": "double precision", "DATETIME": "timestamptz"}


def column_definitions(columns: dict[str, str], text: str = "text") -> str:
    """``, "column" type`` for each of ``columns`` (GeoPackage types: TEXT, INTEGER, REAL, DATETIME) in
    PostgreSQL's types, with ``text`` for TEXT (e.g. ``text COLLATE "C"``)."""
    types = {**_PG_TYPES, "TEXT": text}
    return "".join(f', "{c}" {types[t]}' for c, t in columns.items())


class Dialect(ABC):
    """What one database writes differently; stateless, one instance per database kind."""

    #: ``sqlite`` or ``postgresql`` (the keys of a :class:`~boundaries.store.migrations.Migration`'s
    #: dialect-specific statements)
    name: str
    #: what stands for "no limit" before an OFFSET
    no_limit: str
    #: today's date as ``YYYY-MM-DD``
    today: str

    @abstractmethod
    def sql(self, text: str) -> str:
        """``text`` with its ``?`` placeholders in this database's style."""

    @abstractmethod
    def in_list(self, column: str, values: list) -> tuple[str, object]:
        """``column`` is one of ``values`` (texts or numbers): the condition and its one parameter."""

    def equals(self, column: str, value) -> tuple[str, list]:
        """A property filter's condition on ``column`` (an SQL expression) and its parameters: a list, tuple or
        set means any of its values, None means NULL, anything else equality."""
        if isinstance(value, list | tuple | set | frozenset):
            clause, param = self.in_list(column, list(value))
            return clause, [param]
        if value is None:
            return f"{column} IS NULL", []
        return f"{column} = ?", [value]

    @abstractmethod
    def contains(self, column: str) -> str:
        """The condition that ``column`` contains the text of a ``?`` parameter."""

    @abstractmethod
    def unindexed(self, column: str) -> str:
        """``column`` written so that the planner does not choose an index on it (SQLite's unary ``+``, for a
        condition that the spatial index should lead instead); PostgreSQL's planner weighs its statistics."""

    @abstractmethod
    def has_table(self, con, name: str) -> bool: ...

    @abstractmethod
    def columns(self, con, table: str) -> set[str]:
        """The column names of ``table`` (empty when there is no such table)."""

    @abstractmethod
    def begin_snapshot(self, con) -> None:
        """Start a read-only transaction that sees the database as it is now, until it ends."""

    @abstractmethod
    def end_snapshot(self, con) -> bool:
        """Roll back the connection's open transaction, if any; False when the connection is unusable."""


class _Sqlite(Dialect):
    name, no_limit, today = "sqlite", "-1", "date('now')"

    def sql(self, text):
        return text

    def in_list(self, column, values):
        return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(values), ensure_ascii=False)

    def contains(self, column):
        return f"instr({column}, ?) > 0"

    def unindexed(self, column):
        return f"+{column}"

    def has_table(self, con, name):
        return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() \
            is not None

    def columns(self, con, table):
        return {row[1] for row in con.execute(f'PRAGMA table_info("{table}")')}

    def begin_snapshot(self, con):
        con.execute("BEGIN")  # deferred: the snapshot is taken by the first read (WAL mode)

    def end_snapshot(self, con):
        if con.in_transaction:
            con.rollback()
        return True


class _Postgresql(Dialect):
    name, no_limit, today = "postgresql", "ALL", "to_char(current_date, 'YYYY-MM-DD')"

    def sql(self, text):
        return text.replace("?", "%s")

    def in_list(self, column, values):
        return f"{column} = ANY(?)", list(values)

    def contains(self, column):
        return f"strpos({column}, ?) > 0"

    def unindexed(self, column):
        return column

    def has_table(self, con, name):
        return bool(con.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0])

    def columns(self, con, table):
        return {row[0] for row in con.execute("SELECT column_name FROM information_schema.columns "
                                              "WHERE table_name = %s AND table_schema = current_schema()",
                                              (table,))}

    def begin_snapshot(self, con):
        con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def end_snapshot(self, con):
        if con.closed or con.broken:
            return False
        if con.info.transaction_status:  # not IDLE: a transaction begun by hand on the autocommit connection
            con.execute("ROLLBACK")
        return True


SQLITE: Dialect = _Sqlite()
POSTGRESQL: Dialect = _Postgresql()


def dialect_of(url: str) -> Dialect:
    """The dialect of a database URL (``postgresql://…``) or GeoPackage path."""
    return POSTGRESQL if str(url).startswith(("postgresql://", "postgres://")) else SQLITE
