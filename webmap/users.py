"""Accounts of the viewer, kept in the same database as the data (a GeoPackage attributes table ``users``).

Roles (SPEC §9, issue 5): ``surveyor`` uploads for their own province only; ``official`` sees everything
and uploads nothing; ``analyst`` reads and exports. Passwords are stored as werkzeug salted hashes, never
in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from werkzeug.security import check_password_hash, generate_password_hash

from boundaries.errors import ConfigError, StoreError
from boundaries.readers import check_province
from boundaries.store import Store

__all__ = ["ROLES", "User", "UserStore"]

ROLES = ("surveyor", "official", "analyst")
_TABLE = "users"
_COLUMNS = {"name": "TEXT", "password_hash": "TEXT", "role": "TEXT", "province": "TEXT", "created_at": "DATETIME"}


@dataclass(frozen=True)
class User:
    """A logged-in person: name, role and (surveyors) province code."""

    name: str
    role: str
    province: str | None = None

    def can_upload(self, province: str | None = None) -> bool:
        """Surveyors upload, and only for their own province."""
        return self.role == "surveyor" and (province is None or province == self.province)

    @property
    def can_read(self) -> bool:
        """Every role may read the maps, the names and the API (anonymous users may not)."""
        return self.role in ROLES


class UserStore:
    """The ``users`` table of a GeoPackage store: add, find, check a password, list, remove."""

    def __init__(self, store: Store):
        from boundaries.store.geopackage import GeoPackageStore

        if not isinstance(store, GeoPackageStore):
            raise StoreError(f"accounts are kept in a GeoPackage for now; {store.url} is not one")
        self.store = store

    def _con(self, *, create: bool = False):
        from boundaries.store import gpkg

        con = self.store.connection()
        if create and not gpkg.has_table(con, _TABLE):
            if not self.store.exists():
                self.store.init()
            with gpkg.transaction(con):
                gpkg.create_attribute_table(con, _TABLE, _COLUMNS, "用户 viewer accounts")
                con.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "{_TABLE}_name" ON "{_TABLE}" (name)')
        return con

    def add(self, name: str, password: str, role: str, province: str | None = None) -> User:
        """Create or replace an account; a surveyor needs a province."""
        if role not in ROLES:
            raise ConfigError(f"--role {role!r}: choose one of {', '.join(ROLES)}")
        if role == "surveyor" and not province:
            raise ConfigError("a surveyor needs --province CODE (the province they upload for), e.g. 360000")
        province = check_province(province) if province else None
        if not name.strip() or len(password) < 8:
            raise ConfigError("give a user name and a password of at least 8 characters")
        self._con(create=True).execute(
            f'INSERT OR REPLACE INTO "{_TABLE}" (name, password_hash, role, province, created_at) '
            "VALUES (?, ?, ?, ?, ?)", (name.strip(), generate_password_hash(password), role, province,
                                       datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
        return User(name.strip(), role, province)

    def get(self, name: str) -> User | None:
        """The account called ``name``, or None."""
        from boundaries.store import gpkg

        if not self.store.exists() or not gpkg.has_table(self.store.connection(), _TABLE):
            return None
        row = self._con().execute(f'SELECT name, role, province FROM "{_TABLE}" WHERE name = ?',
                                  (name,)).fetchone()
        return User(*row) if row else None

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password matches, else None (same answer for unknown names)."""
        from boundaries.store import gpkg

        if not self.store.exists() or not gpkg.has_table(self.store.connection(), _TABLE):
            return None
        row = self._con().execute(f'SELECT password_hash, name, role, province FROM "{_TABLE}" WHERE name = ?',
                                  (name,)).fetchone()
        if row is None or not check_password_hash(row[0], password):
            return None
        return User(*row[1:])

    def list(self) -> list[User]:
        """Every account, by name."""
        return [User(*r) for r in self._con(create=True).execute(
            f'SELECT name, role, province FROM "{_TABLE}" ORDER BY name')]

    def remove(self, name: str) -> bool:
        """Delete an account; whether it existed."""
        return self._con(create=True).execute(f'DELETE FROM "{_TABLE}" WHERE name = ?', (name,)).rowcount > 0
