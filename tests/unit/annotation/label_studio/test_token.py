"""Where the Label Studio API token comes from, and the token files refused."""

from __future__ import annotations

import pytest

from activelearn.annotation.label_studio import api_token
from activelearn.errors import BackendAuthError


def test_api_token_from_environment_or_file(monkeypatch, tmp_path):
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY_FILE", raising=False)
    with pytest.raises(BackendAuthError, match="set LABEL_STUDIO_API_KEY"):
        api_token()
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY_FILE", str(token_file))
    assert api_token() == "from-file"
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "from-env")
    assert api_token() == "from-env"
    monkeypatch.delenv("LABEL_STUDIO_API_KEY")
    token_file.write_text("")
    with pytest.raises(BackendAuthError, match="is empty"):
        api_token()


@pytest.fixture
def token_file(monkeypatch, tmp_path):
    """The token file $LABEL_STUDIO_API_KEY_FILE names (and no $LABEL_STUDIO_API_KEY)."""
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    path = tmp_path / "token"
    monkeypatch.setenv("LABEL_STUDIO_API_KEY_FILE", str(path))
    return path


def _auth_error(secret: str = "") -> str:
    """The one-line message api_token raises, checked not to show the token."""
    with pytest.raises(BackendAuthError) as caught:
        api_token()
    message = str(caught.value)
    assert "\n" not in message
    assert not secret or secret not in message
    return message


@pytest.mark.parametrize(("content", "why"), [
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a text file"),
    (b"abc123\ndef456\n", "whitespace or a line break inside"),
    (b"abc123 def456", "whitespace or a line break inside"),
    (b"abc\x07123", "control or non-ASCII characters"),
    ("t\u00f6ken".encode(), "control or non-ASCII characters"),
    (b"a" * 1001, "1,001 characters long, more than an API token's 1,000"),
    (b"a" * (64 * 1024 + 1), "over 64 KiB"),
])
def test_an_unusable_token_file_is_one_auth_error_naming_the_file(token_file, content, why):
    token_file.write_bytes(content)
    message = _auth_error(secret="abc123")
    assert message.startswith(f"LABEL_STUDIO_API_KEY_FILE={token_file}: ")
    assert why in message


def test_a_token_file_that_is_a_folder_is_an_auth_error(token_file):
    token_file.mkdir()
    assert _auth_error() == (f"LABEL_STUDIO_API_KEY_FILE={token_file}: is a folder; set "
                             "LABEL_STUDIO_API_KEY_FILE to the file that holds the token")


def test_a_token_file_may_end_in_newlines_and_start_with_a_byte_order_mark(token_file):
    token = "a" * 1000
    token_file.write_bytes(b"\xef\xbb\xbf" + token.encode() + b"\r\n\n")
    assert api_token() == token


def test_a_token_in_the_environment_is_checked_like_one_from_a_file(monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "abc123 def456")
    message = _auth_error(secret="abc123")
    assert message.startswith("LABEL_STUDIO_API_KEY: the token has whitespace")
