"""`activelearn init --connect-ml-backend URL`: connect a Label Studio project to the
`activelearn serve` that Label Studio reaches at URL, as its webhook (URL/webhook, the
annotation events that start cycles, with the shared secret) and its ML backend
(predictions on demand: /health, /setup, /predict)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from activelearn.config.serve import SECRET_HEADER
from activelearn.errors import ActiveLearnError, OptionError
from activelearn.service.events import ACTIONS

if TYPE_CHECKING:
    from activelearn.annotation import AnnotationBackend

ML_BACKEND_TITLE = "activelearn"


def service_url(url: str) -> str:
    """The service's URL as given, without a trailing slash; ConfigError (one line) when it
    is not an http(s):// URL with a host (checked before Label Studio is called)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        raise OptionError("{service} {url} is not the service's http(s):// URL as Label "
                          "Studio reaches it, e.g. http://127.0.0.1:9090",
                          {"service": "service"}, url=repr(url))
    return url.strip().rstrip("/")


def connect_service(backend: AnnotationBackend, project_id: int, url: str, secret: str,
                    echo: Callable[[str], None]) -> None:
    """Register the service at url with the project: the webhook first (with the secret
    header), then the ML backend, which Label Studio checks by calling the service's
    /health and /setup (so the service must be running). Idempotent: a second run
    changes nothing, or brings the webhook back to these headers and actions.

    All or nothing: when a step fails (or Ctrl-C comes), what this run created is removed
    again before the error goes on, so no webhook is left sending the secret to a URL
    that was never connected; the lines are shown only once every step is done."""
    integrations = backend.integrations
    hook_url = f"{url}/webhook"
    made: list[tuple[str, Callable[[], None]]] = []
    try:
        hook_id, created = integrations.ensure_webhook(
            project_id, hook_url, {SECRET_HEADER: secret}, ACTIONS)
        if created:
            made.append((f"webhook {hook_id}",
                         functools.partial(integrations.remove_webhook, hook_id)))
        backend_id, backend_made = integrations.ensure_ml_backend(project_id, url,
                                                                  ML_BACKEND_TITLE)
    except BaseException as exc:
        note = _undo(made)
        if note and isinstance(exc, ActiveLearnError) and exc.args:
            exc.args = (f"{exc.args[0]}; {note}", *exc.args[1:])
        raise
    echo(f"webhook {hook_id} ({'created' if created else 'already there'}): {hook_url} for "
         f"{', '.join(ACTIONS)}, with the {SECRET_HEADER} header")
    echo(f"ML backend {backend_id} ({'created' if backend_made else 'already there'}): "
         f"{url} (Data Manager: select tasks, Actions > Retrieve Predictions)")


def _undo(made: list[tuple[str, Callable[[], None]]]) -> str:
    """Remove what a failed run made, newest first; what the error line adds about it."""
    removed, left = [], []
    for what, remove in reversed(made):
        try:
            remove()
            removed.append(what)
        except ActiveLearnError:
            left.append(what)
    if left:
        return (f"could not remove {' and '.join(left)} this run made: delete it in the "
                "project's settings (Webhooks)")
    return f"removed {' and '.join(removed)} this run made" if removed else ""
