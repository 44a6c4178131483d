"""What the offline text agents do: extract matches, transform text, fill templates.

Pure functions over the agents' inputs (`text_models`); bad input raises `AgentInputError`
with what is wrong. `text.transform` and `text.template` always run these (they must be
exact); `text.extract` does when no language model is configured or for a regex.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from baton.agents.builtin.text_models import DATE_RE, ExtractInput, TransformInput
from baton.agents.parsing.text import EMAIL_RE, NUMBER_RE, URL_RE, find_emails, find_urls, mask
from baton.errors import AgentInputError

__all__ = ["extract_matches", "render_template", "template_fields", "transform", "truncate"]

_MAX_FORMAT_NUMBER = 1000  # widths/precisions above this are a memory bomb, not formatting


# --- extract -------------------------------------------------------------------------------


def extract_matches(inputs: ExtractInput) -> list[str]:
    """Find what `inputs.kind` asks for in `inputs.text`."""
    text = inputs.text
    if inputs.kind == "emails":
        return find_emails(text)
    if inputs.kind == "urls":
        return find_urls(text)
    if inputs.kind == "numbers":
        # The digits of a date, a URL or an address are not numbers of the text.
        masked = mask(text, URL_RE, EMAIL_RE, DATE_RE)
        return [m.group(0) for m in NUMBER_RE.finditer(masked)]
    if inputs.kind == "dates":
        return [m.group(0) for m in DATE_RE.finditer(text)]
    if not inputs.pattern:
        raise AgentInputError("kind 'regex' needs a pattern", hint="pass pattern='...'")
    try:
        compiled = re.compile(inputs.pattern)
    except re.error as exc:
        raise AgentInputError(
            f"pattern {inputs.pattern!r} is not a valid regular expression: {exc.msg} "
            f"at position {exc.pos}"
        ) from None
    group = 1 if compiled.groups else 0
    return [m.group(group) or "" for m in compiled.finditer(text)]


# --- transform -----------------------------------------------------------------------------


def transform(inputs: TransformInput) -> str:
    """Apply `inputs.operation` to `inputs.text`."""
    text, op = inputs.text, inputs.operation
    simple = {
        "upper": str.upper,
        "lower": str.lower,
        "title": str.title,
        "capitalize": str.capitalize,
        "strip": str.strip,
    }
    if op in simple:
        return simple[op](text)
    if op == "collapse_whitespace":
        return " ".join(text.split())
    if op == "slugify":
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if op == "replace":
        if not inputs.find:
            raise AgentInputError("operation 'replace' needs a non-empty `find`")
        return text.replace(inputs.find, inputs.replace)
    if inputs.max_chars is None:
        raise AgentInputError("operation 'truncate' needs `max_chars`")
    return truncate(text, inputs.max_chars)


def truncate(text: str, max_chars: int) -> str:
    """At most `max_chars` characters, cut at a word boundary when one is near, with "…"."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    at_boundary = text[max_chars - 1].isspace()
    if not at_boundary and space >= max_chars * 0.6:  # back up only when little is lost
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "\u2026"


# --- template ------------------------------------------------------------------------------


class _SafeFormatter(string.Formatter):
    """`str.format_map` without attribute or index access (``{x.__class__}``, ``{x[0]}``)."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        return kwargs[field_name], field_name

    def format_field(self, value: Any, format_spec: str) -> Any:
        if any(int(n) > _MAX_FORMAT_NUMBER for n in re.findall(r"\d+", format_spec)):
            raise AgentInputError(f"format spec {format_spec!r} asks for too wide a field")
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError) as exc:
            raise AgentInputError(f"cannot format {value!r} with {format_spec!r}: {exc}") from None


def template_fields(template: str) -> list[str]:
    """Placeholder names in `template`, nested format specs included, in order.

    Raises:
        AgentInputError: Braces are unbalanced, a placeholder is empty or positional, or it
            uses attribute or index access.
    """
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise AgentInputError(
            f"template is malformed: {exc}", hint="write literal braces as {{ and }}"
        ) from None
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        if not field.isidentifier():
            raise AgentInputError(
                f"placeholder {{{field}}} is not allowed: use a plain name like {{total}}",
                hint="attribute access, indexing and positional {} are refused",
            )
        names.append(field)
        if spec and "{" in spec:
            names += template_fields(spec)
    return list(dict.fromkeys(names))


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """Fill `template` from `values`, refusing unsafe placeholders and naming missing ones."""
    missing = [n for n in template_fields(template) if n not in values]
    if missing:
        raise AgentInputError(
            "no value for " + ", ".join(f"{{{n}}}" for n in missing),
            hint="add them to `values`: " + ", ".join(repr(n) for n in missing),
        )
    return _SafeFormatter().vformat(template, (), values)
