"""The README's main job, `activelearn demo`, end to end with a small budget
(ACTIVELEARN_DEMO_SMALL=1, as CI runs it): its own Label Studio server, the bot, cycles,
the report."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from activelearn.loop.lock import pid_alive
from activelearn.state import Store
from support import ROOT


def test_demo_runs_the_whole_loop_unattended(tmp_path, fmnist_root):
    work = tmp_path / "demo"
    base = tmp_path / "base.yaml"
    # the default project file, with the test session's data root
    base.write_text((ROOT / "configs" / "fashion_mnist.yaml").read_text()
                    .replace("  root: data ", f"  root: {fmnist_root} "))
    env = dict(os.environ, ACTIVELEARN_DEMO_SMALL="1")
    for name in ("ACTIVELEARN_LS_URL", "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_API_KEY_FILE",
                 "ACTIVELEARN_REDIS_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "activelearn.cli", "demo", "--config", str(base), "--rounds",
         "2", "--work-dir", str(work), "--stop-server", "--no-progress"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "pushed 60 holdout tasks" in out and "pushed 50 initial tasks" in out
    assert "annotated 110" in out and "annotated 50" in out
    curve = re.findall(r"round +(\d+) +(\d+) labels +accuracy (0\.\d+)", out)
    assert [(r, n) for r, n, _ in curve] == [("1", "50"), ("2", "100")], out
    assert (work / "report" / "index.html").exists()
    with Store.open(work / "state.sqlite") as store:
        assert len(store.labels.current("holdout")) == 60
        assert len(store.labels.current("train")) == 100
        holdout = store.metrics.of_split("holdout")
    # the printed curve is the holdout evaluation in state, and the models learned
    # something (10 classes: chance is 0.1)
    for round_, _, accuracy in curve:
        assert float(accuracy) == pytest.approx(holdout[int(round_)]["accuracy"], abs=5e-5)
        assert float(accuracy) > 0.3, out
    pid = int((work / "label-studio" / "pid").read_text())
    assert not pid_alive(pid)  # --stop-server
