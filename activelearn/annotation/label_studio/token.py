"""Where the Label Studio API token comes from: $LABEL_STUDIO_API_KEY, else the file named
by $LABEL_STUDIO_API_KEY_FILE; and the AWS keys an S3 storage hands to Label Studio
(image_mode s3-storage): $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY, $AWS_SESSION_TOKEN,
each else the file named by the same name with _FILE. Never the project file, never a
line of output: the errors name where a value came from, never the value (and
errors.redact hides the values of these variables and files wherever a line shows)."""

from __future__ import annotations

import os

from activelearn.annotation.backend import AwsKeys
from activelearn.errors import BackendAuthError

TOKEN_ENV = "LABEL_STUDIO_API_KEY"
TOKEN_FILE_ENV = "LABEL_STUDIO_API_KEY_FILE"
AWS_KEY_ENVS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Longer than any token Label Studio issues (legacy 40 hex digits, JWTs of a few hundred).
MAX_TOKEN_CHARS = 1000
MAX_AWS_KEY_CHARS = 4096  # an STS session token is about 1,000 characters, at most 4 KB
MAX_TOKEN_FILE_BYTES = 64 * 1024  # more is not a token file; it is not read whole


def api_token() -> str:
    """The API token: $LABEL_STUDIO_API_KEY, else the file named by
    $LABEL_STUDIO_API_KEY_FILE. Never from the project file, never logged: the errors
    name where the token came from, never the token."""
    token = env_secret(TOKEN_ENV, "the token", MAX_TOKEN_CHARS)
    if token is None:
        raise BackendAuthError(
            f"no Label Studio API token: set {TOKEN_ENV}, or {TOKEN_FILE_ENV} to a file "
            "holding it")
    return token


def aws_keys() -> AwsKeys:
    """The AWS keys of this process's environment for Label Studio's S3 storage: the
    access key id and secret key (both needed) and a session token (optional), each
    from its variable, else from the file its _FILE variable names."""
    found = {name: env_secret(name, "the key", MAX_AWS_KEY_CHARS) for name in AWS_KEY_ENVS}
    missing = [name for name in AWS_KEY_ENVS[:2] if found[name] is None]
    if missing:
        raise BackendAuthError(
            f"no AWS keys for Label Studio's S3 storage (label_studio.image_mode "
            f"s3-storage): set {' and '.join(missing)} (or "
            f"{' and '.join(name + '_FILE' for name in missing)} to files holding them), "
            "or label_studio.storage_credentials: label-studio to let Label Studio use its "
            "own AWS settings")
    return AwsKeys(found[AWS_KEY_ENVS[0]] or "", found[AWS_KEY_ENVS[1]] or "",
                   found[AWS_KEY_ENVS[2]] or "")


def env_secret(name: str, what: str, max_chars: int) -> str | None:
    """The secret in $name, else in the file $name_FILE names; None when neither is set.
    BackendAuthError (naming the variable or file, never the value) for a file that
    cannot be read or a value that cannot be one (whitespace or control characters
    inside, too long)."""
    value = os.environ.get(name, "").strip()
    if value:
        return _checked(value, name, what, max_chars)
    file_env = f"{name}_FILE"
    path = os.environ.get(file_env, "").strip()
    if not path:
        return None
    where = f"{file_env}={path}"
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_TOKEN_FILE_BYTES + 1)
    except IsADirectoryError:
        raise BackendAuthError(f"{where}: is a folder; set {file_env} to the file that "
                               f"holds {what}") from None
    except OSError as exc:
        raise BackendAuthError(f"{where}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_TOKEN_FILE_BYTES:
        raise BackendAuthError(f"{where}: the file is over {MAX_TOKEN_FILE_BYTES // 1024} KiB, "
                               f"not a key file; it must hold only {what}")
    try:
        value = raw.decode("utf-8-sig").strip()  # -sig: an editor's byte-order mark
    except UnicodeDecodeError:
        raise BackendAuthError(f"{where}: not a text file; it must hold only {what}, "
                               "as text") from None
    if not value:
        raise BackendAuthError(f"{where}: the file is empty")
    return _checked(value, where, what, max_chars)


def _checked(value: str, where: str, what: str, max_chars: int) -> str:
    """The value (already stripped) if it can be a token or key: it goes into an HTTP
    header or a request as is, so whitespace, control or non-ASCII characters inside
    mean a wrong value or file."""
    if len(value) > max_chars:
        longest = "an API token's" if what == "the token" else "a key's"
        raise BackendAuthError(f"{where}: {what} is {len(value):,} characters long, more "
                               f"than {longest} {max_chars:,}; it must hold only {what}")
    if any(c.isspace() for c in value):
        raise BackendAuthError(f"{where}: {what} has whitespace or a line break inside; "
                               f"it must hold only {what}, on one line")
    if not (value.isascii() and value.isprintable()):
        raise BackendAuthError(f"{where}: {what} has control or non-ASCII characters; "
                               f"it must hold only {what}")
    return value
