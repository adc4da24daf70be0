"""`activelearn init --connect-ml-backend URL`: connect a Label Studio project to the
`activelearn serve` that Label Studio reaches at URL, as its webhook (URL/webhook, the
annotation events that start cycles, with the shared secret) and its ML backend
(predictions on demand: /health, /setup, /predict)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from activelearn.config.serve import SECRET_HEADER
from activelearn.errors import OptionError
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
    changes nothing, or brings the webhook back to these headers and actions."""
    hook_url = f"{url}/webhook"
    hook_id, made = backend.integrations.ensure_webhook(
        project_id, hook_url, {SECRET_HEADER: secret}, ACTIONS)
    echo(f"webhook {hook_id} ({'created' if made else 'already there'}): {hook_url} for "
         f"{', '.join(ACTIONS)}, with the {SECRET_HEADER} header")
    backend_id, made = backend.integrations.ensure_ml_backend(project_id, url,
                                                              ML_BACKEND_TITLE)
    echo(f"ML backend {backend_id} ({'created' if made else 'already there'}): {url} "
         "(Data Manager: select tasks, Actions > Retrieve Predictions)")
