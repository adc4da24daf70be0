"""A real project made by the previous release (tests/fixtures/schema1-demo: `demo --small
--rounds 3` against a real Label Studio) opened by this one, in its own work dir: readers
name the upgrade command and write nothing; `upgrade` keeps every row and `status`,
`report` and `export` work after it; a writing command upgrades by itself after a
backup, with one line; kill -9 in the middle of an upgrade leaves schema 1 and the rerun
upgrades; a further `init --relink` + `bot` + `cycle` round runs on the upgraded state
against a real Label Studio, the old labels and history unchanged, no duplicate task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.failpoints import ENV as FAILPOINT_ENV
from activelearn.state import SCHEMA_VERSION, Store, read_backup
from activelearn.state.migrations import MIGRATED
from support import ROOT
from support.loop import Project, bot, check_tasks, cycle
from support.states import SCHEMA1_DEMO, copy_demo_state, rows_of, schema_of, version_of


def demo_project(tmp_path: Path, data_root: Path, **sections) -> Path:
    """The demo's own project file, pointed at a copy of its state in tmp_path/work."""
    raw = yaml.safe_load((SCHEMA1_DEMO / "demo.yaml").read_text())
    raw["project"]["work_dir"] = str(tmp_path / "work")
    raw["data"]["root"] = str(data_root)
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    copy_demo_state(tmp_path / "work")
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under folder but SQLite's shared-memory pair a reader may leave."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["report"],
                                     ["export", "--format", "csv", "--out", "EXPORT"]])
def test_a_reader_names_the_upgrade_command_and_writes_nothing(tmp_path, fmnist_root,
                                                               command) -> None:
    config = demo_project(tmp_path, fmnist_root)
    before = files_of(tmp_path / "work")
    args = [str(tmp_path / "export") if a == "EXPORT" else a for a in command]
    result = invoke(*args, "--config", str(config))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: {tmp_path / 'work' / 'state.sqlite'} is schema 1, this release needs "
        f"{SCHEMA_VERSION}: run `activelearn upgrade --config {config}` (it backs up first)"]
    assert files_of(tmp_path / "work") == before
    assert not (tmp_path / "export").exists()


def test_upgrade_in_place_keeps_every_row_and_the_readers_work_after_it(tmp_path,
                                                                       fmnist_root) -> None:
    config = demo_project(tmp_path, fmnist_root)
    state = tmp_path / "work" / "state.sqlite"
    before = rows_of(state)
    result = invoke("upgrade", "--config", str(config))
    assert result.exit_code == 0, result.output
    first, *steps = result.output.splitlines()
    assert first.startswith(f"upgraded {state} from schema 1 to {SCHEMA_VERSION}; backup of "
                            f"the old state: {tmp_path / 'work' / 'backups'}/upgrade-")
    assert [s.split(":")[0].strip() for s in steps] == ["2"]
    assert rows_of(state) == before and version_of(state) == str(SCHEMA_VERSION)
    backup = read_backup(Path(first.rsplit(": ", 1)[1]))
    assert backup.schema_version == 1 and rows_of(backup.state_file) == before

    status = invoke("status", "--json", "--config", str(config))
    assert status.exit_code == 0, status.output
    found = json.loads(status.output)
    assert found["round"]["round"] == 3 and found["labels"]["train"] == 150
    assert found["labels"]["holdout"] == 60
    assert found["model_version"] == "fashion-mnist-demo-r3"
    report = invoke("report", "--config", str(config))
    assert report.exit_code == 0, report.output
    curve = (tmp_path / "work" / "report" / "learning_curve.csv").read_text().splitlines()
    holdout = [round(float(line.split(",")[4]), 3) for line in curve if ",holdout," in line]
    assert holdout == [0.533, 0.55, 0.767]  # the three demo rounds, as recorded
    export = invoke("export", "--config", str(config), "--format", "csv", "--out",
                    str(tmp_path / "export"))
    assert export.exit_code == 0, export.output
    assert len((tmp_path / "export" / "labels.csv").read_text().splitlines()) == 211

    again = invoke("upgrade", "--config", str(config))
    assert again.exit_code == 0
    assert again.output == f"{state} is at schema {SCHEMA_VERSION} already; nothing to do\n"
    assert rows_of(state) == before


