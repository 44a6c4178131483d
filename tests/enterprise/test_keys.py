"""API key tokens: format, parsing (hostile input included) and hashing."""

from __future__ import annotations

import hashlib
import re

from hypothesis import given
from hypothesis import strategies as st

from baton.enterprise.keys import generate_key, hash_secret, parse_token, verify

TOKEN = re.compile(r"baton_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_generate_key_makes_a_token_its_id_and_the_hash_of_its_secret() -> None:
    token, key_id, secret_hash = generate_key()

    assert TOKEN.fullmatch(token)
    assert parse_token(token) is not None
    parsed_id, secret = parse_token(token) or ("", "")
    assert parsed_id == key_id
    assert secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in secret_hash
    assert verify(secret, secret_hash)


def test_keys_are_unique() -> None:
    keys = [generate_key() for _ in range(200)]
    assert len({k[0] for k in keys}) == len({k[1] for k in keys}) == len({k[2] for k in keys})
    assert len(keys) == len({k[1] for k in keys})


def test_verify_refuses_another_secret() -> None:
    _, _, secret_hash = generate_key()
    token, _, _ = generate_key()
    _, secret = parse_token(token) or ("", "")

    assert not verify(secret, secret_hash)
    assert not verify("", secret_hash)
    assert not verify(secret, "")


def test_hash_secret_is_hex_sha256() -> None:
    assert hash_secret("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


GOOD = "baton_0123456789ab_" + "A" * 21 + "-_" + "z" * 20


def test_a_well_formed_token_parses() -> None:
    assert parse_token(GOOD) == ("0123456789ab", "A" * 21 + "-_" + "z" * 20)


def test_malformed_tokens_are_refused() -> None:
    secret = GOOD[len("baton_0123456789ab_") :]
    bad = [
        "",
        "baton_",
        GOOD.replace("baton_", "Baton_"),
        GOOD.replace("baton_", "bat0n_"),
        "x" + GOOD[1:],
        GOOD[:-1],  # secret one short
        GOOD + "A",  # one long
        "baton_0123456789AB_" + secret,  # upper-case id
        "baton_0123456789a_" + secret + "A",  # id one short, same total length
        "baton_0123456789abc" + secret,  # no separator
        "baton_0123456789ab-" + secret,  # wrong separator
        "baton_0123456789ab_" + secret[:-1] + "=",  # padding
        "baton_0123456789ab_" + secret[:-1] + "+",  # standard base64
        "baton_0123456789ab_" + secret[:-1] + "é",  # not ASCII
        "baton_0123456789ab_" + secret[:-1] + "\n",
        " " + GOOD[1:],
        GOOD[:-1] + " ",
        "Bearer " + GOOD,
        "baton_" + "\u0661" * 10 + "ab_" + secret,  # Unicode digits (Arabic-Indic one)
    ]
    for token in bad:
        assert parse_token(token) is None, token


@given(st.text(max_size=120))
def test_random_text_is_refused(text: str) -> None:
    assert parse_token(text) is None


@given(st.text(max_size=80))
def test_random_text_after_the_prefix_is_refused_unless_well_formed(rest: str) -> None:
    token = "baton_" + rest
    parsed = parse_token(token)
    assert (parsed is not None) is (TOKEN.fullmatch(token) is not None)


@given(
    st.text(alphabet="0123456789abcdef", min_size=12, max_size=12),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        min_size=43,
        max_size=43,
    ),
)
def test_every_well_formed_token_round_trips(key_id: str, secret: str) -> None:
    assert parse_token(f"baton_{key_id}_{secret}") == (key_id, secret)


def test_a_huge_value_is_refused() -> None:
    assert parse_token(GOOD * 10_000) is None
