"""The exceptions activelearn raises. The CLI turns them into one line and an exit code."""


class ActiveLearnError(Exception):
    """Base class: a runtime failure the user can act on (exit code 1)."""

    exit_code = 1


class ConfigError(ActiveLearnError):
    """The project file or a command-line option is wrong (exit code 2)."""

    exit_code = 2


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


class BackendError(ActiveLearnError):
    """The annotation backend (Label Studio) refused a request or answered nonsense."""


class BackendUnavailableError(BackendError):
    """The annotation backend did not answer (down, unreachable, timed out)."""


class BackendAuthError(BackendError):
    """The annotation backend refused the API token, or no token was given."""


class JobError(ActiveLearnError):
    """A job failed, timed out, or found no worker."""
