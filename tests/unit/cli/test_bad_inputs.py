"""A catalogue of bad inputs, each run through the command line as a user would: config
values, data files, manifests, state files, token files, Label Studio and Redis URLs,
export folders. For every one: exit code 1 or 2, at most 2 lines on stderr, no
traceback, and the state unchanged where the command writes state.

No service is needed: each input fails before any server would be asked (an unreachable
server is one of the inputs). The ones that need a running Label Studio are in
tests/integration/test_bad_answers.py.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from activelearn.cli import main
from activelearn.kinds import Split
from activelearn.state import SCHEMA_VERSION, Store


@dataclass
class Ctx:
    """What a case builds its input with."""

    tmp: Path
    project_file: Callable[..., Path]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> Path:
        return self.tmp / "work" / "state.sqlite"

    def raw_config(self, text: str | bytes) -> Path:
        path = self.tmp / "raw.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def images(self, folder: str, count: int = 4, classes=("cat", "dog")) -> Path:
        root = self.tmp / folder
        for k in range(count):
            sub = root / classes[k % len(classes)]
            sub.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (30 * k, 0, 0)).save(sub / f"img{k}.png")
        return root

    def file_project(self, root: Path, source: str = "imagefolder", **sections) -> Path:
        return self.project_file(
            data={"source": source, "root": str(root), "image_size": [8, 8], "channels": 3,
                  "limit": None, "test_limit": None},
            classes=["cat", "dog"], **sections)

    def some_state(self) -> None:
        with Store.open(self.state) as store:
            store.items.add([(f"img{i}", i, None, Split.TRAIN.value) for i in range(5)])
            store.labels.set([("img0", 1)], "oracle", 0)


CASES: dict[str, tuple[int, Callable[[Ctx], list[str]]]] = {}


def case(name: str, expect: int):
    """Register a bad input: a function of Ctx giving the command line's arguments."""
    def register(make: Callable[[Ctx], list[str]]) -> Callable[[Ctx], list[str]]:
        assert name not in CASES
        CASES[name] = (expect, make)
        return make
    return register


def status(path: Path) -> list[str]:
    return ["status", "--config", str(path)]


# -- project files --------------------------------------------------------------------
RAW_CONFIGS = {
    "not YAML": "project: [unclosed",
    "a list, not a mapping": "- project\n- data\n",
    "empty file": "",
    "a control character": "project:\n  name: a\x07b\n",
    "tabs for indentation": "project:\n\tname: x\n",
}
for _name, _text in RAW_CONFIGS.items():
    case(f"config: {_name}", 2)(lambda c, text=_text: status(c.raw_config(text)))

case("config: binary bytes", 2)(lambda c: status(c.raw_config(b"\x89PNG\r\n\x1a\n\x00\xff")))
case("config: a folder", 2)(lambda c: status(c.tmp))
case("config: missing file", 2)(lambda c: status(c.tmp / "nope.yaml"))

