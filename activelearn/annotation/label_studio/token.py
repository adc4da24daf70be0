"""Where the Label Studio API token comes from: $LABEL_STUDIO_API_KEY, else the file named
by $LABEL_STUDIO_API_KEY_FILE; never the project file, never a line of output."""

from __future__ import annotations

import os

from activelearn.errors import BackendAuthError

TOKEN_ENV = "LABEL_STUDIO_API_KEY"
TOKEN_FILE_ENV = "LABEL_STUDIO_API_KEY_FILE"
# Longer than any token Label Studio issues (legacy 40 hex digits, JWTs of a few hundred).
MAX_TOKEN_CHARS = 1000
MAX_TOKEN_FILE_BYTES = 64 * 1024  # more is not a token file; it is not read whole


def api_token() -> str:
    """The API token: $LABEL_STUDIO_API_KEY, else the file named by
    $LABEL_STUDIO_API_KEY_FILE. Never from the project file, never logged: the errors
    name where the token came from, never the token."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return _checked_token(token, TOKEN_ENV)
    path = os.environ.get(TOKEN_FILE_ENV, "").strip()
    if not path:
        raise BackendAuthError(
            f"no Label Studio API token: set {TOKEN_ENV}, or {TOKEN_FILE_ENV} to a file "
            "holding it")
    where = f"{TOKEN_FILE_ENV}={path}"
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_TOKEN_FILE_BYTES + 1)
    except IsADirectoryError:
        raise BackendAuthError(f"{where}: is a folder; set {TOKEN_FILE_ENV} to the file "
                               "that holds the token") from None
    except OSError as exc:
        raise BackendAuthError(f"{where}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_TOKEN_FILE_BYTES:
        raise BackendAuthError(f"{where}: the file is over {MAX_TOKEN_FILE_BYTES // 1024} KiB, "
                               "not a token file; it must hold only the token")
    try:
        token = raw.decode("utf-8-sig").strip()  # -sig: an editor's byte-order mark
    except UnicodeDecodeError:
        raise BackendAuthError(f"{where}: not a text file; it must hold only the token, "
                               "as text") from None
    if not token:
        raise BackendAuthError(f"{where}: the file is empty")
    return _checked_token(token, where)


def _checked_token(token: str, where: str) -> str:
    """The token (already stripped) if it can be one: it goes into an HTTP header as is,
    so whitespace, control or non-ASCII characters inside mean a wrong value or file."""
    if len(token) > MAX_TOKEN_CHARS:
        raise BackendAuthError(f"{where}: the token is {len(token):,} characters long, more "
                               f"than an API token's {MAX_TOKEN_CHARS:,}; it must hold "
                               "only the token")
    if any(c.isspace() for c in token):
        raise BackendAuthError(f"{where}: the token has whitespace or a line break inside; "
                               "it must hold only the token, on one line")
    if not (token.isascii() and token.isprintable()):
        raise BackendAuthError(f"{where}: the token has control or non-ASCII characters; "
                               "it must hold only the token")
    return token
