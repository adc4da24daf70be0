"""Every error a request of `activelearn serve` can meet, as the answer it gets: a status
(4xx, or 503 while the project cannot answer), a one-line message for the JSON body,
and at most one short line for the service's log; never a traceback. app.py's exception
handler table calls refusal() for each kind; the web framework's own HTTP errors (an
unknown route, a wrong method) keep their status.

    BodyTooLarge                          413  the body is over serve.max_body
    BadBody, BadRequest, BadEvent,
    ValueError, RecursionError            400  the body or path is not what the route reads
    StateError                            503  the state is damaged, locked or missing
    any other ActiveLearnError            503  (e.g. Label Studio unreachable)
    anything else                         500  a bug: its type (not its message) in one
                                               log line
"""

from __future__ import annotations

from dataclasses import dataclass

from activelearn.errors import ActiveLearnError, StateError
from activelearn.service.limits import BodyTooLarge

MAX_MESSAGE = 300  # characters of an error body's message


@dataclass(frozen=True)
class Refusal:
    """status: HTTP status; message: the body's "error"; log: the service's log line
    (None: nothing worth a line, the client was told)."""

    status: int
    message: str
    log: str | None = None


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """text on one line of at most limit characters (control characters as spaces, so a
    message that quotes a request cannot forge log lines)."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def refusal(exc: BaseException, where: str) -> Refusal:
    """The answer to a request that raised exc (see the module); where: "METHOD /route"
    for the log line."""
    if isinstance(exc, BodyTooLarge):
        return Refusal(413, one_line(str(exc)))
    if isinstance(exc, StateError):
        message = one_line(str(exc))
        return Refusal(503, message, f"{where}: 503: {message}")
    if isinstance(exc, ActiveLearnError):
        return Refusal(503, one_line(str(exc)))
    if isinstance(exc, RecursionError):
        return Refusal(400, "the request nests too deep to be read")
    if isinstance(exc, ValueError):  # BadBody, BadRequest, BadEvent, and stdlib parsing
        return Refusal(400, one_line(str(exc)) or "the request cannot be read")
    name = type(exc).__name__  # not its message: it may quote the request or a secret
    return Refusal(500, f"internal error ({name}): a bug in activelearn",
                   f"{where}: 500: {name}: a bug in activelearn; please report it with "
                   "what the request held")
