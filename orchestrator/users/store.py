"""Users and API keys in the database: add, authenticate, change, disable."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.core import security
from orchestrator.core.db import transaction
from orchestrator.core.errors import BadCredentials, InvalidParameter, NotAuthenticated, NotFound, UserExists
from orchestrator.core.types import utcnow

from .models import ROLES, ApiKey, User

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidParameter(f"The password must have at least {MIN_PASSWORD} characters.", "password")


class UserStore:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def add(self, username: str, password: str, role: str = "user") -> User:
        if not USERNAME.match(username):
            raise InvalidParameter(
                "A user name is 1-64 letters, digits or _ . @ -, starting with a letter or digit.", "username")
        if role not in ROLES:
            raise InvalidParameter(f"The role must be one of {', '.join(ROLES)}.", "role")
        check_password_rules(password)
        if self.by_name(username) is not None:
            raise UserExists(f"A user named {username!r} already exists.", "username")
        user = User(id=uuid.uuid4().hex, username=username, password_hash=security.hash_password(password),
                    role=role, created_at=utcnow())
        with transaction(self.factory) as s:
            s.add(user)
        return user

    def by_name(self, username: str) -> User | None:
        with self.factory() as s:
            return s.scalars(select(User).where(User.username == username)).first()

    def get(self, user_id: str) -> User | None:
        with self.factory() as s:
            return s.get(User, user_id)

    def list(self) -> list[User]:
        with self.factory() as s:
            return list(s.scalars(select(User).order_by(User.created_at)).all())

    def count(self) -> int:
        with self.factory() as s:
            return int(s.scalar(select(func.count()).select_from(User)) or 0)

    def authenticate(self, username: str, password: str) -> User:
        user = self.by_name(username)
        ok = security.verify_password(password, user.password_hash if user else None)
        if not ok or user is None or user.disabled:
            raise BadCredentials("Wrong user name or password.")
        return user

    def set_password(self, username: str, password: str) -> None:
        check_password_rules(password)
        with transaction(self.factory) as s:
            if not s.execute(update(User).where(User.username == username)
                             .values(password_hash=security.hash_password(password))).rowcount:
                raise NotFound(f"No user named {username!r}.", "username")

    def set_disabled(self, username: str, disabled: bool = True) -> None:
        with transaction(self.factory) as s:
            if not s.execute(update(User).where(User.username == username).values(disabled=disabled)).rowcount:
                raise NotFound(f"No user named {username!r}.", "username")

    def create_api_key(self, username: str, name: str = "") -> str:
        """A new key for the user; only its hash is stored, so this is the one time it is seen."""
        user = self.by_name(username)
        if user is None:
            raise NotFound(f"No user named {username!r}.", "username")
        key = security.new_api_key()
        with transaction(self.factory) as s:
            s.add(ApiKey(id=uuid.uuid4().hex, user_id=user.id, key_hash=security.hash_api_key(key), name=name,
                         created_at=utcnow()))
        return key

    def by_api_key(self, key: str) -> User:
        digest = security.hash_api_key(key)
        with transaction(self.factory) as s:
            row = s.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
            user = s.get(User, row.user_id) if row is not None else None
            if row is None or user is None or user.disabled:
                raise NotAuthenticated("The API key is not valid.")
            row.last_used_at = utcnow()
            return user
