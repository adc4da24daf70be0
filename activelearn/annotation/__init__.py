"""Annotation backends: the protocol the loop talks to (backend.py), Label Studio, the one
implementation (label_studio/), and the simulated oracle (simulate) and bot (demo)."""

from activelearn.annotation.backend import (
    REVIEW_KIND,
    AnnotationBackend,
    AwsKeys,
    BackendAnnotations,
    BackendAnnotators,
    BackendIntegrations,
    BackendProjects,
    BackendTasks,
    PulledAnnotation,
    PullResult,
    RejectedAnnotation,
    ReviewNote,
    S3Source,
    Suggestion,
    TaskAnnotators,
    TaskSpec,
    review_key,
)

__all__ = [
    "REVIEW_KIND",
    "AnnotationBackend",
    "AwsKeys",
    "BackendAnnotations",
    "BackendAnnotators",
    "BackendIntegrations",
    "BackendProjects",
    "BackendTasks",
    "PullResult",
    "PulledAnnotation",
    "RejectedAnnotation",
    "ReviewNote",
    "S3Source",
    "Suggestion",
    "TaskAnnotators",
    "TaskSpec",
    "review_key",
]
