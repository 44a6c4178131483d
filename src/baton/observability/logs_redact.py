"""Keep secrets out of telemetry: what `Redactor` replaces before anything is stored or shown.

Replaced by ``[REDACTED]`` wherever they occur in a message, a traceback or an extra field:

- baton API keys, ``baton_<12 hex>_<secret>``: the secret goes, the key id (public, useful to
  tell keys apart) stays: ``baton_0123456789ab_[REDACTED]``;
- ``Bearer <token>`` and ``Basic <credentials>`` (HTTP ``Authorization`` values);
- keys in the well-known formats of providers (``sk-...``, ``ghp_...``, ``xoxb-...``,
  ``AKIA...``, ``AIza...``) and JSON Web Tokens;
- the password of a URL: ``postgresql://baton:[REDACTED]@db/baton``;
- ``key=value`` and ``key: value`` where the key names a secret (``password``, ``passwd``,
  ``secret``, ``token``, ``api_key``, ``apikey``, ``access_key``, ``private_key``,
  ``client_secret``, ``authorization``, ``credentials``, with ``-`` or ``_``, any case);
- every value given as a known secret (`Redactor.add`): ``BATON_API_KEY``, the agents'
  secrets (``ExecutorOptions.secrets``), anything the application registers. Values shorter
  than `MIN_SECRET_CHARS` are not taken, since they would blank out ordinary words.

In structured fields (`Redactor.redact_data`), the value of a key that names a secret is
replaced whole, whatever it looks like.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

__all__ = ["MIN_SECRET_CHARS", "REDACTED", "Redactor"]

REDACTED = "[REDACTED]"
"""What a secret is replaced with."""
MIN_SECRET_CHARS = 6
"""Known secret values shorter than this are ignored."""

_SECRET_KEY = (
    r"(?:pass(?:word|wd)|secret|token|api[-_]?key|access[-_]?key|private[-_]?key"
    r"|client[-_]?secret|authorization|credentials?)"
)
_SECRET_NAME = re.compile(rf"(?i)^[\w.-]*{_SECRET_KEY}$")
_PATTERNS = (
    # baton API keys: keep the key id.
    (r"\b(baton_[0-9a-f]{12}_)[A-Za-z0-9_-]{8,}", rf"\1{REDACTED}"),
    (r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}", rf"\1\2{REDACTED}"),
    # scheme://user:password@host
    (r"(://[^/\s:@]*:)[^/\s@]+(@)", rf"\1{REDACTED}\2"),
    # Well-known key formats of providers (OpenAI-style, GitHub, Slack, AWS, Google) and JWTs.
    (
        r"\b(?:(?:sk|pk|rk)-[\w-]{12,}|(?:gh[pousr]|github_pat)_\w{16,}|xox[abposr]-[\w-]{8,}"
        r"|AKIA[0-9A-Z]{16}\b|AIza[\w-]{30,}|eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+)",
        REDACTED,
    ),
    # password=..., "token": "...", api-key: ...
    (
        rf"(?i)(\b[\w.-]*{_SECRET_KEY}[\"']?\s*[=:]\s*[\"']?)(?!{re.escape(REDACTED)}|(?:bearer|basic)\s)"
        r"[^\s\"',;&}]+",
        rf"\1{REDACTED}",
    ),
)


class Redactor:
    """Replaces secrets in text and data (see the module docstring for what counts)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Start with the built-in patterns and the known secret values `secrets`."""
        self._secrets: set[str] = set()
        self._patterns = [(re.compile(p), r) for p, r in _PATTERNS]
        self._literal: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Also replace these values wherever they occur (shorter ones are ignored)."""
        fresh = {s for s in secrets if len(s) >= MIN_SECRET_CHARS} - self._secrets
        if not fresh:
            return
        self._secrets |= fresh
        # Longest first, so a secret containing another is replaced whole.
        alternatives = sorted(self._secrets, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(s) for s in alternatives))

    def __call__(self, text: str) -> str:
        """`text` with every secret replaced."""
        if self._literal is not None:
            text = self._literal.sub(REDACTED, text)
        for pattern, replacement in self._patterns:
            text = pattern.sub(replacement, text)
        return text

    def redact_data(self, data: Any) -> Any:
        """JSON-like `data` with secret-named keys blanked and every string redacted."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, Mapping):
            items = cast("Mapping[Any, Any]", data)
            return {
                str(k): REDACTED if _SECRET_NAME.match(str(k)) else self.redact_data(v)
                for k, v in items.items()
            }
        if isinstance(data, list | tuple):
            values = cast("Iterable[Any]", data)
            return [self.redact_data(v) for v in values]
        return data
