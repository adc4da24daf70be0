"""The ML backend side of `activelearn serve` (service/predict.py) on a real Fashion-MNIST
project whose state names a model (an untrained small_cnn, saved as a round's
checkpoint): the answers Label Studio parses, item-id tasks read from the pool, tasks
imported by hand read from their data.image, per-task errors, refused bodies, and a
newer model replacing the loaded one. tests/integration/test_serve_predict.py has Label
Studio itself ask for the predictions."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from activelearn.annotation.label_studio import image_data_uri, label_config
from activelearn.config import FASHION_MNIST_CLASSES, load_config
from activelearn.data.sources import open_pool
from activelearn.errors import StateError
from activelearn.learn.checkpoints import checkpoint_path, load_checkpoint, save_checkpoint
from activelearn.learn.fit import build, input_spec
from activelearn.learn.inference import Normalizer, Predictor
from activelearn.project import Project
from activelearn.service import versions
from activelearn.service.predict import NO_MODEL, BadRequest, ModelService
from activelearn.state import Store


def write_project(folder, fmnist_root) -> object:
    raw = {"project": {"name": "t", "work_dir": str(folder / "work"), "seed": 0},
           "data": {"source": "fashion-mnist", "root": str(fmnist_root), "limit": 300,
                    "test_limit": 100},
           "classes": list(FASHION_MNIST_CLASSES), "model": {"name": "small_cnn"},
           "training": {"threads": 1},
           # nothing listens there: a task naming a Label Studio file cannot be read
           "label_studio": {"url": "http://127.0.0.1:1"}}
    (folder / "project.yaml").write_text(yaml.safe_dump(raw))
    return load_config(folder / "project.yaml")


def add_model(cfg, round_: int, seed: int) -> str:
    """A finished round whose (untrained, seeded) model is in the artifact store."""
    torch.manual_seed(seed)
    version = f"t-r{round_}"
    model = build(cfg.model, input_spec(torch.zeros(1, 1, 28, 28), 10))
    save_checkpoint(checkpoint_path(cfg.work_dir, version), model,
                    Normalizer((72.9,), (90.0,)), {"model_version": version})
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.rounds.start(round_)
        store.rounds.finish(round_, version, 40)
    return version


@pytest.fixture(scope="module")
def served(tmp_path_factory, fmnist_root):
    """(config, pool, service) of a project with model t-r0; the pool loads once."""
    cfg = write_project(tmp_path_factory.mktemp("served"), fmnist_root)
    add_model(cfg, 0, seed=0)
    return cfg, open_pool(cfg), ModelService(Project(cfg))


def expected(cfg, pool, version: str, positions: list[int]) -> np.ndarray:
    """probs: [items, classes] of the version's checkpoint on these pool items."""
    model = build(cfg.model, input_spec(pool.images, 10))
    norm, _ = load_checkpoint(checkpoint_path(cfg.work_dir, version), model)
    return Predictor(model, norm, torch.device("cpu"))(pool.images[positions]).probs


def item_task(pool, i: int) -> dict:
    item = pool.item_ids[i]
    return {"id": 100 + i, "data": {"image": "data:,not-used", "item_id": item},
            "meta": {"item_id": item}}


def test_without_a_model_health_and_setup_answer_and_predict_is_refused(tmp_path,
                                                                        fmnist_root):
    service = ModelService(Project(write_project(tmp_path, fmnist_root)))
    health = service.health()
    assert health["status"] == "UP" and health["model_class"] == "activelearn"
    assert health["model_version"] is None
    assert service.setup({"project": "1.1700000000", "schema": label_config(
        list(FASHION_MNIST_CLASSES))}) == {"model_version": None}
    with pytest.raises(StateError, match=NO_MODEL):
        service.predict({"tasks": [{"id": 1, "data": {"image": "data:,x"}}]})


