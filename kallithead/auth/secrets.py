"""API keys and password hashes. Neither is ever logged."""

from __future__ import annotations

import re
import secrets

import bcrypt

_API_KEY_SHAPE = re.compile(r"[0-9a-zA-Z]{40}\Z")

# bcrypt's cost factor: about 50 ms a hash on a current core, done on the
# database thread pool together with the write that stores it.
BCRYPT_ROUNDS = 10


def new_api_key() -> str:
    """A fresh API key: 40 lowercase hexadecimal characters."""
    return secrets.token_hex(20)


def looks_like_api_key(value: object) -> bool:
    """Whether ``value`` could be a key at all (40 letters and digits)."""
    return isinstance(value, str) and _API_KEY_SHAPE.match(value) is not None


def hash_password(password: str) -> str:
    salt = bcrypt.gensalt(rounds=BCRYPT_ROUNDS)
    return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii")


def check_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("ascii"))
    except ValueError:
        return False
