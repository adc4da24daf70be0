"""`activelearn demo`: the whole loop, unattended, on a local Label Studio.

Starts (or reuses) a Label Studio server of the demo's own, links a project, and runs
`cycle` rounds with the bot annotator labelling in between, all on the embedded
defaults: inline jobs, the state in WORK_DIR/state.sqlite. Everything it makes lives
under its work directory (default runs/demo).
"""

from __future__ import annotations

import dataclasses
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml

from activelearn.annotation.label_studio import TOKEN_ENV, TOKEN_FILE_ENV
from activelearn.annotation.label_studio.local_server import LocalServer, start_label_studio
from activelearn.config import Config, load_config
from activelearn.loop.lock import pid_alive


def local_label_studio(data_dir: Path, echo: Callable[[str], None]) -> LocalServer:
    """The demo's server: the earlier one when it still answers, else a new one."""
    url_file, pid_file = data_dir / "url", data_dir / "pid"
    if url_file.exists() and pid_file.exists():
        url, pid = url_file.read_text().strip(), int(pid_file.read_text().strip() or 0)
        if pid and pid_alive(pid) and _answers(url):
            echo(f"Label Studio: reusing the demo's server at {url} (pid {pid})")
            return LocalServer(url, pid, data_dir, started=False)
    echo("Label Studio: starting a local server (seconds; the first time a minute more)")
    server = start_label_studio(data_dir)
    echo(f"Label Studio: up at {server.url} (pid {server.pid})")
    return server


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


def demo_config(base: Config, work_dir: Path, url: str, small: bool) -> Config:
    """The project file the demo runs (written to WORK_DIR/demo.yaml, so that jobs and
    the other commands can be pointed at it): the base config with the demo's work
    directory and server, and with --small a 3,000-image pool, batches of 50 and shorter
    trainings (150 to 600 steps)."""
    batch = base.loop.batch if isinstance(base.loop.batch, int) else base.loop.initial
    loop = {"min_new_labels": 25 if small else batch // 2, "min_queued": 0}
    if small:
        loop.update(initial=50, batch=50, budget=1000)
    raw = _as_dict(base)
    raw["project"].update(name=f"{base.project.name}-demo", work_dir=str(work_dir.resolve()))
    raw["loop"].update(loop)
    raw["label_studio"].update(url=url, project_title=f"activelearn demo ({base.project.name})",
                               holdout=60 if small else base.label_studio.holdout)
    if small:
        raw["data"].update(limit=3000, test_limit=1000)
        raw["training"].update(min_steps=150, max_steps=600)
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "demo.yaml"
    path.write_text("# written by `activelearn demo`; point other commands at it with "
                    "--config\n" + yaml.safe_dump(raw, sort_keys=False))
    return load_config(path)


def _as_dict(cfg: Config) -> dict:
    raw = dataclasses.asdict(cfg)
    raw.pop("path")
    raw["jobs"]["redis_url"] = ""  # the embedded default: jobs inline
    if raw["data"]["image_size"] is not None:
        raw["data"]["image_size"] = list(raw["data"]["image_size"])
    return raw


def run_demo(cfg: Config, rounds: int, noise: float, echo: Callable[[str], None],
             progress: bool) -> list[tuple[int, int, float]]:
    """Bootstrap, then `rounds` times: the bot labels every open task, a cycle trains and
    pushes. Returns (round, train labels, holdout accuracy) per trained round."""
    from activelearn.annotation.bot import annotate_open_tasks
    from activelearn.kinds import UNKNOWN_LABEL
    from activelearn.loop.project import init_project
    from activelearn.loop.run import run_cycle
    from activelearn.project import Project

    project = Project(cfg)
    ls, backend = cfg.label_studio, project.backend
    with project.store() as store:
        linked = init_project(backend, store, ls.project_title, list(cfg.classes),
                              ls.instructions)
    echo(f"project: {backend.url}/projects/{linked.project_id} ({linked.how})")
    with project.store() as store:
        pool = project.open_pool(store)
    truth = {i: int(label) for i, label in zip(pool.item_ids, pool.labels)
             if label != UNKNOWN_LABEL}
    echo("\n== cycle: the first round pushes the holdout and the initial batch")
    run_cycle(project, echo, progress)
    for k in range(1, rounds + 1):
        report = annotate_open_tasks(backend, linked.project_id, truth, list(cfg.classes),
                                     [1.0 - noise], seed=cfg.project.seed)
        echo(f"\n== bot: {report.annotators[0].summary()}")
        echo(f"== cycle {k} of {rounds}")
        run_cycle(project, echo, progress)
    with project.store() as store:
        return [(e.round, e.labels or 0, e.payload["accuracy"]) for e in store.metrics.evaluations()
                if e.split == "holdout"]


def use_token_file(server: LocalServer) -> None:
    """Point this process at the local server's token (never printed)."""
    os.environ[TOKEN_FILE_ENV] = str(server.token_file)
    os.environ.pop(TOKEN_ENV, None)