def test_item_tasks_get_the_models_class_score_and_version_in_order(served):
    cfg, pool, service = served
    version = service.latest_version()
    positions = [7, 3, 250, 0, 41, 9, 120, 88, 5, 299]
    answer = service.predict({"tasks": [item_task(pool, i) for i in positions],
                              "label_config": label_config(list(cfg.classes))})
    probs = expected(cfg, pool, version, positions)
    assert len(answer["results"]) == len(positions)
    for row, entry in zip(probs, answer["results"]):
        best = int(row.argmax())
        assert entry["model_version"] == version
        assert entry["result"] == [{"from_name": "label", "to_name": "image",
                                    "type": "choices",
                                    "value": {"choices": [cfg.classes[best]]}}]
        assert entry["score"] == pytest.approx(float(row[best]), abs=1e-5)
    assert service.setup({"schema": label_config(list(cfg.classes))}) == {
        "model_version": version}
    assert service.health()["loaded_model_version"] == version


def test_a_data_uri_of_an_item_predicts_as_the_item_does(served):
    _, pool, service = served
    same = {"id": 1, "data": {"image": image_data_uri(pool.images[12].numpy())}}
    rgb = Image.fromarray(pool.images[12, 0].numpy()).convert("RGB").resize((56, 56))
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG")
    bigger = {"id": 2, "data": {"image": "data:image/jpeg;base64,"
                                + base64.b64encode(buffer.getvalue()).decode()}}
    by_item, by_uri, resized = service.predict(
        {"tasks": [item_task(pool, 12), same, bigger]})["results"]
    assert by_uri == by_item
    assert "result" in resized and 0 <= resized["score"] <= 1


def test_an_unreadable_image_is_an_error_entry_in_its_place(served, monkeypatch):
    _, pool, service = served
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "x" * 40)
    tasks = [item_task(pool, 1),
             {"id": 501, "data": {"image": "/etc/passwd"}},
             {"id": 502, "data": {"image": "file:///etc/hostname"}},
             {"id": 503, "data": {"image": "data:image/png;base64,AAAA"}},
             {"id": 504, "data": {"image": "/data/upload/1/x.png"}},
             {"id": 505, "data": {"text": "no image"}},
             {"id": 506, "data": {"image": "/data/upload/1/y.png"}},
             item_task(pool, 2)]
    results = service.predict({"tasks": tasks})["results"]
    assert len(results) == len(tasks)
    assert "result" in results[0] and "result" in results[-1]
    errors = [r.get("error", "") for r in results[1:-1]]
    assert all("result" not in r for r in results[1:-1])
    assert errors[0].startswith("task 501: cannot read its image: '/etc/passwd' is not")
    assert errors[1] == "task 502: cannot read its image: the image URL is not allowed or " \
        "could not be fetched"  # serve.fetch's one reason (data/outbound.py)
    assert "not a readable image" in errors[2]
    assert "Label Studio at http://127.0.0.1:1 did not answer" in errors[3]
    assert "no data.image" in errors[4]
    assert errors[5] == errors[3].replace("504", "506")
    assert all("\n" not in e for e in errors)


@pytest.mark.parametrize(("body", "why"), [
    ([], "not a JSON object"),
    ({}, "no 'tasks' list"),
    ({"tasks": {"id": 1}}, "no 'tasks' list"),
    ({"tasks": [3]}, "task 0 of the /predict body is not a JSON object"),
    ({"tasks": [{"id": 8, "data": "x"}]}, "task 8 of the /predict body has no 'data'"),
    ({"tasks": [], "label_config": "<View/>"}, "has no Choices named 'label'"),
    ({"tasks": [], "label_config": label_config(["a", "b"])}, "has 2 classes, the model "
                                                              "predicts 10 other ones"),
])
def test_bodies_label_studio_would_not_send_are_bad_requests(served, body, why):
    with pytest.raises(BadRequest, match=why):
        served[2].predict(body)


def test_setup_refuses_a_project_of_other_classes(served):
    with pytest.raises(BadRequest, match="has 3 classes"):
        served[2].setup({"schema": label_config(["a", "b", "c"])})
    with pytest.raises(BadRequest, match="not a JSON object"):
        served[2].setup("x")


def test_no_tasks_is_no_results(served):
    assert served[2].predict({"tasks": []}) == {"results": []}


