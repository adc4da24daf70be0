"""The `serve:` section of the project file: `activelearn serve`, the HTTP service beside
Label Studio (webhooks that start cycles, the ML backend protocol, metrics). Part of
schema.py's Config."""

from __future__ import annotations

from dataclasses import dataclass, field

from activelearn.config.fetch import FetchConfig, fetch_problems

SECRET_ENV = "ACTIVELEARN_WEBHOOK_SECRET"
SECRET_FILE_ENV = "ACTIVELEARN_WEBHOOK_SECRET_FILE"
SECRET_HEADER = "X-Activelearn-Secret"


@dataclass(frozen=True)
class ServeConfig:
    """How `activelearn serve` listens and when a webhook starts a cycle (`serve:`).
    The webhook secret never goes in this file: it comes from $ACTIVELEARN_WEBHOOK_SECRET
    or the file named by $ACTIVELEARN_WEBHOOK_SECRET_FILE; Label Studio sends it in the
    X-Activelearn-Secret header (init --connect-ml-backend sets that up).

    Attributes:
        host {an address without spaces}: the address it binds (127.0.0.1: only this
            machine; 0.0.0.0 for a Label Studio on another machine or in another container)
        port [1, 65535]: the port (9090 is the one Label Studio suggests for an ML backend)
        min_new_labels [1, 10**6]: a cycle starts once this many annotations were created,
            updated or deleted since the last one started ...
        max_wait [1, 604800]: ... or this many seconds after the first of them, whichever
            comes first; events that arrive while a cycle runs start exactly one more cycle
            after it ends
        retry_after [1, 900]: seconds before a cycle that failed is started again with
            the changes it was started for (kept, not dropped); the wait doubles with each
            failure in a row, up to 15 minutes, and a cycle that runs to its end resets it
        max_body [1024, 2**31]: the most bytes a /predict or /webhook body may hold (its
            tasks' data: URIs included); a longer one is refused with 413 before it is read
            whole
        max_setup_body [1024, 2**31]: the same for /setup, whose body is the label config
        predict_deadline [1, 3600]: seconds one /predict may take; a task whose image is
            not read by then gets an error entry instead of a prediction (Label Studio
            asks for it again), so the answer comes in time (Label Studio 1.23 waits
            ML_TIMEOUT_PREDICT, 100 s)
        max_fetches [1, 256]: task images read at once across all /predict requests, on
            the service's own threads (more wait their turn within their deadline)
    """

    host: str = "127.0.0.1"
    port: int = 9090
    min_new_labels: int = 20
    max_wait: float = 300.0
    retry_after: float = 30.0
    max_body: int = 32 * 1024 * 1024
    max_setup_body: int = 1024 * 1024
    predict_deadline: float = 90.0
    max_fetches: int = 8
    fetch: FetchConfig = field(default_factory=FetchConfig)


def serve_problems(cfg: ServeConfig) -> list[str]:
    """What is wrong with a serve section (empty: nothing)."""
    out = []
    if not cfg.host or any(c.isspace() for c in cfg.host):
        out.append(f"serve.host {cfg.host!r} is not an address: use e.g. 127.0.0.1 or 0.0.0.0")
    if not 1 <= cfg.port <= 65535:
        out.append(f"serve.port {cfg.port} is out of range: use 1 to 65535")
    if not 1 <= cfg.min_new_labels <= 10**6:
        out.append(f"serve.min_new_labels {cfg.min_new_labels} is out of range: use 1 to "
                   "1000000")
    if not 1 <= cfg.max_wait <= 604800:
        out.append(f"serve.max_wait {cfg.max_wait} is out of range: use 1 to 604800 seconds")
    if not 1 <= cfg.retry_after <= 900:
        out.append(f"serve.retry_after {cfg.retry_after} is out of range: use 1 to 900 seconds")
    for key in ("max_body", "max_setup_body"):
        if not 1024 <= getattr(cfg, key) <= 2**31:
            out.append(f"serve.{key} {getattr(cfg, key)} is out of range: use 1024 to "
                       f"{2**31} bytes")
    if not 1 <= cfg.predict_deadline <= 3600:
        out.append(f"serve.predict_deadline {cfg.predict_deadline} is out of range: use 1 to "
                   "3600 seconds")
    if not 1 <= cfg.max_fetches <= 256:
        out.append(f"serve.max_fetches {cfg.max_fetches} is out of range: use 1 to 256")
    out += fetch_problems(cfg.fetch)
    return out
