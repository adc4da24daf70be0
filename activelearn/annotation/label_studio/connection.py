"""What the Label Studio calls need of the backend's connection to a server
(client.SdkConnection, which holds the SDK client): the calls by concern (projects,
tasks, annotations, the bot's and the service's) take this, so that only client.py
imports the SDK."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Connection(Protocol):
    """A connected server: the SDK client, its URL, the requests it may have in flight,
    and the one place that turns the SDK's and httpx's errors into activelearn's."""

    client: Any  # label_studio_sdk.LabelStudio
    url: str
    workers: int

    def answering(self, doing: str, reasons: Mapping[str, str] | None = None
                  ) -> AbstractContextManager[None]:
        """A block whose SDK and httpx errors become one-line activelearn errors
        (reasons: a phrase of a refusal's message -> the words the line shows for it)."""
        ...

    def required(self, value: Any, what: str) -> Any:
        """value of a server's answer, which must be there (a created object's id)."""
        ...

    def tasks(self, project_id: int, filters: list[dict[str, Any]],
              fields: str) -> Iterator[dict[str, Any]]:
        """All tasks matching the Data Manager filters, in id order."""
        ...

    def page(self, project_id: int, filters: list[dict[str, Any]], ordering: str,
             fields: str, size: int) -> list[Any]:
        """The first `size` tasks matching the filters, in this order."""
        ...