OVERRIDES = {
    "unknown top-level key": {"trainig": {"lr": 0.1}},
    "unknown key in a section": {"training": {"learning_rate": 0.1}},
    "lr is text": {"training": {"lr": "fast"}},
    "lr is NaN": {"training": {"lr": float("nan")}},
    "lr is infinite": {"training": {"lr": float("inf")}},
    "lr is negative": {"training": {"lr": -0.1}},
    "dropout 7": {"model": {"dropout": 7}},
    "negative momentum": {"training": {"momentum": -0.5}},
    "negative weight decay": {"training": {"weight_decay": -1}},
    "device tpu7": {"training": {"device": "tpu7"}},
    "device cuda:x": {"training": {"device": "cuda:x"}},
    "score batch size 0": {"strategy": {"score_batch_size": 0}},
    "seed -1": {"project": {"name": "t", "seed": -1}},
    "seed 2**40": {"project": {"name": "t", "seed": 2**40}},
    "a million threads": {"training": {"threads": 10**6}},
    "a billion epochs": {"training": {"epochs": 10**9}},
    "batch size 0": {"training": {"batch_size": 0}},
    "huge image size": {"data": {"image_size": [100000, 2]}},
    "class name with a newline": {"classes": ["cat", "d\nog"]},
    "class name with a tab": {"classes": ["cat", "dog\t"]},
    "empty class name": {"classes": ["cat", ""]},
    "duplicate classes": {"classes": ["cat", "cat"]},
    "one class": {"classes": ["cat"]},
    "classes not a list": {"classes": "cat, dog"},
    "project name with a slash": {"project": {"name": "a/b"}},
    "project name ..": {"project": {"name": ".."}},
    "strategy typo": {"strategy": {"name": "margn"}},
    "unknown model": {"model": {"name": "resnet-9000"}},
    "unknown source": {"data": {"source": "mnist-deluxe"}},
    "redis URL not a URL": {"jobs": {"redis_url": "localhost 6379"}},
    "redis database not a number": {"jobs": {"redis_url": "redis://127.0.0.1:6379/abc"}},
    "redis port out of range": {"jobs": {"redis_url": "redis://127.0.0.1:99999/0"}},
    "Label Studio URL without http": {"label_studio": {"url": "ftp://ls:8080"}},
    "url template with an unknown placeholder": {"label_studio": {
        "image_mode": "url-template", "url_template": "https://x/{itemid}.png"}},
    "url template with unbalanced braces": {"label_studio": {
        "image_mode": "url-template", "url_template": "https://x/{item_id.png"}},
    "relative document root": {"label_studio": {"image_mode": "local-files",
                                                "document_root": "images"}},
    "budget below initial": {"loop": {"initial": 100, "budget": 10}},
    "overlap 0": {"label_studio": {"overlap": 0}},
    "gold rate 1.5": {"quality": {"gold_rate": 1.5}},
    "gold rate without a gold file": {"quality": {"gold_rate": 0.1}},
    "test fraction 1.0": {"splits": {"test_fraction": 1.0}},
    "negative data limit": {"data": {"limit": -5}},
    "heartbeat above the wait for a worker": {"jobs": {"heartbeat": 700,
                                                       "wait_for_worker": 600}},
    "head mode without weights": {"model": {"train": "head"}},
    "an unknown training mode": {"model": {"train": "lora", "weights": "x.pt"}},
    "kmeans cold start without weights": {"loop": {"initial_strategy": "kmeans"}},
    "an unknown cold start": {"loop": {"initial_strategy": "coreset"}},
    "weights digest not hex": {"model": {"weights": "x.pt", "weights_sha256": "abc"}},
    "weights digest without weights": {"model": {"weights_sha256": "ab" * 32}},
    "a negative hidden layer": {"model": {"head_hidden": -1}},
    "an unknown embedding precision": {"model": {"weights": "x.pt", "train": "head",
                                                 "embed_precision": "int4"}},
}
for _name, _sections in OVERRIDES.items():
    case(f"config: {_name}", 2)(lambda c, s=_sections: status(c.project_file(**s)))


# -- data and manifests (`clean` loads the source and writes the state) ---------------
def clean(path: Path) -> list[str]:
    return ["clean", "--config", str(path)]


case("data: image folder missing", 1)(
    lambda c: clean(c.file_project(c.tmp / "no-such-folder")))
case("data: image folder root is a file", 1)(
    lambda c: clean(c.file_project(c.raw_config("not a folder"))))


@case("data: a folder that is no class", 1)
def _(c: Ctx) -> list[str]:
    root = c.images("photos")
    (root / "horse").mkdir()
    return clean(c.file_project(root))


@case("data: every image corrupt", 1)
def _(c: Ctx) -> list[str]:
    root = c.images("photos")
    for path in root.rglob("*.png"):
        path.write_bytes(b"not a png at all")
    return clean(c.file_project(root))


@case("model: input size too small", 2)
def _(c: Ctx) -> list[str]:
    return clean(c.project_file(data={"source": "imagefolder", "root": str(c.images("p")),
                                      "limit": None, "test_limit": None},
                                model={"input_size": [4, 4]}, classes=["cat", "dog"]))


case("data: manifest missing", 1)(
    lambda c: clean(c.file_project(c.tmp / "manifest.csv", "manifest")))


@case("data: manifest without id and path columns", 1)
def _(c: Ctx) -> list[str]:
    (c.tmp / "m.csv").write_text("name,file\na,x.png\n")
    return clean(c.file_project(c.tmp / "m.csv", "manifest"))


@case("data: manifest with an unknown label", 1)
def _(c: Ctx) -> list[str]:
    root = c.images("photos")
    (c.tmp / "m.csv").write_text(f"id,path,label\na,{root}/cat/img0.png,horse\n")
    return clean(c.file_project(c.tmp / "m.csv", "manifest"))


@case("data: manifest of binary garbage", 1)
def _(c: Ctx) -> list[str]:
    (c.tmp / "m.jsonl").write_bytes(bytes(range(256)) * 4)
    return clean(c.file_project(c.tmp / "m.jsonl", "manifest"))


@case("data: manifest line that is not JSON", 1)
def _(c: Ctx) -> list[str]:
    (c.tmp / "m.jsonl").write_text('{"id": "a", "path": "x.png"}\n{oops\n')
    return clean(c.file_project(c.tmp / "m.jsonl", "manifest"))


