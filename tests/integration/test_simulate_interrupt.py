"""`activelearn simulate` as a real process interrupted with SIGINT (Ctrl-C): it exits 130
and keeps the rounds it finished."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_ctrl_c_keeps_finished_rounds(project_file, tmp_path):
    out = tmp_path / "out"
    path = project_file(loop={"initial": 40, "batch": 40, "budget": 400})
    proc = subprocess.Popen(
        [sys.executable, "-m", "activelearn.cli", "simulate", "--config", str(path),
         "--strategy", "entropy", "--no-baseline", "--no-progress", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "round  1" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted: results of the finished rounds are in" in rest
    rows = list(csv.DictReader((out / "rounds.csv").open()))
    assert 2 <= len(rows) < 10 and rows[0]["labels"] == "40"
    assert (out / "accuracy.png").exists()


def test_ctrl_c_while_loading_exits_130_with_one_line(tmp_path, fmnist_root):
    """SIGINT while a command loads and cleans the whole Fashion-MNIST pool (tens of
    seconds): exit 130, one short line on stderr, no traceback."""
    import time

    path = tmp_path / "p.yaml"
    path.write_text(f"""
project: {{name: t, work_dir: {tmp_path / 'work'}}}
data: {{source: fashion-mnist, root: {fmnist_root}}}
classes: [a, b, c, d, e, f, g, h, i, j]
""")
    proc = subprocess.Popen([sys.executable, "-m", "activelearn.cli", "clean", "--config",
                             str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(6)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