def cli_process(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PYTHONUNBUFFERED="1", **env)
    return subprocess.run([sys.executable, "-m", "activelearn.cli", *args], env=environ,
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_a_writing_command_upgrades_after_a_backup_and_says_so_in_one_line(
        tmp_path, fmnist_root) -> None:
    config = demo_project(tmp_path, fmnist_root)
    state = tmp_path / "work" / "state.sqlite"
    before = rows_of(state)
    done = cli_process("ingest", "--config", str(config), "--no-progress")
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "upgraded" in line]
    assert len(said) == 1 and f"{state}: upgraded from schema 1 to {SCHEMA_VERSION} " \
                              f"(backup: {tmp_path / 'work' / 'backups'}/upgrade-" in said[0]
    assert "Traceback" not in done.stderr
    assert version_of(state) == str(SCHEMA_VERSION) and rows_of(state) == before
    (backup,) = (tmp_path / "work" / "backups").iterdir()
    assert read_backup(backup).schema_version == 1


def test_kill_9_in_the_middle_of_an_upgrade_leaves_schema_1_and_the_rerun_upgrades(
        tmp_path, fmnist_root) -> None:
    config = demo_project(tmp_path, fmnist_root)
    state = tmp_path / "work" / "state.sqlite"
    before, layout = rows_of(state), schema_of(state)
    killed = cli_process("upgrade", "--config", str(config), **{FAILPOINT_ENV: MIGRATED})
    assert killed.returncode == -9  # every step applied, not committed
    assert version_of(state) == "1" and schema_of(state) == layout
    assert rows_of(state) == before
    rerun = invoke("upgrade", "--config", str(config))
    assert rerun.exit_code == 0, rerun.output
    assert rerun.output.startswith(f"upgraded {state} from schema 1 to {SCHEMA_VERSION}")
    assert rows_of(state) == before and version_of(state) == str(SCHEMA_VERSION)


@pytest.mark.slow
def test_a_further_bot_and_cycle_round_runs_on_the_upgraded_state(tmp_path, fmnist_root,
                                                                  ls_env,
                                                                  ls_project_title) -> None:
    """The project's Label Studio is the lead's (another server): the upgraded state is
    linked to the test server with `init --relink` (the server moved), which pushes the
    items still waiting; then the bot labels them and a cycle trains round 4."""
    config = demo_project(tmp_path, fmnist_root,
                          label_studio={"url": ls_env.url, "project_title": ls_project_title},
                          training={"epochs": 2, "min_steps": 20, "max_steps": 40})
    state = tmp_path / "work" / "state.sqlite"
    # (annotations are not compared: their ids are the server's, and the new server
    # numbers its own from 1 again)
    before = rows_of(state, ("labels", "label_history", "rounds"))
    relinked = invoke("init", "--relink", "--config", str(config))
    assert relinked.exit_code == 0, relinked.output
    assert "pushed 50 tasks of items still waiting for a label" in relinked.output
    assert version_of(state) == str(SCHEMA_VERSION)
    bot(config)
    out = cycle(config)
    with Store.open(state) as store:
        last = store.rounds.last()
        assert last["round"] == 4 and last["status"] == "done", out
        assert last["model_version"] == "fashion-mnist-demo-r4"
        assert len(store.labels.current()) == 260
    after = rows_of(state, ("labels", "label_history", "rounds"))
    for table, rows in before.items():  # the old rows are all there, unchanged
        assert set(rows) <= set(after[table]), table
    assert len(after["label_history"]) == 260
    check_tasks(Project(config, ls_env))