def test_a_newer_model_replaces_the_loaded_one_after_a_look_at_the_state(served,
                                                                        monkeypatch):
    cfg, pool, service = served
    old = service.latest_version()
    service.predict({"tasks": [item_task(pool, 4)]})
    monkeypatch.setattr(versions, "CHECK_EVERY", 3600.0)
    assert service.latest_version() == old  # just looked: not again for an hour
    new = add_model(cfg, int(old.rsplit("r", 1)[1]) + 1, seed=1)
    assert service.latest_version() == old
    monkeypatch.setattr(versions, "CHECK_EVERY", 0.0)
    entry = service.predict({"tasks": [item_task(pool, 4)]})["results"][0]
    row = expected(cfg, pool, new, [4])[0]
    assert entry["model_version"] == new
    assert entry["score"] == pytest.approx(float(row.max()), abs=1e-5)
    assert service.health()["loaded_model_version"] == new


def test_a_newest_model_that_cannot_load_leaves_the_loaded_one_answering(served,
                                                                         monkeypatch):
    cfg, pool, service = served
    monkeypatch.setattr(versions, "CHECK_EVERY", 0.0)
    loaded = service.predict({"tasks": [item_task(pool, 4)]})["results"][0]["model_version"]
    broken = f"t-r{int(loaded.rsplit('r', 1)[1]) + 1}"
    checkpoint_path(cfg.work_dir, broken).write_bytes(b"not a checkpoint")
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.rounds.start(int(broken.rsplit("r", 1)[1]))
        store.rounds.finish(int(broken.rsplit("r", 1)[1]), broken, 40)
    entry = service.predict({"tasks": [item_task(pool, 4)]})["results"][0]
    assert service.latest_version() == broken and entry["model_version"] == loaded


def test_through_the_app_no_model_is_503_and_a_bad_body_400(tmp_path, fmnist_root):
    from starlette.testclient import TestClient

    from activelearn.service.app import create_app

    cfg = write_project(tmp_path, fmnist_root)
    with TestClient(create_app(Project(cfg), "s" * 20, lambda line: None, warm=False)) as client:
        assert client.get("/health").json()["status"] == "UP"
        assert client.post("/setup", json={"schema": label_config(list(cfg.classes))}).json() \
            == {"model_version": None}
        answer = client.post("/predict", json={"tasks": []})
        assert answer.status_code == 503 and answer.json() == {"error": NO_MODEL}
        answer = client.post("/predict", json={"tasks": 1})
        assert answer.status_code == 400 and "no 'tasks' list" in answer.json()["error"]


def test_head_mode_runs_the_backbone_then_the_head_as_training_saw_it(tmp_path, fmnist_root):
    from activelearn.learn.embedding import pool_features
    from activelearn.learn.networks import InputSpec
    from support.weights import saved_cnn

    saved_cnn(tmp_path / "backbone.pt")
    write_project(tmp_path, fmnist_root)
    raw = yaml.safe_load((tmp_path / "project.yaml").read_text())
    raw["model"] = {"name": "small_cnn", "weights": str(tmp_path / "backbone.pt"),
                    "train": "head"}
    (tmp_path / "project.yaml").write_text(yaml.safe_dump(raw))
    cfg = load_config(tmp_path / "project.yaml")
    pool = open_pool(cfg)
    features = pool_features(cfg, pool, torch.device("cpu")).float()  # what training reads
    torch.manual_seed(5)
    head = build(cfg.model, InputSpec(features.shape[1], 1, 1, 10))
    norm = Normalizer.fit(features)
    save_checkpoint(checkpoint_path(cfg.work_dir, "t-r0"), head, norm, {})
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.rounds.start(0)
        store.rounds.finish(0, "t-r0", 40)
    positions = [3, 17, 200]
    want = Predictor(head, norm, torch.device("cpu"))(features[positions]).probs
    service = ModelService(Project(cfg))
    results = service.predict({"tasks": [item_task(pool, i) for i in positions] + [
        {"id": 1, "data": {"image": image_data_uri(pool.images[17].numpy())}}]})["results"]
    for row, entry in zip(want, results):
        assert entry["result"][0]["value"]["choices"] == [cfg.classes[int(row.argmax())]]
        assert entry["score"] == pytest.approx(float(row.max()), abs=2e-3)
    assert results[3] == results[1]
