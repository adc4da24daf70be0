"""The exceptions activelearn raises. The CLI turns them into one line and an exit code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ActiveLearnError(Exception):
    """Base class: a runtime failure the user can act on (exit code 1)."""

    exit_code = 1


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


class BackendError(ActiveLearnError):
    """The annotation backend (Label Studio) refused a request or answered nonsense."""


class BackendUnavailableError(BackendError):
    """The annotation backend did not answer (down, unreachable, timed out)."""


class BackendAuthError(BackendError):
    """The annotation backend refused the API token, or no token was given."""


class JobError(ActiveLearnError):
    """A job failed, timed out, or found no worker."""
