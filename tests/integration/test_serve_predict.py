"""Label Studio's ML backend protocol against the real server: `init --connect-ml-backend`
registers the real `activelearn serve` process, and Label Studio's own "Retrieve
Predictions" (the Data Manager action retrieve_tasks_predictions, as the UI sends it)
stores on tasks imported by hand the predictions the service's /predict made with the
latest model (see activelearn/service/predict.py)."""

from __future__ import annotations

import io

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from activelearn.annotation.label_studio import image_data_uri, label_config
from activelearn.cli import main
from activelearn.config.serve import SECRET_ENV, SECRET_HEADER
from activelearn.data.sources import load_source
from activelearn.errors import BackendError
from activelearn.service.events import ACTIONS
from support.loop import Project, cycle
from support.serve import SECRET, start_serve

pytestmark = [pytest.mark.label_studio, pytest.mark.slow]
VERSION = "t-r1"  # the model the second cycle trains


@pytest.fixture
def trained(project_file, ls_env, ls_project_title):
    """A small project whose second cycle trained model t-r1 (20 labels, a few
    seconds) and pushed its query batch with the model's suggestions."""
    path = project_file(
        loop={"initial": 20, "batch": 10, "budget": 200, "min_new_labels": 10,
              "min_queued": 0},
        label_studio={"project_title": ls_project_title, "holdout": 10})
    assert CliRunner().invoke(main, ["init", "--config", str(path)]).exit_code == 0
    cycle(path)
    project = Project(path, ls_env)
    assert project.annotate() == 30
    out = cycle(path)
    assert "round 1: train" in out and "pushed 10 query tasks" in out, out
    return project


def connect(project: Project, url: str) -> str:
    result = CliRunner().invoke(main, ["init", "--config", str(project.path),
                                       "--connect-ml-backend", url])
    assert result.exit_code == 0, result.output
    return result.output


def test_label_studio_retrieves_predictions_from_the_service(trained, ls_env, monkeypatch):
    p, client = trained, trained.backend.client
    pool = load_source(p.cfg.data, p.cfg.classes)
    test_items = [i for i in range(len(pool)) if pool.is_test[i]][:2]
    version_before = client.projects.get(id=p.project_id).model_version
    served = start_serve(p.path, p.cfg.work_dir)
    try:
        monkeypatch.setenv(SECRET_ENV, SECRET)
        out = connect(p, served.url)
        assert "webhook " in out and f"(created): {served.url}/webhook for " in out, out
        assert f"(created): {served.url} " in out, out
        again = connect(p, served.url + "/")
        assert again.count("(already there)") == 2, again
        hooks = [h for h in client.webhooks.list() if h.project == p.project_id]
        assert len(hooks) == 1  # Label Studio added no secret-less one of its own
        assert hooks[0].url == f"{served.url}/webhook"
        assert hooks[0].headers == {SECRET_HEADER: SECRET}
        assert sorted(hooks[0].actions) == sorted(ACTIONS) and not hooks[0].send_for_all_actions
        backends = client.ml.list(project=p.project_id)
        assert [(b.url, b.title) for b in backends] == [(served.url, "activelearn")]
        assert client.projects.get(id=p.project_id).model_version == version_before

        # two tasks imported by hand: a data: URI, and a PNG uploaded to Label Studio
        by_uri = image_data_uri(pool.images[test_items[0]].numpy())
        client.projects.import_tasks(id=p.project_id, request=[{"data": {"image": by_uri}}])
        png = io.BytesIO()
        Image.fromarray(pool.images[test_items[1], 0].numpy()).save(png, format="PNG")
        upload = httpx.post(f"{ls_env.url}/api/projects/{p.project_id}/import",
                            headers={"Authorization": f"Token {ls_env.token}"},
                            files={"file": ("shoe.png", png.getvalue(), "image/png")},
                            timeout=60)
        assert upload.status_code == 201, upload.text
        hand = [t for t in p.tasks() if "item_id" not in t.data]
        assert len(hand) == 2 and not any(t.predictions for t in hand)
        assert hand[1].data["image"].startswith(f"/data/upload/{p.project_id}/")
        served_file = p.backend.integrations.fetch_file(hand[1].data["image"], 10**6)
        assert served_file == png.getvalue()  # read as a stream, whole
        with pytest.raises(BackendError, match="over the 100 bytes an image may have"):
            p.backend.integrations.fetch_file(hand[1].data["image"], 100)

        client.actions.create(id="retrieve_tasks_predictions", project=p.project_id,
                              selected_items={"all": False, "included": [t.id for t in hand]})
        for task in hand:
            stored = list(client.predictions.list(task=task.id))
            assert len(stored) == 1, f"task {task.id}: {stored}"
            direct = httpx.post(f"{served.url}/predict", timeout=60, json={
                "tasks": [{"id": task.id, "data": task.data, "meta": task.meta or {}}],
                "label_config": label_config(list(p.cfg.classes))}).json()["results"][0]
            assert stored[0].model_version == direct["model_version"] == VERSION
            label = stored[0].result[0]["value"]["choices"][0]
            assert label in p.cfg.classes and 0 <= stored[0].score <= 1
            assert label == direct["result"][0]["value"]["choices"][0]
            assert stored[0].score == pytest.approx(direct["score"], abs=1e-6)
        # the same version again: Label Studio asks for nothing more (ml/models.py
        # predict_tasks leaves out tasks holding a prediction of the setup's version)
        client.actions.create(id="retrieve_tasks_predictions", project=p.project_id,
                              selected_items={"all": False, "included": [t.id for t in hand]})
        assert sum(len(list(client.predictions.list(task=t.id))) for t in hand) == 2
    finally:
        served.stop()


