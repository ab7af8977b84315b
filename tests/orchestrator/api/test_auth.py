"""Login, tokens (expired, tampered, alg none, wrong key), API keys, disabled users, the login rate limit."""

from __future__ import annotations

import base64
import json
import time

import jwt

from orchestrator.core import security


def _me(api, token: str):  # type: ignore[no-untyped-def]
    with api.client(token) as c:
        return c.get("/api/auth/me")


def test_login_gives_a_token_that_identifies_the_user(api) -> None:
    with api.client() as c:
        r = c.post("/api/auth/login", json={"username": "alice", "password": "alice-password"})
    body = r.json()
    assert r.status_code == 200 and body["token_type"] == "bearer" and body["user"]["role"] == "user"
    assert _me(api, body["access_token"]).json()["username"] == "alice"


def test_wrong_password_and_unknown_user_look_the_same(api) -> None:
    with api.client() as c:
        wrong = c.post("/api/auth/login", json={"username": "alice", "password": "nope-nope"})
        unknown = c.post("/api/auth/login", json={"username": "nobody", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() and wrong.json()["error"]["code"] == "bad_credentials"


def test_bad_tokens_are_refused(api) -> None:
    secret = api.services.secret
    user_id = api.services.users.by_name("alice").id
    expired = jwt.encode({"sub": user_id, "exp": int(time.time()) - 10}, secret, algorithm="HS256")
    wrong_key = jwt.encode({"sub": user_id, "exp": int(time.time()) + 600}, "x" * 48, algorithm="HS256")
    good = security.create_token(user_id, "user", secret, 600)
    head, payload, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = f"{head}.{forged}.{sig}"
    none_head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    alg_none = f"{none_head}.{payload}."
    assert _me(api, good).status_code == 200
    r = _me(api, expired)
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
    for token in (wrong_key, tampered, alg_none, "not-a-token"):
        r = _me(api, token)
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated", token
    with api.client() as c:
        assert c.get("/api/auth/me").status_code == 401


def test_api_keys_work_are_stored_hashed_and_stop_with_the_account(api) -> None:
    users = api.services.users
    key = users.create_api_key("bob", "script")
    assert _me(api, key).json()["username"] == "bob"
    from sqlalchemy import select

    from orchestrator.users.models import ApiKey

    with users.factory() as s:
        stored = s.scalars(select(ApiKey)).all()
    assert [k.key_hash for k in stored] == [security.hash_api_key(key)] and key not in stored[0].key_hash
    users.set_disabled("bob")
    assert _me(api, key).status_code == 401


def test_passwords_are_argon2_hashes(api) -> None:
    user = api.services.users.by_name("alice")
    assert user.password_hash.startswith("$argon2id$") and "alice-password" not in user.password_hash


def test_failed_logins_are_rate_limited_per_user(api) -> None:
    limit = api.settings.LOGIN_RATE_LIMIT
    with api.client() as c:
        codes = [c.post("/api/auth/login", json={"username": "bob", "password": "wrong-one"}).status_code
                 for _ in range(limit + 1)]
        assert codes[:limit] == [401] * limit and codes[limit] == 429
        # Even the right password waits out the window now.
        r = c.post("/api/auth/login", json={"username": "bob", "password": "bob-password"})
    assert r.status_code == 429 and "try again" in r.json()["error"]["message"]


def test_placeholder_secret_refused_outside_dev_mode(tmp_path) -> None:
    import pytest

    from orchestrator.api.app import create_app
    from orchestrator.core.errors import SettingsError

    from api_support import make_settings

    with pytest.raises(SettingsError, match="JWT_SECRET"):
        create_app(make_settings(tmp_path, JWT_SECRET="change-me"), dispatch=False)
    create_app(make_settings(tmp_path, JWT_SECRET="", DEV_MODE=True), dispatch=False)  # dev mode says so and runs
