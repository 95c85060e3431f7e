"""Accounts of the viewer, kept in the same database as the data: a table ``users`` (a GeoPackage
attributes table, or a PostgreSQL table beside the PostGIS layers).

Roles (SPEC §9, issue 5): ``surveyor`` uploads for their own province only; ``official`` sees everything
and uploads nothing; ``analyst`` reads and exports. Passwords are stored as werkzeug salted hashes, never
in clear. The table is created on first use (``quhua users add``), with the database if need be; its
version is recorded in ``quhua_meta`` (``users_schema_version``) beside the layers' one, on both databases
(:mod:`boundaries.store.migrations`). Its SQL runs through the store (``fetch``/``execute``).
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from werkzeug.security import check_password_hash, generate_password_hash

from boundaries.errors import ConfigError, StoreError
from boundaries.readers import check_province
from boundaries.store import Store
from boundaries.store.migrations import Migration

__all__ = ["ROLES", "User", "UserStore"]

ROLES = ("surveyor", "official", "analyst")
_TABLE = "users"
_COLUMNS = {"name": "TEXT", "password_hash": "TEXT", "role": "TEXT", "province": "TEXT", "created_at": "DATETIME"}
#: The accounts' schema versions (both databases) → the migration that reaches each.
MIGRATIONS = {1: Migration("viewer accounts", layers={_TABLE: (None, _COLUMNS, "用户 viewer accounts")},
                           sql=(f'CREATE UNIQUE INDEX IF NOT EXISTS "{_TABLE}_name" ON "{_TABLE}" (name)',))}
_VERSION_KEY = "users_schema_version"
_LOCK = (0x5148, -1)  # beside the store's advisory locks (namespace "QH"; 0 = init, provinces 11…82)
_UPSERT = (f'INSERT INTO "{_TABLE}" (name, password_hash, role, province, created_at) VALUES (?, ?, ?, ?, ?) '
           "ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role, "
           "province = excluded.province, created_at = excluded.created_at")


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, made like real ones (so verifying it costs the same)."""
    return generate_password_hash(secrets.token_hex(16))


@dataclass(frozen=True)
class User:
    """A logged-in person: name, role and (surveyors) province code."""

    name: str
    role: str
    province: str | None = None


class UserStore:
    """The ``users`` table of a store (GeoPackage or PostGIS): add, find, check a password, list, remove."""

    def __init__(self, store: Store):
        from boundaries.store.geopackage import GeoPackageStore
        from boundaries.store.postgis import PostgisStore

        if not isinstance(store, GeoPackageStore | PostgisStore):
            raise StoreError(f"accounts are kept in a GeoPackage or a PostGIS database; {store.url} is neither",
                             message_zh=f"账户只能保存在 GeoPackage 或 PostGIS 数据库中；{store.url} 两者都不是")
        self.store = store

    # -- the database, through the store ------------------------------------------------------------
    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.store.fetch(sql, params)

    def _has_table(self) -> bool:
        return self.store.exists() and self.store.has_table(_TABLE)

    def _create(self) -> None:
        """Create the table (and the database, if it has not been created yet) unless it is there, as the
        accounts' migrations say."""
        if not self.store.exists():
            self.store.init()
        if self.store.version(_VERSION_KEY) >= max(MIGRATIONS):
            return
        with self.store.transaction():  # one creator at a time; versioned as the layers are
            self.store.migrate(_VERSION_KEY, MIGRATIONS, f"the users table of {self.store.url} has version",
                               lock=_LOCK, what_zh=f"{self.store.url} 中用户表的版本为")

    # -- accounts ---------------------------------------------------------------------------------
    def add(self, name: str, password: str, role: str, province: str | None = None) -> User:
        """Create or replace an account; a surveyor needs a province."""
        if role not in ROLES:
            raise ConfigError(f"--role {role!r}: choose one of {', '.join(ROLES)}",
                              message_zh=f"--role {role!r}：请从 {'、'.join(ROLES)} 中选择")
        if role == "surveyor" and not province:
            raise ConfigError("a surveyor needs --province CODE (the province they upload for), e.g. 360000",
                              message_zh="测绘人员（surveyor）须用 --province 代码 指定其报送的省份，如 360000")
        province = check_province(province) if province else None
        if not name.strip() or len(password) < 8:
            raise ConfigError("give a user name and a password of at least 8 characters",
                              message_zh="请给出用户名和至少 8 个字符的密码")
        self._create()
        self.store.execute(_UPSERT, (name.strip(), generate_password_hash(password), role, province,
                              datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
        return User(name.strip(), role, province)

    def get(self, name: str) -> User | None:
        """The account called ``name``, or None."""
        if not self._has_table():
            return None
        rows = self._query(f'SELECT name, role, province FROM "{_TABLE}" WHERE name = ?', (name,))
        return User(*rows[0]) if rows else None

    def account(self, name: str) -> tuple[User, str] | None:
        """The account called ``name`` with its stored password hash, or None."""
        if not self._has_table():
            return None
        rows = self._query(f'SELECT password_hash, name, role, province FROM "{_TABLE}" WHERE name = ?', (name,))
        return (User(*rows[0][1:]), rows[0][0]) if rows else None

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password matches, else None (same answer for unknown names)."""
        found = self.account(name)
        if found is None:  # verify a hash all the same: an unknown name takes as long as a wrong password
            check_password_hash(_dummy_hash(), password)
            return None
        return found[0] if check_password_hash(found[1], password) else None

    def list(self) -> list[User]:
        """Every account, by name."""
        if not self._has_table():
            return []
        # code point order on both, whatever the locale
        order = 'name COLLATE "C"' if self.store.dialect.name == "postgresql" else "name"
        return [User(*r) for r in self._query(f'SELECT name, role, province FROM "{_TABLE}" ORDER BY {order}')]

    def remove(self, name: str) -> bool:
        """Delete an account; whether it existed."""
        if not self._has_table():
            return False
        return self.store.execute(f'DELETE FROM "{_TABLE}" WHERE name = ?', (name,)) > 0
