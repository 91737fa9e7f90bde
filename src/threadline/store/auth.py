"""Users, roles, API tokens and login sessions, stored beside the event record.

Secrets never reach the database in the clear: passwords are argon2id hashes, API tokens and
session cookies are random values of 256 bits of which only the SHA-256 is kept (a fast hash is
enough for values that cannot be guessed; argon2 is for passwords, which can).

Roles are ordered, each including the ones below it: ``viewer`` reads; ``operator`` also captures
events; ``quality`` also places and releases holds and manages specs; ``admin`` also manages users
and tokens and reads the audit log.

Every function opens its own short transaction (these are small, rare writes next to the event
stream, and on PostgreSQL they do not take the event writer's lock).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from threadline.epcis.json_reader import utc_text
from threadline.errors import Conflict, InvalidInput, NotFound
from threadline.store.base import Store

TOKEN_PREFIX = "tl_"
MIN_PASSWORD = 8
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_HASHER = PasswordHasher()
_DUMMY_HASH: list[str] = []  # computed on first use: a hash to verify against for unknown names


class Role(IntEnum):
    """A user's role; a higher role may do everything a lower one may."""

    viewer = 1
    operator = 2
    quality = 3
    admin = 4

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text``; :class:`InvalidInput` naming the choices otherwise."""
        try:
            return cls[text.strip().lower()]
        except KeyError:
            choices = ", ".join(r.name for r in cls)
            raise InvalidInput(f"unknown role {text!r}; choose one of {choices}") from None


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool
    created: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.name,
            "disabled": self.disabled,
            "created": self.created,
        }


@dataclass(frozen=True)
class Token:
    id: int
    user: str
    label: str | None
    prefix: str
    created: str
    revoked: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "label": self.label,
            "prefix": self.prefix,
            "created": self.created,
            "revoked": self.revoked,
        }


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a user, through a session cookie or an API token."""

    user_id: int | None
    name: str
    role: Role
    via: str  # "session", "token" or "public"
    token_id: int | None = None
    token_label: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller (a token by its label or id)."""
        if self.via == "token":
            return f"{self.name} (token {self.token_label or self.token_id})"
        return self.name

    @classmethod
    def public(cls) -> Principal:
        """The caller of a public route (see ``THREADLINE_PUBLIC_RESOLVER``) without credentials."""
        return cls(user_id=None, name="anonymous", role=Role.viewer, via="public")


# -- transactions ----------------------------------------------------------------------------


@contextlib.contextmanager
def transaction(store: Store, *, write: bool) -> Iterator[Any]:
    """A DB-API cursor in one short transaction, committed on success.

    SQLite writes start ``BEGIN IMMEDIATE`` (the store's single writer); PostgreSQL ones run at
    READ COMMITTED without the event writer's advisory lock, so a login never waits for an import.
    """
    with store._write_connection() if write else store._raw() as connection:
        if not write:
            store._begin_read(connection)
        elif store.engine.dialect.name == "sqlite":
            store._begin_write(connection)
        else:
            connection.autocommit = False
        try:
            yield connection.cursor()
        except BaseException:
            connection.rollback()
            raise
        if write:
            connection.commit()
        else:
            connection.rollback()


def now_text() -> str:
    return utc_text(datetime.now(UTC))


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password: at least {MIN_PASSWORD} characters are required")


# -- users -------------------------------------------------------------------------------------

_USER_COLS = "id, name, role, disabled, created"


def _user(row: Any) -> User:
    return User(int(row[0]), row[1], Role[row[2]], bool(row[3]), row[4])


def add_user(store: Store, *, name: str, role: Role, password: str) -> User:
    """Create a user; :class:`Conflict` if the name is taken."""
    _check_name(name)
    _check_password(password)
    hashed = _HASHER.hash(password)
    with transaction(store, write=True) as cur:
        cur.execute(store.sql("SELECT 1 FROM users WHERE name = ?"), (name,))
        if cur.fetchone():
            raise Conflict(f"user {name!r} already exists")
        cur.execute(
            store.sql(
                "INSERT INTO users (name, role, password_hash, disabled, created) "
                "VALUES (?, ?, ?, ?, ?)"
            ),
            (name, role.name, hashed, False, now_text()),
        )
        cur.execute(store.sql(f"SELECT {_USER_COLS} FROM users WHERE name = ?"), (name,))
        return _user(cur.fetchone())


def get_user(store: Store, name: str) -> User:
    """The user called ``name``; :class:`NotFound` if none."""
    with transaction(store, write=False) as cur:
        cur.execute(store.sql(f"SELECT {_USER_COLS} FROM users WHERE name = ?"), (name,))
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"no user {name!r}")
    return _user(row)


def list_users(store: Store) -> list[User]:
    with transaction(store, write=False) as cur:
        cur.execute(f"SELECT {_USER_COLS} FROM users ORDER BY name")
        return [_user(r) for r in cur.fetchall()]


def set_password(store: Store, *, name: str, password: str) -> None:
    """Give ``name`` a new password (its open sessions end)."""
    _check_password(password)
    hashed = _HASHER.hash(password)
    with transaction(store, write=True) as cur:
        user = _locked_user(store, cur, name)
        cur.execute(store.sql("UPDATE users SET password_hash = ? WHERE id = ?"), (hashed, user.id))
        cur.execute(store.sql("DELETE FROM sessions WHERE user_id = ?"), (user.id,))


def disable_user(store: Store, *, name: str) -> User:
    """Disable ``name``: its sessions end at once and its tokens stop working."""
    with transaction(store, write=True) as cur:
        user = _locked_user(store, cur, name)
        cur.execute(store.sql("UPDATE users SET disabled = ? WHERE id = ?"), (True, user.id))
        cur.execute(store.sql("DELETE FROM sessions WHERE user_id = ?"), (user.id,))
    return User(user.id, user.name, user.role, True, user.created)


def _locked_user(store: Store, cur: Any, name: str) -> User:
    cur.execute(store.sql(f"SELECT {_USER_COLS} FROM users WHERE name = ?"), (name,))
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"no user {name!r}")
    return _user(row)


def check_login(store: Store, *, name: str, password: str) -> User | None:
    """The user if ``password`` is right and the user enabled; None otherwise.

    An unknown name costs the same argon2 verification as a known one, so the answer's timing
    does not tell whether a user exists.
    """
    with transaction(store, write=False) as cur:
        cur.execute(
            store.sql(f"SELECT {_USER_COLS}, password_hash FROM users WHERE name = ?"), (name,)
        )
        row = cur.fetchone()
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(_HASHER.hash(secrets.token_hex(16)))
    stored = row[5] if row is not None else _DUMMY_HASH[0]
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    user = _user(row)
    if user.disabled:
        return None
    if _HASHER.check_needs_rehash(stored):  # parameters were raised since it was hashed
        with transaction(store, write=True) as cur:
            cur.execute(
                store.sql("UPDATE users SET password_hash = ? WHERE id = ?"),
                (_HASHER.hash(password), user.id),
            )
    return user


# -- tokens ------------------------------------------------------------------------------------

_TOKEN_SELECT = (
    "SELECT t.id, u.name, t.label, t.prefix, t.created, t.revoked "
    "FROM tokens t JOIN users u ON u.id = t.user_id"
)


def create_token(store: Store, *, name: str, label: str | None = None) -> tuple[Token, str]:
    """A new API token for user ``name``: its row and the token itself (shown only now)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[:10]
    created = now_text()
    with transaction(store, write=True) as cur:
        user = _locked_user(store, cur, name)
        if user.disabled:
            raise Conflict(f"user {name!r} is disabled")
        cur.execute(
            store.sql(
                "INSERT INTO tokens (user_id, label, hash, prefix, created) VALUES (?, ?, ?, ?, ?)"
            ),
            (user.id, label, _sha256(secret), prefix, created),
        )
        cur.execute(store.sql("SELECT id FROM tokens WHERE hash = ?"), (_sha256(secret),))
        token_id = int(cur.fetchone()[0])
    return Token(token_id, name, label, prefix, created, None), secret


def list_tokens(store: Store) -> list[Token]:
    with transaction(store, write=False) as cur:
        cur.execute(f"{_TOKEN_SELECT} ORDER BY t.id")
        return [Token(int(r[0]), *r[1:]) for r in cur.fetchall()]


def revoke_token(store: Store, *, token_id: int) -> Token:
    """Revoke a token for good; :class:`NotFound` if there is no such token."""
    with transaction(store, write=True) as cur:
        cur.execute(store.sql(f"{_TOKEN_SELECT} WHERE t.id = ?"), (token_id,))
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"no token {token_id}")
        token = Token(int(row[0]), *row[1:])
        if token.revoked is None:
            revoked = now_text()
            cur.execute(
                store.sql("UPDATE tokens SET revoked = ? WHERE id = ?"), (revoked, token_id)
            )
            token = Token(token.id, token.user, token.label, token.prefix, token.created, revoked)
    return token


