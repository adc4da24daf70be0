"""`activelearn init` against a real Label Studio server."""

from __future__ import annotations

import socket

from click.testing import CliRunner

from activelearn.cli import main
from activelearn.loop.project import PROJECT_ID_KEY
from activelearn.state import Store


def _init(path):
    return CliRunner().invoke(main, ["init", "--config", str(path)])


def test_init_creates_then_finds_the_project(label_studio, ls_project_title, project_file,
                                              monkeypatch, tmp_path):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    path = project_file(label_studio={"url": label_studio.url,
                                      "project_title": ls_project_title,
                                      "instructions": "Pick the garment's type."})
    first = _init(path)
    assert first.exit_code == 0, first.output
    assert "(created)" in first.output
    store = Store(tmp_path / "work" / "state.sqlite")
    project_id = store.meta.get(PROJECT_ID_KEY)
    store.close()
    assert project_id and f"/projects/{project_id}" in first.output
    again = _init(path)
    assert again.exit_code == 0 and f"project {project_id} (found by stored id)" in again.output
    # a second work dir finds the same project by its title instead of making another
    other = project_file(project={"name": "t", "work_dir": str(tmp_path / "w2")},
                         label_studio={"url": label_studio.url,
                                       "project_title": ls_project_title})
    third = _init(other)
    assert third.exit_code == 0 and f"project {project_id} (found by title)" in third.output


def test_init_with_the_server_down_is_one_line_exit_1(project_file, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "x" * 40)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = _init(project_file(label_studio={"url": f"http://127.0.0.1:{port}"}))
    assert res.exit_code == 1
    assert res.output.strip() == (f"error: Label Studio at http://127.0.0.1:{port} did not "
                                  "answer: connection refused")


def test_init_without_a_url_is_a_config_error(project_file, monkeypatch):
    monkeypatch.delenv("ACTIVELEARN_LS_URL", raising=False)
    res = _init(project_file(label_studio={"url": ""}))
    assert res.exit_code == 2 and "label_studio.url: not set" in res.output