@case("data: manifest with a duplicate id", 1)
def _(c: Ctx) -> list[str]:
    root = c.images("photos")
    (c.tmp / "m.csv").write_text(f"id,path\na,{root}/cat/img0.png\na,{root}/dog/img1.png\n")
    return clean(c.file_project(c.tmp / "m.csv", "manifest"))


@case("data: Fashion-MNIST files damaged", 1)
def _(c: Ctx) -> list[str]:
    raw = c.tmp / "fm" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08\x03" + b"\x01" * 64)
    return clean(c.project_file(data={"source": "fashion-mnist", "root": str(c.tmp / "fm")}))


# -- state files (read by status, report and export) -----------------------------------
def state_case(name: str, make_state: Callable[[Path], None]) -> None:
    for command in ("status", "report", "export"):
        @case(f"state: {name} ({command})", 1)
        def _(c: Ctx, command=command) -> list[str]:
            c.state.parent.mkdir(parents=True, exist_ok=True)
            make_state(c.state)
            extra = ["--format", "csv", "--out", str(c.tmp / "out")] \
                if command == "export" else []
            return [command, "--config", str(c.project_file()), *extra]


def _foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()


def _schema(value: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with Store.open(path):
            pass
        db = sqlite3.connect(path)
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (value,))
        db.commit()
        db.close()
    return make


def _damaged(path: Path) -> None:
    with Store.open(path) as store:
        store.items.add((f"img{i}", i, None, Split.TRAIN.value) for i in range(3000))
    data = bytearray(path.read_bytes())
    for page in range(3, 12):  # whole pages, their headers too
        data[page * 4096: (page + 1) * 4096] = b"\xee" * 4096
    path.write_bytes(bytes(data))


state_case("a folder", lambda p: p.mkdir())
state_case("another program's database", _foreign)
state_case("a text file", lambda p: p.write_text("hello, I am not SQLite\n" * 100))
state_case("a schema version that is no number", _schema("one"))
state_case("a newer schema version", _schema("7"))
state_case("a damaged page", _damaged)


# -- Label Studio: token files and servers (`init` asks for the token first) ------------
def init(c: Ctx, **env: str) -> list[str]:
    c.env.update({"ACTIVELEARN_LS_URL": "http://127.0.0.1:9", **env})
    return ["init", "--config", str(c.project_file())]


case("token: no token at all", 1)(
    lambda c: init(c, LABEL_STUDIO_API_KEY="", LABEL_STUDIO_API_KEY_FILE=""))
case("token: the file is missing", 1)(
    lambda c: init(c, LABEL_STUDIO_API_KEY="", LABEL_STUDIO_API_KEY_FILE=str(c.tmp / "x")))
case("token: the file is a folder", 1)(
    lambda c: init(c, LABEL_STUDIO_API_KEY="", LABEL_STUDIO_API_KEY_FILE=str(c.tmp)))


@case("token: the file is binary", 1)
def _(c: Ctx) -> list[str]:
    (c.tmp / "token").write_bytes(b"\xff\xfe\x00\x81" * 10)
    return init(c, LABEL_STUDIO_API_KEY="", LABEL_STUDIO_API_KEY_FILE=str(c.tmp / "token"))


@case("token: the file is empty", 1)
def _(c: Ctx) -> list[str]:
    (c.tmp / "token").write_text("\n")
    return init(c, LABEL_STUDIO_API_KEY="", LABEL_STUDIO_API_KEY_FILE=str(c.tmp / "token"))


case("token: a newline inside", 1)(lambda c: init(c, LABEL_STUDIO_API_KEY="abc\ndef"))
case("token: 5,000 characters", 1)(lambda c: init(c, LABEL_STUDIO_API_KEY="a" * 5000))
case("Label Studio: nobody listens", 1)(lambda c: init(c, LABEL_STUDIO_API_KEY="token"))


@case("Label Studio: cycle with nobody listening", 1)
def _(c: Ctx) -> list[str]:
    c.some_state()
    c.env.update(ACTIVELEARN_LS_URL="http://127.0.0.1:9", LABEL_STUDIO_API_KEY="token")
    return ["cycle", "--config", str(c.project_file())]


