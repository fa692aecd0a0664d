"""Credentials: the one place a token becomes a header, the one masking function.

Everything that turns a user's credential into something sent on the wire goes
through :func:`header_value` (and :func:`bearer` for tokens); everything that
leaves the package as text -- error messages, excerpts of server bodies, log
records, warnings, reprs, reports -- goes through :func:`mask` **before** it
is truncated, so a cut can never leave the first half of a secret behind.

A credential is registered with :func:`register_secret` when a source is
built. :func:`mask` then replaces the whole value, and any run of 6 or more
characters copied from a registered value of 8 characters or more (a proxy
that echoes a cut header, a tool that wraps long lines), by ``***``.

Examples
--------
>>> register_secret("tok-9Qx2Lm7Vb4Kd")
>>> mask("denied: Bearer tok-9Qx2Lm7Vb4Kd (and 'tok-9Qx2' again)")
"denied: Bearer *** (and '***' again)"
>>> bearer("  tok-9Qx2Lm7Vb4Kd\\n")
'Bearer tok-9Qx2Lm7Vb4Kd'
>>> bearer("tok\\x00")
Traceback (most recent call last):
...
specanalysis.errors.SpecAnalysisError: token: the value contains a control character at position 3 (not shown) ...
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import Any

__all__ = [
    "register_secret",
    "mask",
    "bearer",
    "header_value",
    "MaskingFilter",
    "get_logger",
    "warn",
    "MASK",
]

MASK = "***"
_MIN_FULL = 4  # shorter values are not masked (they would mask ordinary words)
_GRAM = 6  # runs of this many characters copied from a secret are masked
_MIN_GRAMS = 8  # ... for secrets at least this long

_lock = threading.Lock()
_secrets: set[str] = set()
_grams: frozenset[str] = frozenset()
_ordered: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """Remember ``value`` (and its stripped form) so :func:`mask` hides it."""
    global _grams, _ordered
    if not isinstance(value, str):
        return
    new = {v for v in (value, value.strip()) if len(v) >= _MIN_FULL}
    if not new - _secrets:
        return
    with _lock:
        _secrets.update(new)
        _ordered = tuple(sorted(_secrets, key=len, reverse=True))
        grams = set(_grams)
        for s in new:
            if len(s) >= _MIN_GRAMS:
                grams.update(s[i:i + _GRAM] for i in range(len(s) - _GRAM + 1))
        _grams = frozenset(grams)


def mask(text: Any) -> Any:
    """``text`` with every registered secret (and long fragment of one) replaced by ``***``.

    Non-strings are returned unchanged. Apply it before cutting text short.
    """
    if not isinstance(text, str) or not _ordered or not text:
        return text
    for s in _ordered:
        if s in text:
            text = text.replace(s, MASK)
    grams = _grams
    if not grams or len(text) < _GRAM:
        return text
    n = len(text)
    hit = None
    for i in range(n - _GRAM + 1):
        if text[i:i + _GRAM] in grams:
            if hit is None:
                hit = bytearray(n)
            hit[i:i + _GRAM] = b"\x01" * _GRAM
    if hit is None:
        return text
    out = []
    i = 0
    while i < n:
        if hit[i]:
            j = i
            while j < n and hit[j]:
                j += 1
            out.append(MASK)
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def header_value(name: str, value: object, *, field: str | None = None) -> str:
    """A header value fit to send: stripped, printable ASCII, never echoed in errors.

    Raises
    ------
    SpecAnalysisError
        Naming the header (``field``) and the offending position, not the value.
    """
    from specanalysis.errors import SpecAnalysisError

    field = field or f"headers[{name!r}]"
    if not isinstance(value, str):
        raise SpecAnalysisError(f"the value is a {type(value).__name__}", field=field,
                                expected="a str")
    text = value.strip(" \t\r\n")
    for i, ch in enumerate(text):
        code = ord(ch)
        if code < 32 and ch != "\t" or code == 127:
            raise SpecAnalysisError(
                f"the value contains a control character at position {i} (not shown)",
                field=field,
                expected="printable ASCII without control characters (a token read "
                "from a file: strip its newline)",
            )
        if code > 126:
            raise SpecAnalysisError(
                f"the value contains a non-ASCII character at position {i} (not shown)",
                field=field, expected="printable ASCII",
            )
    if not text:
        raise SpecAnalysisError("the value is empty", field=field,
                                expected="a non-empty value")
    return text


def bearer(token: str) -> str:
    """``"Bearer <token>"``: the one place a token becomes a header value."""
    value = header_value("Authorization", token, field="token")
    register_secret(value)
    return f"Bearer {value}"


class MaskingFilter(logging.Filter):
    """Masks a record's final message (arguments merged) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep the raw text
            message = str(record.msg)
        record.msg = mask(message)
        record.args = ()
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


_FILTER = MaskingFilter()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the masking filter attached (once)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def warn(message: str, category: type[Warning] = UserWarning, stacklevel: int = 2) -> None:
    """``warnings.warn`` with the message masked (stacklevel counts from the caller)."""
    warnings.warn(mask(message), category, stacklevel=stacklevel + 1)