def principal_for_token(store: Store, secret: str) -> Principal | None:
    """Who an API token belongs to, if it is valid (not revoked, its user enabled)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    with transaction(store, write=False) as cur:
        cur.execute(
            store.sql(
                "SELECT u.id, u.name, u.role, t.id, t.label FROM tokens t "
                "JOIN users u ON u.id = t.user_id "
                "WHERE t.hash = ? AND t.revoked IS NULL AND u.disabled = ?"
            ),
            (_sha256(secret), False),
        )
        row = cur.fetchone()
    if row is None:
        return None
    return Principal(int(row[0]), row[1], Role[row[2]], "token", int(row[3]), row[4])


# -- sessions ----------------------------------------------------------------------------------


def open_session(store: Store, *, user: User, hours: float, address: str | None) -> tuple[str, str]:
    """A new login session for ``user``: the cookie value and its expiry (storage time text)."""
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = utc_text(now + timedelta(hours=hours))
    with transaction(store, write=True) as cur:
        # Expired sessions are swept here, where a row is written anyway.
        cur.execute(store.sql("DELETE FROM sessions WHERE expires <= ?"), (utc_text(now),))
        cur.execute(
            store.sql(
                "INSERT INTO sessions (hash, user_id, created, expires, address) "
                "VALUES (?, ?, ?, ?, ?)"
            ),
            (_sha256(secret), user.id, utc_text(now), expires, address),
        )
    return secret, expires


def principal_for_session(store: Store, secret: str) -> Principal | None:
    """Who a session cookie belongs to, if the session is open and its user enabled."""
    with transaction(store, write=False) as cur:
        cur.execute(
            store.sql(
                "SELECT u.id, u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id "
                "WHERE s.hash = ? AND s.expires > ? AND u.disabled = ?"
            ),
            (_sha256(secret), now_text(), False),
        )
        row = cur.fetchone()
    if row is None:
        return None
    return Principal(int(row[0]), row[1], Role[row[2]], "session")


def close_session(store: Store, secret: str) -> bool:
    """End a session; whether there was one."""
    with transaction(store, write=True) as cur:
        cur.execute(store.sql("DELETE FROM sessions WHERE hash = ?"), (_sha256(secret),))
        return bool(cur.rowcount)
