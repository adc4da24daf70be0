"""Hostile moments for the real `activelearn` command: file names that are no UTF-8, a
kill -9 while DataLoader workers decode, an artifact store that accepts and never
answers, and Ctrl-C at any moment. Every case runs the real program as a subprocess;
a failure is exit 1 (130 for Ctrl-C) with at most 2 lines, no traceback, and leaves no
lock and no process behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from activelearn.cli.interrupt import STARTED
from activelearn.failpoints import PAUSE_DIR_ENV, PAUSE_ENV
from support import ROOT
from support.project_files import write_project

ACTIVELEARN = ROOT / ".venv" / "bin" / "activelearn"
CLEAN_ENV = ("ACTIVELEARN_ARTIFACTS", "ACTIVELEARN_REDIS_URL", "ACTIVELEARN_LS_URL")


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    return {**base, "OMP_NUM_THREADS": "1", **extra}


def run_cli(*args: str, cwd: Path, timeout: float = 300, **extra: str
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ACTIVELEARN), *args], cwd=cwd, env=env(**extra),
                          capture_output=True, text=True, timeout=timeout)


def assert_short(stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) <= 2, stderr
    assert "Traceback" not in stderr and "a bug in activelearn" not in stderr, stderr


def locks(state: Path) -> list[tuple]:
    with sqlite3.connect(state) as db:
        return db.execute("SELECT * FROM locks").fetchall()


def photo_project(tmp_path: Path, root: Path, **data) -> Path:
    raw = {"project": {"name": "names", "work_dir": str(tmp_path / "work"), "seed": 0},
           "data": {"source": "imagefolder", "root": str(root), "cache": "memmap", **data},
           "classes": ["cat", "dog"],
           "model": {"name": "small_cnn", "input_size": [16, 16]},
           "training": {"epochs": 1, "min_steps": 2, "batch_size": 8, "threads": 1},
           "loop": {"initial": 4, "batch": 4, "budget": 8}}
    path = tmp_path / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


# ---------------------------------------------------------------- file names

def undecodable_folder(root: Path) -> Path:
    """root/{cat,dog}/i.png, plus cat/<ff fe>.png and <c3 28>x.png: names of bytes that are
    no UTF-8 (the system lists them as surrogate escapes)."""
    rng = np.random.default_rng(0)
    for k, cls in enumerate(("cat", "dog")):
        (root / cls).mkdir(parents=True)
        for i in range(8):
            pixels = rng.integers(0, 80, (12, 12, 3), dtype=np.uint8) + 120 * k
            Image.fromarray(pixels.astype(np.uint8)).save(root / cls / f"{i}.png")
    good = (root / "cat" / "0.png").read_bytes()
    for name in (b"cat/\xff\xfe.png", b"\xc3(x.png"):
        with open(os.fsencode(root) + b"/" + name, "wb") as handle:
            handle.write(good)
    return root


@pytest.mark.parametrize("command", [["ingest"], ["clean"],
                                     ["simulate", "--no-baseline", "--out", "sim"]])
def test_undecodable_file_names_are_skipped_with_a_reason(tmp_path: Path,
                                                          command: list[str]) -> None:
    config = photo_project(tmp_path, undecodable_folder(tmp_path / "photos"))
    result = run_cli(*command, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    state = tmp_path / "work" / "state.sqlite"
    with sqlite3.connect(state) as db:
        skipped = dict(db.execute("SELECT item_id, reason FROM catalogue "
                                  "WHERE reason IS NOT NULL").fetchall())
    reason = "its name is not valid UTF-8; rename the file"
    assert skipped == {"cat/\\xff\\xfe.png": reason, "\\xc3(x.png": reason}
    if command == ["clean"]:
        listed = (tmp_path / "work" / "clean" / "skipped.csv").read_text()
        assert "cat/\\xff\\xfe.png" in listed and reason in listed


def test_a_cycle_pushes_the_pool_without_the_undecodable_names(
        tmp_path: Path, label_studio, ls_project_title) -> None:
    config = photo_project(tmp_path, undecodable_folder(tmp_path / "photos"))
    raw = yaml.safe_load(config.read_text())
    raw["label_studio"] = {"project_title": ls_project_title, "holdout": 2}
    config.write_text(yaml.safe_dump(raw))
    result = run_cli("cycle", "--config", str(config), "--no-progress", cwd=tmp_path,
                     ACTIVELEARN_LS_URL=label_studio.url,
                     LABEL_STUDIO_API_KEY=label_studio.token)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    with sqlite3.connect(tmp_path / "work" / "state.sqlite") as db:
        pushed = {row[0] for row in db.execute("SELECT item_id FROM tasks")}
    assert len(pushed) == 6 and all(i.isascii() and "\\" not in i for i in pushed)


def test_a_manifest_with_escaped_surrogates_skips_those_rows(tmp_path: Path) -> None:
    """JSON can spell a lone surrogate (\\udcff): no state can hold it as an id."""
    photos = undecodable_folder(tmp_path / "photos")
    manifest = tmp_path / "list.jsonl"
    rows = [{"id": f"c{i}", "path": str(photos / "cat" / f"{i}.png"), "label": "cat"}
            for i in range(6)]
    rows += [{"id": "bad\udcff", "path": str(photos / "cat" / "1.png"), "label": "cat"},
             {"id": "bad-path", "path": str(photos / "cat") + "/\udcff.png"}]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = photo_project(tmp_path, manifest, source="manifest")
    result = run_cli("ingest", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "6 items" in result.stdout and "2 unusable files skipped" in result.stdout


@pytest.mark.parametrize("name,content,message", [
    ("list.jsonl", '{"id": "a", "path": "/x.png"}\n' + "[" * 100000 + "]" * 100000 + "\n",
     "line 2: nested too deep; a row is one flat JSON object"),
    ("list.csv", "id,path\na," + "x" * 200000 + "\n",
     "cannot read: field larger than field limit"),
], ids=["deep JSON row", "huge CSV field"])
def test_a_hostile_manifest_is_one_line(tmp_path: Path, name: str, content: str,
                                        message: str) -> None:
    manifest = tmp_path / name
    manifest.write_text(content)
    config = photo_project(tmp_path, manifest, source="manifest")
    result = run_cli("ingest", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert_short(result.stderr)
    assert message in result.stderr
    assert not (tmp_path / "work" / "cache").exists()


# ---------------------------------------------------------------- orphan workers

def children(pid: int) -> set[int]:
    """The processes whose parent is pid (from /proc/*/stat)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def open_files(pid: int) -> list[str]:
    """What the process's descriptors name (those it still has)."""
    names = []
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            names.append(os.readlink(fd))
        except OSError:
            continue
    return names


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


@pytest.fixture(scope="module")
def big_catalogued_folder(tmp_path_factory) -> tuple[Path, Path]:
    """150 large PNGs (slow to decode: a cache build takes seconds with 2 workers), and a
    state whose catalogue lists them, with no image cached yet."""
    home = tmp_path_factory.mktemp("orphans")
    pixels = np.zeros((1400, 1400, 3), np.uint8)
    pixels[::7] = 200
    pixels[:, ::5, 1] = 90
    (home / "photos" / "cat").mkdir(parents=True)
    (home / "photos" / "dog").mkdir()
    first = home / "photos" / "cat" / "0.png"
    Image.fromarray(pixels).save(first)
    for k, cls in enumerate(("cat", "dog")):
        for i in range(75):
            if (k, i) != (0, 0):
                shutil.copy(first, home / "photos" / cls / f"{i}.png")
    config = photo_project(home, home / "photos", cache="none")
    result = run_cli("ingest", "--config", str(config), cwd=home)
    assert result.returncode == 0, result.stderr
    return home / "photos", home / "work" / "state.sqlite"


@pytest.mark.parametrize("delay", [0.2, 1.0])
def test_decode_workers_die_with_a_killed_parent(tmp_path: Path, big_catalogued_folder,
                                                 delay: float) -> None:
    photos, catalogued = big_catalogued_folder
    (tmp_path / "work").mkdir()
    shutil.copy(catalogued, tmp_path / "work" / "state.sqlite")
    config = photo_project(tmp_path, photos)  # cache: memmap: the build decodes them all
    proc = subprocess.Popen([str(ACTIVELEARN), "ingest", "--config", str(config)],
                            cwd=tmp_path, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while len(workers) < 2 and proc.poll() is None and time.monotonic() < deadline:
            workers |= children(proc.pid)
            time.sleep(0.02)
        assert len(workers) >= 2, "no decode workers seen"
        time.sleep(delay)
        workers |= children(proc.pid)
        held = [f for w in workers for f in open_files(w) if ".sqlite" in f]
        assert not held, f"decode workers hold the state open: {held}"
        assert proc.poll() is None, "the build ended before the kill"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        gone_by = time.monotonic() + 5
        while any(alive(w) for w in workers) and time.monotonic() < gone_by:
            time.sleep(0.05)
        left = [w for w in workers if alive(w)]
        for pid in left:  # the test's own clean-up: never leave them running
            os.kill(pid, signal.SIGKILL)
        assert not left, f"{len(left)} decode workers outlived their parent by 5 s"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- slow stores

@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers: AWS_ENDPOINT_URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
       "AWS_DEFAULT_REGION": "us-east-1", "LABEL_STUDIO_API_KEY": "unused"}


def slow_store_cycle(tmp_path: Path, endpoint: str, limit: float, **jobs) -> None:
    config = write_project(tmp_path / "project.yaml", tmp_path / "work", tmp_path / "data",
                           jobs={"artifacts": "s3://bucket/run", **jobs},
                           label_studio={"url": "http://127.0.0.1:9"})
    started = time.monotonic()
    result = run_cli("cycle", "--config", str(config), cwd=tmp_path, timeout=limit + 60,
                     AWS_ENDPOINT_URL=endpoint, **AWS)
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert_short(result.stderr)
    assert "artifact store s3://bucket/run: cannot reach its root: no answer within" \
        in result.stderr
    assert took < limit, f"gave up after {took:.0f} s"
    assert locks(tmp_path / "work" / "state.sqlite") == []  # the lock is released


def test_a_silent_store_stops_a_cycle_by_its_deadline(tmp_path: Path, silent_server) -> None:
    slow_store_cycle(tmp_path, silent_server, limit=45, store_timeout=3)


@pytest.mark.slow
def test_a_silent_store_stops_a_cycle_within_two_minutes_by_default(
        tmp_path: Path, silent_server) -> None:
    slow_store_cycle(tmp_path, silent_server, limit=120)


@pytest.mark.parametrize("call", ["exists", "fetch", "publish", "remove"])
def test_each_store_call_ends_by_its_deadline(tmp_path: Path, silent_server,
                                              monkeypatch, call: str) -> None:
    from activelearn.data.artifacts import ArtifactStore
    from activelearn.errors import JobError

    for name, value in {**AWS, "AWS_ENDPOINT_URL": silent_server}.items():
        monkeypatch.setenv(name, value)
    store = ArtifactStore("s3://bucket/run", tmp_path / "scratch", timeout=2)
    calls = {"exists": lambda: store.exists("a.json"), "fetch": lambda: store.fetch("a.json"),
             "publish": lambda: store.publish_bytes("a.json", b"{}"),
             "remove": lambda: store.remove("a.json")}
    started = time.monotonic()
    with pytest.raises(JobError, match="no answer within 2 s"):
        calls[call]()
    assert time.monotonic() - started < 10
    assert not list((tmp_path / "scratch").rglob("*.json"))


# ---------------------------------------------------------------- Ctrl-C

def interrupt_after(args: list[str], cwd: Path, delay: float, **extra: str
                    ) -> tuple[int, str]:
    """Ctrl-C `delay` seconds after the program installed its handler (the pause point
    cli:started, passed at once): the interpreter's own start-up before it (Python's,
    not activelearn's, and long on a loaded machine) is not what these tests measure."""
    marks = cwd / "marks"
    marks.mkdir(exist_ok=True)
    (marks / "cli-started.go").touch()
    extra = {PAUSE_ENV: STARTED, PAUSE_DIR_ENV: str(marks), **extra}
    proc = subprocess.Popen([str(ACTIVELEARN), *args], cwd=cwd, env=env(**extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (marks / "cli-started.reached").exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stderr


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5, 1.0, 2.0])
def test_ctrl_c_during_status_exits_130_with_one_line(tmp_path: Path, project_file,
                                                      delay: float) -> None:
    code, stderr = interrupt_after(["status", "--config", str(project_file())], tmp_path,
                                   delay)
    assert code in (130, 0), stderr  # 0: it had finished
    assert_short(stderr)
    if code == 130:
        assert stderr.strip().splitlines()[-1] == "interrupted"


@pytest.mark.parametrize("delay", [0.5, 2.0, 5.0])
def test_ctrl_c_during_simulate_exits_130_with_one_line(tmp_path: Path, project_file,
                                                        delay: float) -> None:
    args = ["simulate", "--config", str(project_file()), "--no-baseline", "--no-progress",
            "--out", "sim"]
    code, stderr = interrupt_after(args, tmp_path, delay)
    assert code in (130, 0), stderr  # 0: it had finished
    assert_short(stderr)
    if code == 130:
        assert stderr.strip().splitlines()[-1].startswith("interrupted")


@pytest.mark.parametrize("delay", [1.0, 4.0])
def test_ctrl_c_during_a_cycle_exits_130_and_releases_the_lock(
        tmp_path: Path, project_file, silent_server, delay: float) -> None:
    """The cycle waits on a Label Studio that never answers, holding its lock."""
    config = project_file(label_studio={"url": silent_server})
    code, stderr = interrupt_after(["cycle", "--config", str(config)], tmp_path,
                                   delay, LABEL_STUDIO_API_KEY="t")
    assert code == 130, stderr
    assert_short(stderr)
    state = tmp_path / "work" / "state.sqlite"
    assert not state.exists() or locks(state) == []
