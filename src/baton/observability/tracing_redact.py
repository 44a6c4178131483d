"""Keep secrets out of spans: the few texts a span records about a failure or a URL.

Spans never carry an agent's inputs, outputs or headers. What they may carry that came from
outside is an error's message (which can quote a URL or a token) and the URL of an outbound
HTTP call; both pass through a `Redactor` first. It masks the values of the secrets baton
was given (`ExecutorOptions.secrets`), credentials in URLs, and values that look like
tokens: ``Bearer ...``, ``api_key=...`` / ``"token": "..."``, baton API keys, and the
prefixes of common providers' keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "Redactor", "redact_url"]

MASK = "***"
"""What a secret is replaced with."""

_MIN_SECRET_CHARS = 4
"""Shorter configured secrets are not masked (they would mask ordinary words)."""

_SENSITIVE_NAME = (
    r"[\w.-]*(?:key|token|secret|passw(?:or)?d|pwd|auth\w*|signature|sig|credential|"
    r"session|cookie)[\w.-]*"
)
_PATTERNS = (
    # Authorization schemes: "Bearer abc...", "Basic dXNl...".
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)[\w.~+/=-]{6,}"), r"\1\2" + MASK),
    # name=value, name: value, "name": "value" where the name sounds secret.
    (
        re.compile(
            rf"""(?i)(\b{_SENSITIVE_NAME}["']?\s*[=:]\s*["']?)"""
            r"""(?!(?:bearer|basic|token)\s)[^\s&"',;)}\]]+"""
        ),
        r"\1" + MASK,
    ),
    # Credentials in a URL: scheme://user:password@host.
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^\s/@:]*:[^\s/@]*@"), r"\1" + MASK + "@"),
    # baton API keys, and well-known key formats of providers.
    (re.compile(r"\bbaton_[0-9a-z]+_[\w-]{8,}"), "baton_" + MASK),
    (re.compile(r"\b(?:sk|pk|rk)-[\w-]{12,}"), MASK),
    (re.compile(r"\b(?:gh[pousr]|github_pat)_\w{16,}"), MASK),
    (re.compile(r"\bxox[abposr]-[\w-]{8,}"), MASK),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\bAIza[\w-]{30,}"), MASK),
    (re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+"), MASK),  # a JWT
)


class Redactor:
    """Masks secrets in texts that go into spans."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Mask the values in `secrets` (as well as anything that looks like a token)."""
        values = {s for s in secrets if len(s) >= _MIN_SECRET_CHARS}
        # Longest first: a secret that contains another is masked whole.
        self._values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """`text` with every secret in it masked."""
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


def redact_url(url: str, redactor: Redactor | None = None) -> str:
    """`url` without credentials, query or fragment (where tokens travel), then redacted."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        if ":" in (parts.hostname or "") and parts.hostname:  # an IPv6 literal
            host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port is not None else "")
        cleaned = urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        cleaned = url.split("?", 1)[0].split("#", 1)[0]
    return redactor(cleaned) if redactor is not None else cleaned
