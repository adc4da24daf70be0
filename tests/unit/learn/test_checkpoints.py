"""Checkpoints hold tensors and plain values only: a file that would run code when
unpickled is refused, and every unusable file is one line naming it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from activelearn.data.artifacts import ArtifactStore
from activelearn.errors import StateError
from activelearn.learn.checkpoints import (
    checkpoint_path,
    load_checkpoint,
    metrics_path,
    model_problem,
    save_checkpoint,
)
from activelearn.learn.inference import Normalizer
from activelearn.learn.models import build_model
from activelearn.learn.networks import InputSpec

SPEC = InputSpec(1, 28, 28, 10)


class Payload:
    """Unpickling this runs `touch MARKER` (what a hostile models folder could hold)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "models" / "evil.pt"
    path.parent.mkdir()
    torch.save({"model": Payload(marker), "norm": [[0.0], [1.0]], "meta": {}}, path)
    with pytest.raises(StateError, match="not a checkpoint activelearn can load") as err:
        load_checkpoint(path, build_model("small_cnn", SPEC))
    assert not marker.exists()
    assert len(str(err.value).splitlines()) == 1 and str(path) in str(err.value)


def test_our_own_checkpoints_load_with_weights_only(tmp_path: Path) -> None:
    model = build_model("small_cnn", SPEC)
    norm = Normalizer((33.0,), (70.5,))
    save_checkpoint(tmp_path / "m.pt", model, norm, {"model_version": "v", "round": 2})
    fresh = build_model("small_cnn", SPEC)
    got, meta = load_checkpoint(tmp_path / "m.pt", fresh)
    assert got == norm and meta == {"model_version": "v", "round": 2}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                  fresh.state_dict().values()))


@pytest.mark.parametrize("content, expected", [
    (None, "the checkpoint is missing"),
    (b"", "not a checkpoint activelearn can load"),
    (b"not a zip or a pickle", "not a checkpoint activelearn can load"),
    ("list", "not an activelearn checkpoint"),
])
def test_unusable_checkpoints_are_one_line(tmp_path: Path, content, expected) -> None:
    path = tmp_path / "m.pt"
    if content == "list":
        torch.save([1, 2], path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(StateError, match=expected) as err:
        load_checkpoint(path, build_model("small_cnn", SPEC))
    assert len(str(err.value).splitlines()) == 1


def test_a_checkpoint_of_another_model_is_one_line(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "m.pt", build_model("lenet", SPEC), Normalizer((0.0,), (1.0,)),
                    {})
    with pytest.raises(StateError, match="does not fit the configured model"):
        load_checkpoint(tmp_path / "m.pt", build_model("small_cnn", SPEC))


def test_model_problem_names_what_is_missing_or_unreadable(tmp_path: Path) -> None:
    pt, js = checkpoint_path(tmp_path, "t-r1"), metrics_path(tmp_path, "t-r1")
    store = ArtifactStore(str(tmp_path), tmp_path / "scratch")
    assert "checkpoint is missing" in (model_problem(store, "t-r1") or "")
    save_checkpoint(pt, build_model("small_cnn", SPEC), Normalizer((0.0,), (1.0,)), {})
    assert "metrics file is missing" in (model_problem(store, "t-r1") or "")
    js.write_text("{not json")
    assert "unreadable" in (model_problem(store, "t-r1") or "")
    js.write_text(json.dumps({"metrics": {}}))
    assert model_problem(store, "t-r1") is None
    pt.write_bytes(b"\0" * 10)
    assert "not a checkpoint" in (model_problem(store, "t-r1") or "")


def test_an_exclusive_save_never_replaces_a_published_checkpoint(tmp_path: Path) -> None:
    model, norm = build_model("small_cnn", SPEC), Normalizer((0.0,), (1.0,))
    save_checkpoint(tmp_path / "m.pt", model, norm, {"writer": 1}, exclusive=True)
    with pytest.raises(FileExistsError):
        save_checkpoint(tmp_path / "m.pt", model, norm, {"writer": 2}, exclusive=True)
    assert load_checkpoint(tmp_path / "m.pt", model)[1] == {"writer": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
