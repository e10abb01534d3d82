"""Passwords out of every message: a connection string as it may be shown, and any text (a driver's error, which
may quote the string it was given, whole or in part) with the password taken out.

Both forms libpq accepts are handled, URL (`postgresql://user:pw@host/db?password=pw`) and key=value
(`host=h password='a b'`), also when the string is malformed: a message about a URL that cannot be parsed is
exactly where a driver quotes it back.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

# password in the user part of a URL; greedy up to the token's last "@", since a raw "@" may sit in a password
_URL_PASSWORD = re.compile(r"(://[^:/@\s\"']*:)(\S*)(@)")
# password=... in a URL's query
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&\s\"'#]*)", re.IGNORECASE)
# password=... as a libpq keyword: quoted (with \' and \\ escapes, perhaps never closed) or up to white space
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s'\\]|\\.)+)", re.IGNORECASE)
# Shorter passwords are still masked where they stand as a password, but not searched for in free text.
_SEARCHED_MIN_LENGTH = 3


def _keyword_value(raw: str) -> str:
    """A libpq keyword value as the server receives it: quotes and backslash escapes undone."""
    if raw.startswith("'"):
        raw = raw[1:-1] if raw.endswith("'") and len(raw) > 1 and not raw.endswith("\\'") else raw[1:]
    return re.sub(r"\\(.)", r"\1", raw)


def passwords_in(connection: str) -> set[str]:
    """Every password in `connection` (URL or key=value form), as written and as the driver reads it."""
    text = connection or ""
    found: set[str] = set()
    for match in _URL_PASSWORD.finditer(text):
        found.update({match.group(2), unquote(match.group(2))})
    for match in _QUERY_PASSWORD.finditer(text):
        found.update({match.group(2), unquote(match.group(2))})
    for match in _KEYWORD_PASSWORD.finditer(text):
        raw = match.group(2)
        found.update({raw, _keyword_value(raw)})
    return {password for password in found if password}


def redact_connection(connection: str) -> str:
    """The connection string as it may be shown or logged: every password replaced by ***, in either form."""
    text = (connection or "").strip()
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    text = _QUERY_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    # a value already masked is left whole: redacting a message twice must not eat what follows "***" (": ...")
    return _KEYWORD_PASSWORD.sub(lambda m: m.group(0) if m.group(2).startswith(MASK) else f"{m.group(1)}{MASK}", text)


def redact_message(message: str, connection: str = "") -> str:
    """`message` on one line, fit to show: the passwords of `connection` wherever they appear (a driver may quote
    them in any form), and anything written as a password, replaced by ***."""
    text = " ".join(str(message).split())
    for password in sorted(passwords_in(connection), key=len, reverse=True):
        if len(password) >= _SEARCHED_MIN_LENGTH:
            text = text.replace(password, MASK)
            text = text.replace(" ".join(password.split()), MASK)  # the message's white space was collapsed
    return redact_connection(text)