def fake_server(status: int, body: bytes, content_type: str) -> str:
    """A loopback HTTP server that answers every request the same way: its URL."""
    class Answer(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = _answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


ODD_SERVERS = {
    "an HTML page where the API should be": (200, b"<html><body>hello</body></html>",
                                             "text/html"),
    "HTTP 500": (500, b"Internal Server Error", "text/plain"),
    "JSON of the wrong shape": (200, b'{"unexpected": [1, 2, 3]}', "application/json"),
    "HTTP 404 for everything": (404, b'{"detail": "Not found."}', "application/json"),
}
for _name, (_status, _body, _type) in ODD_SERVERS.items():
    @case(f"Label Studio: {_name}", 1)
    def _(c: Ctx, status=_status, body=_body, kind=_type) -> list[str]:
        c.env.update(ACTIVELEARN_LS_URL=fake_server(status, body, kind),
                     LABEL_STUDIO_API_KEY="token")
        return ["init", "--config", str(c.project_file())]


case("Label Studio: no URL for cycle", 2)(lambda c: [
    "cycle", "--config", str(c.project_file(label_studio={"url": ""}))])


# -- Redis ----------------------------------------------------------------------------
@case("redis: nobody listens (status --queues)", 1)
def _(c: Ctx) -> list[str]:
    c.env["ACTIVELEARN_REDIS_URL"] = "redis://127.0.0.1:9/0"
    return ["status", "--config", str(c.project_file()), "--queues"]


@case("redis: nobody listens (cycle)", 1)
def _(c: Ctx) -> list[str]:
    c.some_state()
    c.env.update(ACTIVELEARN_REDIS_URL="redis://127.0.0.1:9/0",
                 ACTIVELEARN_LS_URL="http://127.0.0.1:9", LABEL_STUDIO_API_KEY="token")
    return ["cycle", "--config", str(c.project_file())]


@case("redis: the password file is missing", 1)
def _(c: Ctx) -> list[str]:
    c.env.update(ACTIVELEARN_REDIS_URL="redis://127.0.0.1:9/0",
                 ACTIVELEARN_REDIS_PASSWORD_FILE=str(c.tmp / "nope"))
    return ["status", "--config", str(c.project_file()), "--queues"]


case("redis: worker without a URL", 2)(lambda c: [
    "worker", "--config", str(c.project_file(jobs={"redis_url": ""}))])
case("redis: --queues without a URL", 2)(lambda c: [
    "status", "--queues", "--config", str(c.project_file(jobs={"redis_url": ""}))])


# -- export and report -----------------------------------------------------------------
@case("export: --out is a file", 2)
def _(c: Ctx) -> list[str]:
    c.some_state()
    (c.tmp / "out").write_text("mine")
    return ["export", "--config", str(c.project_file()), "--format", "csv", "--out",
            str(c.tmp / "out")]


@case("export: --out holds the user's files, even with --force", 2)
def _(c: Ctx) -> list[str]:
    c.some_state()
    (c.tmp / "out" / "train").mkdir(parents=True)
    (c.tmp / "out" / "train" / "mine.txt").write_text("keep me")
    return ["export", "--config", str(c.project_file()), "--format", "csv", "--out",
            str(c.tmp / "out"), "--force"]


case("export: no state yet", 1)(lambda c: [
    "export", "--config", str(c.project_file()), "--format", "jsonl", "--out",
    str(c.tmp / "out")])
case("export: an unknown format", 2)(lambda c: [
    "export", "--config", str(c.project_file()), "--format", "xlsx", "--out",
    str(c.tmp / "out")])


@case("report: simulate results that are not JSON", 1)
def _(c: Ctx) -> list[str]:
    (c.tmp / "rounds.json").write_text("{not json")
    return ["report", "--config", str(c.project_file()), "--simulate",
            str(c.tmp / "rounds.json")]


@case("report: simulate results of the wrong shape", 1)
def _(c: Ctx) -> list[str]:
    (c.tmp / "rounds.json").write_text('{"strategy": "margin"}')
    return ["report", "--config", str(c.project_file()), "--simulate",
            str(c.tmp / "rounds.json")]


@case("simulate: a negative budget option", 2)
def _(c: Ctx) -> list[str]:
    return ["simulate", "--config", str(c.project_file()), "--budget", "-5"]


@case("simulate: an unknown strategy option", 2)
def _(c: Ctx) -> list[str]:
    return ["simulate", "--config", str(c.project_file()), "--strategy", "magrin"]


def weights_project(c: Ctx, weights: str, **model) -> list[str]:
    return ["simulate", "--config", str(c.project_file(model={
        "name": "small_cnn", "weights": weights, "train": "head", **model})), "--no-progress"]


case("weights: the file is missing", 2)(
    lambda c: weights_project(c, str(c.tmp / "absent.pt")))
case("weights: the file is not a weights file", 2)(
    lambda c: weights_project(c, str(c.raw_config("just text"))))
@case("weights: a torchvision name absent from the hub cache", 2)
def _(c: Ctx) -> list[str]:
    c.env["TORCH_HOME"] = str(c.tmp / "torch")  # an empty hub cache, on any machine
    return weights_project(c, "DEFAULT", name="resnet18")


case("weights: a torchvision name that does not exist", 2)(
    lambda c: weights_project(c, "IMAGENET9K_V9", name="resnet18"))


@case("weights: the digest does not match", 2)
def _(c: Ctx) -> list[str]:
    import torch

    path = c.tmp / "w.pt"
    torch.save({"model": {}, "norm": [[0.0], [1.0]], "meta": {}}, path)
    return weights_project(c, str(path), weights_sha256="0" * 64)


@case("weights: of another architecture", 2)
def _(c: Ctx) -> list[str]:
    import torch
    import torchvision

    path = c.tmp / "w.pt"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return weights_project(c, str(path), name="resnet34")


# Not the project's work: the lock, the schema version, and the catalogue of the source's
# files (what each file is, broken ones too: re-derivable from the files, and kept so
# that the next run does not read them again).
IGNORED_TABLES = ("locks", "catalogue", "schema_history")  # what opening a state writes
IGNORED_META = {("schema_version", str(SCHEMA_VERSION))}


def work_rows(path: Path) -> list:
    """What the project's state holds (all but IGNORED_TABLES, the schema version and the
    catalogue's meta keys); [] when there is no state file, or it is not an activelearn
    one."""
    if not path.is_file():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        rows = [(t, db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall())
                for t in tables if t not in IGNORED_TABLES]
        db.close()
    except sqlite3.DatabaseError:
        return [path.read_bytes()]
    kept = [(t, [r for r in found
                 if r not in IGNORED_META and not str(r[0]).startswith("catalogue_")])
            for t, found in rows]
    return [(t, found) for t, found in kept if found]


def test_the_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 60, len(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_input_is_one_line_and_changes_nothing(name, tmp_path, project_file,
                                                     monkeypatch):
    expect, make = CASES[name]
    for var in ("ACTIVELEARN_LS_URL", "ACTIVELEARN_REDIS_URL", "LABEL_STUDIO_API_KEY",
                "LABEL_STUDIO_API_KEY_FILE", "ACTIVELEARN_REDIS_PASSWORD_FILE"):
        monkeypatch.delenv(var, raising=False)
    ctx = Ctx(tmp_path, project_file)
    args = make(ctx)
    for key, value in ctx.env.items():
        monkeypatch.setenv(key, value)
    before = work_rows(ctx.state)
    result = CliRunner().invoke(main, args)
    assert isinstance(result.exception, SystemExit) or result.exception is None, \
        f"a traceback: {result.exception!r}\n{result.output}"
    assert result.exit_code == expect, result.output
    stderr = result.stderr.strip().splitlines()
    assert 1 <= len(stderr) <= 2, result.stderr
    assert "Traceback" not in result.output
    assert stderr[-1].startswith("error: ") or stderr[-1].startswith("Error: "), stderr
    assert work_rows(ctx.state) == before


@pytest.mark.parametrize("name", ["$x^2$", "<script>alert(1)</script>", "naïve café",
                                  "a,b;c", "quote \" and ' apostrophe", "日本語"])
def test_odd_but_valid_class_names_go_through(name, tmp_path, project_file) -> None:
    """Names a user may have: shown literally everywhere (report, export, status)."""
    config = project_file(classes=["plain", name])
    with Store.open(tmp_path / "work" / "state.sqlite") as store:
        store.items.add([("a", 0, None, Split.TRAIN.value), ("b", 1, None, Split.TRAIN.value)])
        store.labels.set([("a", 0), ("b", 1)], "oracle", 0)
        store.rounds.start(0)
        payload = {"accuracy": 0.5, "macro_precision": 0.5, "macro_recall": 0.5,
                   "macro_f1": 0.5, "precision": [0.5, 0.5], "recall": [0.5, 0.5],
                   "f1": [0.5, 0.5], "support": [1, 1], "confusion": [[1, 0], [1, 0]],
                   "items": 2}
        store.metrics.record(0, "holdout", "t-r0", payload)
        store.rounds.finish(0, "t-r0", 2)
    runner = CliRunner()
    for args in (["report"], ["status"],
                 ["export", "--format", "csv", "--out", str(tmp_path / "out")]):
        result = runner.invoke(main, [*args, "--config", str(config)])
        assert result.exit_code == 0, result.output
    page = (tmp_path / "work" / "report" / "index.html").read_text()
    assert "<script>alert" not in page
    assert (tmp_path / "out" / "classes.txt").read_text().splitlines() == ["plain", name]
