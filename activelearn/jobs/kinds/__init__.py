"""The job kinds by name: one module per kind declares it (`KIND`, a jobs.kind.JobKind)
with its worker side and its controller side; this registry lists them, one line each.

    from activelearn.jobs.kinds import get_kind
    get_kind("score").queue_name(cfg.jobs)      # where its jobs go
    get_kind("scroe")   # UnknownNameError: unknown job kind 'scroe'; available: cache, ...

The executor, the worker (which runs only registered kinds) and `status --queues` read
the declarations; nothing else names a kind. Adding a kind: a module here with its KIND
and one register line below (see ARCHITECTURE.md). The modules are imported when a kind
is first asked for, so listing the names costs no torch import.
"""

from __future__ import annotations

from activelearn.config import JobsConfig
from activelearn.config.registry import Registry
from activelearn.jobs.kind import JobKind

__all__ = ["JobKind", "all_kinds", "available_kinds", "get_kind", "queue_names",
           "register_kind"]

_KINDS: Registry[JobKind] = Registry("job kind")


def register_kind(kind: JobKind) -> JobKind:
    """Make kind runnable by its name, inline and on workers (replaces a kind of that
    name); returns it."""
    return _KINDS.register(kind.name, kind)


def get_kind(name: str) -> JobKind:
    """The kind registered as name; an unknown name is an UnknownNameError (one line,
    listing the registered kinds)."""
    return _KINDS.get(name)


def available_kinds() -> list[str]:
    """The registered kind names, sorted."""
    return _KINDS.available()


def all_kinds() -> list[JobKind]:
    """Every registered kind, by name."""
    return [get_kind(name) for name in available_kinds()]


def queue_names(cfg: JobsConfig) -> list[str]:
    """The RQ queues the registered kinds use (each once, in kind order): what a worker
    serves by default and what `status --queues` shows."""
    return list(dict.fromkeys(kind.queue_name(cfg) for kind in all_kinds()))


# one line per kind: its name and its declaration ("module:KIND")
_KINDS.register_lazy("train", "activelearn.jobs.kinds.train:KIND")
_KINDS.register_lazy("oof", "activelearn.jobs.kinds.oof:KIND")
_KINDS.register_lazy("score", "activelearn.jobs.kinds.score:KIND")
_KINDS.register_lazy("select", "activelearn.jobs.kinds.select:KIND")
_KINDS.register_lazy("cache", "activelearn.jobs.kinds.cache:KIND")
_KINDS.register_lazy("embed", "activelearn.jobs.kinds.embed:KIND")
_KINDS.register_lazy("pretrain", "activelearn.jobs.kinds.pretrain:KIND")
