"""API key tokens: ``baton_<key_id>_<secret>``, of which only a hash of the secret is kept.

- ``key_id``: 12 lowercase hex characters, public. It is how a token's key is found (one
  indexed lookup by primary key, no scan of hashes) and what listings show as the key's
  prefix, so people can tell their keys apart without seeing a secret.
- ``secret``: `secrets.token_urlsafe` of 32 bytes (43 characters), shown once, when the key
  is created.

The ``baton_`` prefix makes a leaked token recognisable to secret scanners.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = [
    "KEY_ID_LENGTH",
    "SECRET_LENGTH",
    "TOKEN_PREFIX",
    "generate_key",
    "hash_secret",
    "parse_token",
    "verify",
]

TOKEN_PREFIX = "baton_"
"""How every token starts."""
KEY_ID_LENGTH = 12
"""Hex characters in a key id (48 bits: ids are unique keys, not secrets)."""
_SECRET_BYTES = 32
SECRET_LENGTH = 43
"""Characters in a secret: base64url of 32 bytes, unpadded."""

_TOKEN = re.compile(
    re.escape(TOKEN_PREFIX)
    + f"(?P<key_id>[0-9a-f]{{{KEY_ID_LENGTH}}})"
    + f"_(?P<secret>[A-Za-z0-9_-]{{{SECRET_LENGTH}}})"
)
_TOKEN_LENGTH = len(TOKEN_PREFIX) + KEY_ID_LENGTH + 1 + SECRET_LENGTH


def hash_secret(secret: str) -> str:
    """The stored form of a secret: SHA-256, hex.

    A fast hash is right here, unlike for passwords: the secret is 256 random bits, so there
    is no dictionary to try and brute force is out of reach however fast each guess is, and
    a slow hash (bcrypt, argon2) would only make every authenticated request slow.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def verify(secret: str, stored_hash: str) -> bool:
    """Whether `secret` is the one `stored_hash` was made from (in constant time)."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def generate_key() -> tuple[str, str, str]:
    """A new key.

    Returns:
        ``(token, key_id, secret_hash)``: the token to show once, the public key id, and the
        hash to store.
    """
    key_id = secrets.token_hex(KEY_ID_LENGTH // 2)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return f"{TOKEN_PREFIX}{key_id}_{secret}", key_id, hash_secret(secret)


def parse_token(token: str) -> tuple[str, str] | None:
    """Split a token into ``(key_id, secret)``; None when it is not a well-formed token."""
    # The length check first: a huge header value costs nothing more than a short one.
    if len(token) != _TOKEN_LENGTH or (match := _TOKEN.fullmatch(token)) is None:
        return None
    return match["key_id"], match["secret"]
