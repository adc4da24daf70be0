"""LabelStudioBackend implements the AnnotationBackend protocol: each part of it (projects,
tasks, annotations, integrations, annotators) with every method of that part, taking the
same parameters (further ones only with defaults). No server: nothing is called."""

from __future__ import annotations

import inspect

import pytest

from activelearn.annotation import (
    AnnotationBackend,
    BackendAnnotations,
    BackendAnnotators,
    BackendIntegrations,
    BackendProjects,
    BackendTasks,
)
from activelearn.annotation.label_studio.client import LabelStudioBackend, SdkConnection

PARTS = {"projects": BackendProjects, "tasks": BackendTasks, "annotations": BackendAnnotations,
         "integrations": BackendIntegrations, "annotators": BackendAnnotators}


def methods(protocol: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(protocol).items()
            if inspect.isfunction(member) and not name.startswith("_")}


def test_the_protocol_is_made_of_these_parts() -> None:
    members = {name for name, member in vars(AnnotationBackend).items()
               if isinstance(member, property)}
    assert members == set(PARTS)
    assert "url" in AnnotationBackend.__annotations__


@pytest.mark.parametrize("part", PARTS)
def test_label_studio_implements_each_method_of_each_part(part: str) -> None:
    backend = LabelStudioBackend(SdkConnection(object(), "http://ls.invalid", 1.0))  # type: ignore[arg-type]
    implementation = getattr(backend, part)
    for name, wanted in methods(PARTS[part]).items():
        method = getattr(implementation, name, None)
        assert callable(method), f"{part}.{name} is missing"
        given = list(inspect.signature(method).parameters.values())
        expected = [p.name for p in wanted.parameters.values()][1:]  # without self
        assert [p.name for p in given[:len(expected)]] == expected, f"{part}.{name}"
        assert all(p.default is not p.empty for p in given[len(expected):]), f"{part}.{name}"
