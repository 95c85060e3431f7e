"""One migration mechanism for both databases: numbered, recorded schema versions.

Each part of quhua that keeps tables in the database — the boundaries' layers (``schema_version``), the
gazetteer (``gazetteer_schema_version``), the viewer's accounts (``users_schema_version``) — declares its
migrations as a mapping *version → :class:`Migration`*, and :func:`migrate` brings the database from the
version recorded under that part's key in the table ``quhua_meta`` (key, value) to the latest, step by
step, inside the caller's transaction. ``quhua_meta`` is the same table on PostGIS and in the GeoPackage
(there a plain SQLite table, not registered in ``gpkg_contents``: GDAL and QGIS do not list it as a layer).

A GeoPackage written before its schema was versioned has no ``quhua_meta``: it counts as version 0 and every
migration runs on it. So each migration is written to be idempotent over what earlier quhua versions made
(tables ``CREATE … IF NOT EXISTS`` or skipped when present, columns added only when missing): the file is
upgraded whatever state those versions left it in, and from then on its version is recorded.

A migration creates tables (``layers``: name → (geometry type or None, {column: GeoPackage type},
description); feature tables get the GeoPackage's rtree index or PostGIS's GiST index), runs SQL common to
both databases (``sql``, ``?`` placeholders), SQL of one database only (``sqlite``, ``postgresql``), and/or a
Python step ``run(store)`` for what SQL cannot say (rebuilding derived rows).

Adding a table is one new numbered migration; the audit log was added so:

1. define it where its part keeps its definitions (the boundaries' tables: :data:`boundaries.store.SCHEMA`,
   the source of table definitions: ``SCHEMA["audit"] = (None, {"user": "TEXT", "action": "TEXT", …})``);
2. append the next version to that part's migrations, in :mod:`boundaries.store`'s ``MIGRATIONS``:
   ``3: Migration("the audit log (boundaries.audit)", layers=layers_of("audit"))``.

``quhua init`` (and every store that finds an older version) then upgrades existing databases of both
kinds; a database newer than this quhua is refused with a message saying so. A new part with tables of
its own (inspection rounds, say) takes a key of its own and calls :func:`migrate` with its mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from boundaries.errors import StoreError

__all__ = ["META_TABLE", "Migration", "layers_of", "migrate", "stored_version"]

META_TABLE = "quhua_meta"
#: (geometry type or None, {column: GeoPackage type}, description)
TableDefinition = tuple[str | None, dict[str, str], str]


@dataclass(frozen=True)
class Migration:
    """One numbered step of a schema: what it brings, and how, on each database."""

    what: str
    layers: Mapping[str, TableDefinition] = field(default_factory=dict)
    sql: tuple[str, ...] = ()
    sqlite: tuple[str, ...] = ()
    postgresql: tuple[str, ...] = ()
    run: Callable | None = None
    #: PostgreSQL type of TEXT columns of ``layers`` (the gazetteer's are ``text COLLATE "C"``)
    text_type: str = "text"


def layers_of(*names: str) -> dict[str, TableDefinition]:
    """The table definitions of :data:`boundaries.store.SCHEMA` for a migration's ``layers``."""
    from boundaries.store import DESCRIPTIONS, SCHEMA

    return {name: (*SCHEMA[name], DESCRIPTIONS.get(name, "")) for name in names}


def stored_version(store, key: str) -> int:
    """The version recorded under ``quhua_meta.key`` (0 when none is, or there is no ``quhua_meta``)."""
    if not store.has_table(META_TABLE):
        return 0
    rows = store.fetch(f"SELECT value FROM {META_TABLE} WHERE key = ?", [key])
    return int(rows[0][0]) if rows else 0


def migrate(store, key: str, migrations: Mapping[int, Migration], what: str, *, what_zh: str | None = None,
            lock: tuple[int, int] | None = None, context=None) -> tuple[int, int]:
    """Bring the tables versioned under ``key`` to the latest of ``migrations``, step by step, in the caller's
    transaction (on a store of :class:`~boundaries.store._sql.SqlStore`); ``lock`` (a PostgreSQL advisory
    lock key pair) serialises concurrent migrators (the GeoPackage's write transaction already does). A
    database newer than this quhua is refused: ``what`` names it in the message ("… has schema version"),
    ``what_zh`` in the Chinese one ("…的结构版本为"). A step's ``run`` is given ``context`` (the part's own
    store, e.g. the gazetteer's), else ``store``. Returns the versions before and after."""
    if lock is not None and store.dialect.name == "postgresql":
        store.execute("SELECT pg_advisory_xact_lock(?, ?)", list(lock))
    store.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    current, latest = stored_version(store, key), max(migrations)
    if current > latest:
        raise StoreError(f"{what} {current}, newer than this quhua ({latest}); upgrade quhua",
                         message_zh=f"{what_zh or what} {current}，比本版 quhua 支持的版本（{latest}）新；"
                                    "请升级 quhua")
    for version in range(current + 1, latest + 1):
        step = migrations[version]
        for name, (geometry_type, columns, description) in step.layers.items():
            store.create_table(name, geometry_type, columns, description, text_type=step.text_type)
        for statement in (*step.sql, *getattr(step, store.dialect.name)):
            store.execute(statement)
        if step.run is not None:
            step.run(store if context is None else context)
    if latest > current:
        store.execute(f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?) "
                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, str(latest)])
    return current, latest