def test_predict_answers_ten_tasks_as_the_cycle_suggested(trained):
    p = trained
    pool = load_source(p.cfg.data, p.cfg.classes)
    pushed = [t for t in p.tasks() if t.predictions][:5]  # the query batch, suggested
    assert len(pushed) == 5
    tests = [i for i in range(len(pool)) if pool.is_test[i]][:5]
    tasks = [{"id": t.id, "data": t.data, "meta": t.meta or {}} for t in pushed]
    tasks += [{"id": 1000 + i, "data": {"image": image_data_uri(pool.images[i].numpy())}}
              for i in tests]
    served = start_serve(p.path, p.cfg.work_dir)
    try:
        assert httpx.get(f"{served.url}/health", timeout=5).json()["status"] == "UP"
        assert httpx.post(f"{served.url}/setup", json={"project": "1.1"}, timeout=5).json() \
            == {"model_version": VERSION}
        answer = httpx.post(f"{served.url}/predict", json={"tasks": tasks}, timeout=60)
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert len(results) == 10
        assert all(r["model_version"] == VERSION and 0 <= r["score"] <= 1 for r in results)
        assert all(r["result"][0]["value"]["choices"][0] in p.cfg.classes for r in results)
        for task, result in zip(pushed, results):  # the same model on the same pixels
            suggestion = task.predictions[0]
            assert result["result"] == suggestion.result
            assert result["score"] == pytest.approx(suggestion.score, abs=1e-3)
        bad = httpx.post(f"{served.url}/predict", json={"tasks": "x"}, timeout=10)
        assert bad.status_code == 400 and "no 'tasks' list" in bad.json()["error"]
    finally:
        served.stop()


def test_a_project_connects_before_its_first_model(project_file, ls_env, ls_project_title,
                                                   monkeypatch):
    path = project_file(label_studio={"project_title": ls_project_title})
    assert CliRunner().invoke(main, ["init", "--config", str(path)]).exit_code == 0
    p = Project(path, ls_env)
    client = p.backend.client
    client.projects.import_tasks(id=p.project_id, request=[{"data": {"image": "data:,x"}}])
    served = start_serve(path, p.cfg.work_dir)
    try:
        monkeypatch.setenv(SECRET_ENV, SECRET)
        out = connect(p, served.url)
        assert out.count("(created)") == 2, out
        # Label Studio would make the backend's title the project's model version
        # (ml/api.py perform_create): activelearn's pushes set it, so it stays empty
        assert client.projects.get(id=p.project_id).model_version == ""
        task = p.tasks()[0]
        client.actions.create(id="retrieve_tasks_predictions", project=p.project_id,
                              selected_items={"all": False, "included": [task.id]})
        assert list(client.predictions.list(task=task.id)) == []  # /predict: 503
        answer = httpx.post(f"{served.url}/predict", json={"tasks": [
            {"id": task.id, "data": task.data}]}, timeout=30)
        assert answer.status_code == 503
        assert answer.json() == {"error": "no trained model yet: run activelearn cycle "
                                          "until a round trains"}
    finally:
        served.stop()
