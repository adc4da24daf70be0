"""The webhook secret: what Label Studio sends in the X-Activelearn-Secret header. Read
from $ACTIVELEARN_WEBHOOK_SECRET or the file named by $ACTIVELEARN_WEBHOOK_SECRET_FILE,
never from the project file."""

from __future__ import annotations

import os

from activelearn.config.serve import SECRET_ENV, SECRET_FILE_ENV
from activelearn.errors import ConfigError

MAX_SECRET_BYTES = 4096


def webhook_secret() -> str:
    """The secret; ConfigError with one line when none is set or it is unusable."""
    value = os.environ.get(SECRET_ENV, "")
    where = f"${SECRET_ENV}"
    path = os.environ.get(SECRET_FILE_ENV, "")
    if not value and path:
        where = f"{path} (${SECRET_FILE_ENV})"
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_SECRET_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read the webhook secret file {where}: "
                              f"{exc.strerror}") from None
        if len(raw) > MAX_SECRET_BYTES:
            raise ConfigError(f"the webhook secret file {where} is over {MAX_SECRET_BYTES} "
                              "bytes: it should hold the secret only")
        try:
            value = raw.decode().strip()
        except UnicodeDecodeError:
            raise ConfigError(f"the webhook secret file {where} is not text") from None
    if not value:
        raise ConfigError(f"no webhook secret: set ${SECRET_ENV} (or ${SECRET_FILE_ENV} to "
                          "a file holding it), e.g. to the output of `openssl rand -hex 20`")
    if len(value) < 16 or any(c.isspace() or not c.isprintable() for c in value):
        raise ConfigError(f"the webhook secret in {where} must be at least 16 printable "
                          "characters without spaces (e.g. `openssl rand -hex 20`)")
    return value
