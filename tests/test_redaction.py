"""Issue 30 item 6: no message derived from a connection string or a driver error shows its password, whatever
the form (URL, key=value, quoted with spaces, percent-encoded, malformed). Through the real CLI and the real
PostgreSQL driver (libpq quotes the string it could not parse)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from facegate.redaction import passwords_in, redact_connection, redact_message

pytest.importorskip("psycopg")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _facegate(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, FACEGATE_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "facegate", *args], capture_output=True, text=True, timeout=120,
                          env=env)


@pytest.mark.parametrize(("connection", "secrets"), [
    ("postgresql://kiosk:S3cretPW@[::1/facegate", ["S3cretPW"]),  # the issue's: libpq quotes the malformed URL
    ("host=127.0.0.1 port={port} password='S3cret PW' dbname=x", ["S3cret", "PW'"]),  # the issue's: quoted, space
    ("host=127.0.0.1 port={port} password='it\\'s s3cret' dbname=x", ["s3cret", "it\\'s", "it's"]),
    ("postgresql://kiosk:S3cret%20PW%40x@127.0.0.1:{port}/facegate", ["S3cret", "PW@x", "%20PW"]),
    ("postgresql://kiosk@127.0.0.1:{port}/facegate?sslmode=disable&password=Hunter22", ["Hunter22"]),
    ("postgresql://kiosk:S3cretPW@127.0.0.1:{port}/facegate?bogus_option=1", ["S3cretPW"]),
])
def test_item6_the_cli_never_prints_the_password_of_a_database_url(connection, secrets, tmp_path):
    url = connection.format(port=_closed_port())
    result = _facegate("--database", url, "site", "log", home=tmp_path)
    shown = result.stdout + result.stderr
    assert result.returncode != 0 and "error" in shown.lower(), shown  # it still says what went wrong
    for secret in secrets:
        assert secret not in shown, shown
    assert "***" in shown


def test_item6_redaction_of_both_forms_keeps_the_rest_readable():
    assert redact_connection("postgresql://kiosk:pw@door-1:5432/site?sslmode=require") == \
        "postgresql://kiosk:***@door-1:5432/site?sslmode=require"
    assert redact_connection("host=door-1 password = 'a b\\' c' user=kiosk") == "host=door-1 password = *** user=kiosk"
    assert redact_connection("host=door-1 password='never closed user=kiosk") == "host=door-1 password=***"
    assert passwords_in("host=h password='a b\\'c'") >= {"a b'c"}
    # a driver message that quotes the decoded password, on several lines, is scrubbed too
    message = 'could not connect:\n  password "p@ss word!" rejected'
    assert "p@ss" not in redact_message(message, "postgresql://u:p%40ss%20word%21@h/db")
    # a message redacted twice (a SiteError's text in another message) keeps what follows the mask
    once = redact_message("server host=h password='a b': refused", "host=h password='a b'")
    assert once == "server host=h password=***: refused" and redact_message(once, "host=h password='a b'") == once
    # nothing to hide: the message is unchanged
    assert redact_message("connection refused", "postgresql://u@h/db") == "connection refused"
