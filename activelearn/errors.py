"""The exceptions activelearn raises. The CLI turns them into one line and an exit code.

And what such a line may hold: `redact` (no token, secret or password; used by every
error's str and by the CLI's last line) and `printable` (a value from outside, such as an
item id or a file name, with its control characters escaped, so it cannot break or forge
a log line).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from typing import Any

# environment variables whose values are secrets (and NAME_FILE: a file holding one);
# AWS_ACCESS_KEY_ID too: image_mode s3-storage hands it to Label Studio with the secret key
SECRET_NAMES = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY(?:_ID)?|SESSION_KEY)"
                        r"(_FILE)?$")
MIN_SECRET_CHARS = 8  # shorter values are not hidden: they would blank ordinary words
MAX_SECRET_FILE_BYTES = 64 * 1024
HIDDEN = "***"
# names of URL query parameters that carry credentials (password=, token=, api_key=,
# X-Amz-Signature=, X-Amz-Credential=, sig=, auth=, ...): what no payload carries
# (jobs/inputs.public_url) and no message shows (config/service_checks.mask_password)
CREDENTIAL_PARAM = re.compile(r"(?i)pass|pwd|secret|token|key|sig|credential|auth")
# credentials as they are written in headers, URLs and echoed request dumps
_CREDENTIALS = [
    # Authorization: Token abc / "authorization": "Bearer abc" / X-...-Secret: abc
    (re.compile(r"""(?i)((?:proxy-)?authorization|x-[a-z-]*(?:secret|token|key)|cookie)"""
                r"""(["']?\s*[:=]\s*["']?)[^"'\r\n,;}]*"""), rf"\1\2{HIDDEN}"),
    (re.compile(r"(?i)\b(token|bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{12,}"), rf"\1\2{HIDDEN}"),
    # scheme://user:password@host
    (re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^\s@]*@"), rf"\1:{HIDDEN}@"),
]


class ActiveLearnError(Exception):
    """Base class: a runtime failure the user can act on (exit code 1). Its str is its
    message redacted and on one line (see `redact`, `printable`), wherever it is shown."""

    exit_code = 1

    def __str__(self) -> str:
        return printable(redact(super().__str__()))


class ConfigError(ActiveLearnError):
    """The project file or a command-line option is wrong (exit code 2)."""

    exit_code = 2


class OptionError(ConfigError):
    """A value the caller passed is wrong (exit code 2). The message names each such value
    by its parameter, a {field} of `template` (names: how each reads by default: its
    parameter name, or the setting it stands for, a dotted key), so that the code below
    the command line names no flag: the CLI renders it with its own
    (cli.base.option_message)."""

    def __init__(self, template: str, names: dict[str, str], **values: Any) -> None:
        self.template, self.names, self.values = template, names, values
        super().__init__(self.render())

    def render(self, names: Mapping[str, str] | None = None) -> str:
        """The message, each parameter named by `names` where it has a name there."""
        return self.template.format(**{**self.names, **(names or {})}, **self.values)

    def __reduce__(self) -> tuple[Any, ...]:  # pickled with its parts, not its message
        return _option_error, (self.template, self.names, self.values)


def _option_error(template: str, names: dict[str, str], values: dict[str, Any]) -> OptionError:
    return OptionError(template, names, **values)


class UnknownNameError(ConfigError):
    """A pluggable (strategy, model, source) was asked for by a name nobody registered."""

    def __init__(self, kind: str, name: str, available: list[str]) -> None:
        super().__init__(
            f"unknown {kind} {name!r}; available: {', '.join(sorted(available))}"
        )
        self.kind = kind
        self.name = name
        self.available = sorted(available)


class DataError(ActiveLearnError):
    """A data source is missing or unusable (a missing dataset, an empty folder)."""


class PoolExhaustedError(ActiveLearnError):
    """A strategy was asked for more items than the pool still has unlabeled."""

    def __init__(self, available: int, requested: int) -> None:
        super().__init__(f"pool exhausted: {available} unlabeled, {requested} requested")
        self.available = available
        self.requested = requested


class StateError(ActiveLearnError):
    """The state store is unreadable or belongs to a different project."""


class OutdatedStateError(StateError):
    """A state of an earlier schema, opened by a command that only reads: `activelearn
    upgrade` (or any command that writes) brings it to this release's schema."""

    def __init__(self, path: object, found: int, needed: int, config: object = None) -> None:
        self.path, self.found, self.needed = path, found, needed
        how = f"activelearn upgrade --config {config}" if config else "activelearn upgrade"
        super().__init__(f"{path} is schema {found}, this release needs {needed}: run "
                         f"`{how}` (it backs up first)")


class BackendError(ActiveLearnError):
    """The annotation backend (Label Studio) refused a request or answered nonsense."""


class BackendUnavailableError(BackendError):
    """The annotation backend did not answer (down, unreachable, timed out)."""


class BackendAuthError(BackendError):
    """The annotation backend refused the API token, or no token was given."""


class JobError(ActiveLearnError):
    """A job failed, timed out, or found no worker."""


def secret_values() -> list[str]:
    """The secrets this process holds in its environment (SECRET_NAMES: the Label Studio
    token, the webhook secret, AWS keys, ...) or in the files such a variable names;
    longest first."""
    found: set[str] = set()
    for name, value in os.environ.items():
        if not SECRET_NAMES.search(name.upper()) or not value.strip():
            continue
        if name.upper().endswith("_FILE"):
            value = _small_file(value.strip())
        found.update(v for v in (value.strip(), *value.split()) if len(v) >= MIN_SECRET_CHARS)
    return sorted(found, key=len, reverse=True)


def _small_file(path: str) -> str:
    """The start of a regular file as text; "" for anything else (never blocks on a
    FIFO or a device: an error is being shown)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return os.read(fd, MAX_SECRET_FILE_BYTES).decode("utf-8-sig", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """text without credentials: the values of secret_values() and `secrets`, whatever
    follows an Authorization, Cookie or X-...-Secret/Token/Key header name, a Token,
    Bearer or Basic credential, and a URL's password, each shown as ***."""
    for value in (*secrets, *secret_values()):
        if len(value) >= MIN_SECRET_CHARS:
            text = text.replace(value, HIDDEN)
    for pattern, replacement in _CREDENTIALS:
        text = pattern.sub(replacement, text)
    return text


def printable(value: object) -> str:
    """str(value) with its control characters (line breaks, ESC, DEL, Unicode line
    separators) escaped as Python writes them (\\n, \\x1b, \\u2028): a value from
    outside (an item id, a file name, an annotator's name) stays on its own line."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
