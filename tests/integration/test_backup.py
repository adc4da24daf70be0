"""`activelearn backup` and `restore` on real projects: a backup taken while a real
`cycle` process is in the middle of a training round (paused at a failpoint, holding the
lock) restores, once that process is gone, to a state that passes PRAGMA
integrity_check and from which the next `cycle` finishes the round, with the models
back in the artifact store; restore is refused while the cycle holds the lock."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.failpoints import PAUSE_DIR_ENV, PAUSE_ENV
from activelearn.state import Store, read_backup
from support.loop import Project, bot, check_tasks, cycle, cycle_process
from support.states import rows_of

SECTIONS = {"loop": {"initial": 40, "batch": 30, "budget": 400, "min_new_labels": 20,
                     "min_queued": 0},
            "label_studio": {"holdout": 30},
            "training": {"epochs": 2, "min_steps": 20, "max_steps": 40, "threads": 1}}


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def integrity(path: Path) -> list[str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()


def wait_for(path: Path, proc, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} not reached"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_backup_taken_during_a_cycle_restores_and_the_next_cycle_resumes(
        tmp_path, project_file, ls_env, ls_project_title) -> None:
    config = project_file(**dict(SECTIONS, label_studio={**SECTIONS["label_studio"],
                                                         "project_title": ls_project_title}))
    work = tmp_path / "work"
    cycle(config)  # round 0: the holdout and the initial batch pushed
    bot(config)
    cycle(config)  # round 1 trains
    bot(config)
    pauses = tmp_path / "pauses"
    pauses.mkdir()
    proc = cycle_process(config, **{PAUSE_ENV: "after:evaluate", PAUSE_DIR_ENV: str(pauses)})
    try:
        wait_for(pauses / "after-evaluate.reached", proc)  # round 2 trained, holding the lock
        taken = invoke("backup", str(tmp_path / "nightly"), "--config", str(config))
        assert taken.exit_code == 0, taken.output
        assert "model files" in taken.output
        refused = invoke("restore", str(tmp_path / "nightly"), "--force", "--config",
                         str(config))
        assert refused.exit_code == 1
        assert "a cycle is running" in refused.output and len(refused.output.splitlines()) == 1
    finally:
        proc.send_signal(signal.SIGKILL)  # the machine went down mid-round
        proc.communicate(timeout=60)
    backup = read_backup(tmp_path / "nightly")
    assert "models/t-r1.pt" in backup.artifacts and integrity(backup.state_file) == ["ok"]
    with Store.open(backup.state_file.parent / "state.sqlite", readonly=True) as store:
        assert store.rounds.last()["round"] == 2 and store.rounds.last()["status"] == "running"

    shutil.rmtree(work / "models")  # the disk was lost too: the models come from the backup
    (work / "state.sqlite").write_bytes(b"damaged")
    restored = invoke("restore", str(tmp_path / "nightly"), "--force", "--config", str(config))
    assert restored.exit_code == 0, restored.output
    assert integrity(work / "state.sqlite") == ["ok"]
    assert (work / "models" / "t-r1.pt").read_bytes() == \
        backup.artifact_file("models/t-r1.pt").read_bytes()
    assert rows_of(work / "state.sqlite", ("labels", "label_history")) == \
        rows_of(backup.state_file, ("labels", "label_history"))

    out = cycle(config)  # resumes round 2 where the backup left it
    with Store.open(work / "state.sqlite") as store:
        rounds = {r.round: r.status for r in store.rounds.all()}
        assert rounds[2] == "done", out
    check_tasks(Project(config, ls_env))


def test_a_project_restores_onto_a_new_machine_with_its_models(tmp_path, fmnist_root) -> None:
    """Work dir lost: the backup (state, the models its rounds name, the pretrained
    weights) restores into a work dir that does not exist yet, and `status` reads it."""
    from support.project_files import write_project

    first = write_project(tmp_path / "a.yaml", tmp_path / "a", fmnist_root)
    with Store.open(tmp_path / "a" / "state.sqlite") as store:
        store.items.add([("img0", 0, None, "train")])
        for round_, version in ((1, "t-r1"), (2, "t-r2"), (3, None)):
            store.rounds.start(round_)
            store.rounds.finish(round_, version, 10 * round_)
        store.meta.set("pretrained_weights", "pretrained/abc.pt")
    models = tmp_path / "a" / "models"
    models.mkdir()
    for name in ("t-r1.pt", "t-r1.json", "t-r2.pt"):  # t-r2.json went missing
        (models / name).write_bytes(name.encode() * 100)
    (tmp_path / "a" / "pretrained").mkdir()
    (tmp_path / "a" / "pretrained" / "abc.pt").write_bytes(b"pretrained")
    taken = invoke("backup", str(tmp_path / "b"), "--config", str(first))
    assert taken.exit_code == 0, taken.output
    assert "and 4 model files into" in taken.output
    assert "not in the artifact store, so not in the backup: models/t-r2.json" in taken.output

    second = write_project(tmp_path / "c.yaml", tmp_path / "new" / "work", fmnist_root)
    restored = invoke("restore", str(tmp_path / "b"), "--config", str(second))
    assert restored.exit_code == 0, restored.output
    assert "4 model files put back" in restored.output
    new = tmp_path / "new" / "work"
    assert (new / "models" / "t-r2.pt").read_bytes() == b"t-r2.pt" * 100
    assert (new / "pretrained" / "abc.pt").read_bytes() == b"pretrained"
    status = invoke("status", "--json", "--config", str(second))
    assert status.exit_code == 0, status.output
    assert '"model_version": "t-r2"' in status.output
