"""`activelearn export`: every format round-trips the labels of a real state built on a
small Fashion-MNIST pool (and on a generated PNG folder for items with files)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image
from torchvision.datasets import ImageFolder

from activelearn.cli import main
from activelearn.config import FASHION_MNIST_CLASSES, DataConfig, load_config
from activelearn.data.sources import load_source
from activelearn.data.sources.base import Pool
from activelearn.kinds import BatchKind, Split
from activelearn.reporting.export import FORMATS, MANIFEST, class_folders, file_stem
from activelearn.state import AnnotationRow, Store

HOLDOUT, TRAIN_LS, TRAIN_ORACLE = range(0, 20), range(20, 60), range(60, 80)
DISPUTED = 25  # three annotators, two agree


@pytest.fixture(scope="module")
def pool(fmnist_root) -> Pool:
    """The pool of project_file's data section (limit 600, test_limit 300)."""
    cfg = DataConfig(source="fashion-mnist", root=str(fmnist_root), limit=600, test_limit=300)
    return load_source(cfg, list(FASHION_MNIST_CLASSES))


def build_state(path: Path, pool: Pool) -> dict[str, tuple[str, int, tuple[str, ...], int]]:
    """A state as cycles leave it: a human-labelled holdout, train labels from Label Studio
    (one item disputed) and from the oracle. Returns item_id -> (split, label,
    annotators, round) as the export should give them."""
    ids, truth = pool.item_ids, [int(x) for x in pool.labels]
    store = Store(path)
    store.items.add((item_id, i, None, Split.TEST.value if pool.is_test[i] else "train")
                    for i, item_id in enumerate(ids))
    store.batches.add(0, BatchKind.HOLDOUT, "random", 0, None, [(ids[i], 0.0) for i in HOLDOUT],
                      move_to=Split.HOLDOUT)
    rows = [ann(i, ids[i], truth[i], "alice") for i in HOLDOUT]
    store.annotations.apply_pull(0, {i: ids[i] for i in HOLDOUT}, rows, [], "cursor", "c0")
    rows = [ann(i, ids[i], truth[i], "bob") for i in TRAIN_LS]
    wrong = (truth[DISPUTED] + 1) % 10
    rows += [ann(1000, ids[DISPUTED], truth[DISPUTED], "alice", DISPUTED),
             ann(1001, ids[DISPUTED], wrong, "carol", DISPUTED)]
    store.annotations.apply_pull(1, {i: ids[i] for i in TRAIN_LS}, rows, [], "cursor", "c1")
    store.labels.set([(ids[i], truth[i]) for i in TRAIN_ORACLE], "oracle", 2)
    store.close()
    expected = {ids[i]: ("holdout", truth[i], ("alice",), 0) for i in HOLDOUT}
    expected.update({ids[i]: ("train", truth[i], ("bob",), 1) for i in TRAIN_LS})
    expected[ids[DISPUTED]] = ("train", truth[DISPUTED], ("alice", "bob"), 1)
    expected.update({ids[i]: ("train", truth[i], (), 2) for i in TRAIN_ORACLE})
    return expected


def ann(annotation_id: int, item_id: str, label: int, who: str,
        task_id: int | None = None) -> AnnotationRow:
    return AnnotationRow(annotation_id, annotation_id if task_id is None else task_id,
                         item_id, label, who, 3.0, "2026-01-01T00:00:00")


@pytest.fixture
def project(project_file, pool):
    """(config path, expected rows) of a project with a labelled state."""
    path = project_file()
    return path, build_state(load_config(path).work_dir / "state.sqlite", pool)


def add_labelled(config: Path, items, labels, round_: int = 0) -> None:
    """Record items (item_id, idx, path, split) and their labels in the project's state."""
    store = Store(load_config(config).work_dir / "state.sqlite")
    store.items.add(items)
    store.labels.set(labels, "oracle", round_)
    store.close()


def export(config: Path, fmt: str, out: Path, *extra: str):
    return CliRunner().invoke(main, ["export", "--config", str(config), "--format", fmt,
                                     "--out", str(out), *extra])


def test_csv_round_trips_the_labels(project, pool, tmp_path) -> None:
    config, expected = project
    result = export(config, "csv", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "exported 80 labelled items (20 holdout, 60 train) as csv" in result.output
    with (tmp_path / "out" / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    got = {r["item_id"]: (r["split"], int(r["label_index"]),
                          tuple(r["annotators"].split(",")) if r["annotators"] else (),
                          int(r["round"])) for r in rows}
    assert got == expected
    classes = (tmp_path / "out" / "classes.txt").read_text().splitlines()
    assert classes == FASHION_MNIST_CLASSES
    assert all(r["label"] == classes[int(r["label_index"])] for r in rows)
    by_id = {r["item_id"]: r for r in rows}
    assert by_id[pool.item_ids[DISPUTED]]["annotations"] == "3"
    assert by_id[pool.item_ids[TRAIN_ORACLE[0]]]["source"] == "oracle"
    assert {r["path"] for r in rows} == {""}  # torchvision items have no file


def test_jsonl_round_trips_the_labels(project, tmp_path) -> None:
    config, expected = project
    assert export(config, "jsonl", tmp_path / "out").exit_code == 0
    lines = (tmp_path / "out" / "labels.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    got = {r["item_id"]: (r["split"], r["label_index"], tuple(r["annotators"]), r["round"])
           for r in rows}
    assert got == expected
    assert all(r["label"] == FASHION_MNIST_CLASSES[r["label_index"]] for r in rows)
    assert all(r["path"] is None for r in rows)


def test_imagefolder_reads_back_with_torchvision(project, pool, tmp_path) -> None:
    config, expected = project
    out = tmp_path / "out"
    result = export(config, "imagefolder", out)
    assert result.exit_code == 0, result.output
    assert "0 copied + 80 PNG images" in result.output
    folders = class_folders(FASHION_MNIST_CLASSES)
    assert folders[0] == "T-shirt_top"  # the class name's '/' is no path
    position = {item_id: i for i, item_id in enumerate(pool.item_ids)}
    with (out / "labels.csv").open(newline="") as f:
        item_of_file = {r["file"]: r["item_id"] for r in csv.DictReader(f)}
    for split in ("train", "holdout"):
        dataset = ImageFolder(str(out / split))
        labels = [lab for s, lab, _, _ in expected.values() if s == split]
        want = Counter(folders[lab] for lab in labels)
        assert Counter(dataset.classes[t] for _, t in dataset.samples) == want
        for file, _ in dataset.samples:
            item_id = item_of_file[str(Path(file).relative_to(out))]
            pixels = np.asarray(dataset.loader(file))[..., 0]  # the loader gives RGB
            assert np.array_equal(pixels, pool.images[position[item_id]][0].numpy())
            assert Path(file).parent.name == folders[expected[item_id][1]]


def test_a_non_empty_out_needs_force_which_replaces_the_earlier_export(
        project, pool, tmp_path) -> None:
    config, expected = project
    out = tmp_path / "out"
    assert export(config, "imagefolder", out).exit_code == 0
    (out / "notes.txt").write_text("mine")
    refused = export(config, "csv", out)
    assert refused.exit_code == 2
    assert refused.output.strip() == (f"error: --out {out}: folder is not empty; pass --force "
                                      "to replace an earlier export there, or choose another "
                                      "--out")
    # a relabel moves an item to another class: --force must not leave the old file behind
    item_id = pool.item_ids[30]
    old = expected[item_id][1]
    store = Store(load_config(config).work_dir / "state.sqlite")
    store.labels.set([(item_id, (old + 1) % 10)], "label-studio", 3, "dave")
    store.close()
    folders = class_folders(FASHION_MNIST_CLASSES)
    name = file_stem(item_id) + ".png"
    assert (out / "train" / folders[old] / name).exists()
    forced = export(config, "imagefolder", out, "--force")
    assert forced.exit_code == 0, forced.output
    assert not (out / "train" / folders[old] / name).exists()
    assert (out / "train" / folders[(old + 1) % 10] / name).exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert export(config, "jsonl", out, "--force").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "classes.txt", "labels.jsonl",
                                                     "notes.txt"]


def read_manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST).read_text())


def test_force_keeps_the_users_own_split_folder(project, tmp_path) -> None:
    config, _ = project
    out = tmp_path / "out"
    assert export(config, "csv", out).exit_code == 0
    assert read_manifest(out)["format"] == "csv"
    assert sorted(read_manifest(out)["files"]) == ["classes.txt", "labels.csv"]
    (out / "train").mkdir()
    (out / "train" / "mine.txt").write_text("mine")
    (out / "validation").mkdir()  # an empty folder of the user's
    forced = export(config, "csv", out, "--force")
    assert forced.exit_code == 0, forced.output
    assert (out / "train" / "mine.txt").read_text() == "mine"
    assert (out / "validation").is_dir()
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "classes.txt", "labels.csv",
                                                     "train", "validation"]


def test_force_refuses_a_folder_without_a_manifest(project, tmp_path) -> None:
    config, _ = project
    out = tmp_path / "out"
    (out / "train").mkdir(parents=True)
    (out / "train" / "mine.txt").write_text("mine")
    (out / "labels.csv").write_text("mine too")
    for extra in ([], ["--force"]):
        refused = export(config, "csv", out, *extra)
        assert refused.exit_code == 2
        assert refused.output == (f"error: --out {out}: not empty and no earlier export's "
                                  "manifest in it; choose an empty folder\n")
    assert (out / "train" / "mine.txt").read_text() == "mine"
    assert (out / "labels.csv").read_text() == "mine too"
    assert sorted(p.name for p in out.iterdir()) == ["labels.csv", "train"]


def test_force_after_an_image_folder_removes_its_folders(project, tmp_path) -> None:
    config, _ = project
    out = tmp_path / "out"
    assert export(config, "imagefolder", out).exit_code == 0
    listed = read_manifest(out)
    assert listed["format"] == "imagefolder"
    assert len([f for f in listed["files"] if f.endswith(".png")]) == 80
    assert {"train", "holdout"} <= set(listed["created_folders"])
    # a file of the user's in one class folder keeps that folder (and nothing else)
    kept = out / "train" / class_folders(FASHION_MNIST_CLASSES)[0] / "mine.txt"
    kept.write_text("mine")
    forced = export(config, "csv", out, "--force")
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "classes.txt", "labels.csv",
                                                     "train"]
    assert [p for p in (out / "train").rglob("*") if p.is_file()] == [kept]
    assert not (out / "holdout").exists()
    # the folder it kept is still one an export made: once empty, --force removes it
    kept.unlink()
    assert export(config, "imagefolder", out, "--force").exit_code == 0
    assert export(config, "jsonl", out, "--force").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "classes.txt", "labels.jsonl"]


@pytest.mark.parametrize("where", ["../victim.txt", "absolute", "link/victim.txt", "..",
                                   "sub/../../victim.txt"])
@pytest.mark.parametrize("key", ["files", "created_folders"])
def test_a_manifest_naming_a_path_outside_out_is_refused(project, tmp_path, where,
                                                          key) -> None:
    config, _ = project
    out = tmp_path / "out"
    assert export(config, "csv", out).exit_code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours")
    (out / "link").symlink_to(tmp_path)  # a folder link to outside
    listed = str(victim) if where == "absolute" else where
    manifest = read_manifest(out)
    manifest[key] = [*manifest.get(key, []), listed]
    (out / MANIFEST).write_text(json.dumps(manifest))
    refused = export(config, "csv", out, "--force")
    assert refused.exit_code == 2
    assert refused.output == (f"error: --out {out}: {MANIFEST}: it lists {listed!r}, which is "
                              "not inside --out; nothing was removed: fix or delete it, or "
                              "choose an empty folder\n")
    assert victim.read_text() == "not yours"
    assert (out / "labels.csv").exists() and (out / "classes.txt").exists()


@pytest.mark.parametrize("content", ["not json", "[]", '{"files": "labels.csv"}',
                                     '{"files": [1]}'])
def test_a_malformed_manifest_is_refused(project, tmp_path, content) -> None:
    config, _ = project
    out = tmp_path / "out"
    assert export(config, "csv", out).exit_code == 0
    (out / MANIFEST).write_text(content)
    refused = export(config, "csv", out, "--force")
    assert refused.exit_code == 2
    assert refused.output.startswith(f"error: --out {out}: {MANIFEST}: ")
    assert refused.output.count("\n") == 1
    assert (out / "labels.csv").exists()


def test_an_export_never_overwrites_a_file_it_did_not_write(project, tmp_path) -> None:
    config, _ = project
    out = tmp_path / "out"
    assert export(config, "jsonl", out).exit_code == 0
    (out / "labels.csv").write_text("mine")
    refused = export(config, "csv", out, "--force")
    assert refused.exit_code == 2
    assert refused.output == (f"error: --out {out}: labels.csv is in the way (not from an "
                              "earlier export); move it away, or choose an empty folder\n")
    assert (out / "labels.csv").read_text() == "mine"
    (out / "labels.csv").unlink()
    (out / "train").write_text("a file named like a split")
    refused = export(config, "imagefolder", out, "--force")
    assert refused.exit_code == 2 and "train is in the way" in refused.output
    assert (out / "train").read_text() == "a file named like a split"


def test_error_lines(project_file, tmp_path) -> None:
    config = project_file()
    missing = export(config, "csv", tmp_path / "out")
    state = load_config(config).work_dir / "state.sqlite"
    assert missing.exit_code == 1
    assert missing.output.strip() == (f"error: no state in {state}: nothing is labelled yet; "
                                      "run activelearn cycle first, or check project.work_dir")
    assert not state.exists()  # looking did not create one
    (tmp_path / "file").write_text("x")
    assert export(config, "csv", tmp_path / "file").exit_code == 2
    bad = export(config, "parquet", tmp_path / "out")
    assert bad.exit_code == 2 and "'parquet' is not one of 'csv', 'jsonl', 'imagefolder'" in \
        bad.output


def test_labels_outside_the_classes_are_a_config_error(project_file, tmp_path) -> None:
    config = project_file(classes=["a", "b"])
    add_labelled(config, [("x", 0, None, "train")], [("x", 7)])
    result = export(config, "csv", tmp_path / "out")
    assert result.exit_code == 2
    assert "classes: 1 labelled items have a label outside the 2 classes (item 'x': 7)" in \
        result.output
    assert not (tmp_path / "out").exists()


def test_items_missing_from_the_pool_fail_before_writing(project, tmp_path) -> None:
    config, _ = project
    add_labelled(config, [("gone/1", 10**6, None, "train")], [("gone/1", 2)], round_=2)
    result = export(config, "imagefolder", tmp_path / "out")
    assert result.exit_code == 1
    assert "error: 1 labelled items are not in the data source's pool (first: 'gone/1')" in \
        result.output
    assert list((tmp_path / "out").iterdir()) == []
    assert export(config, "csv", tmp_path / "csv").exit_code == 0  # csv needs no pixels


def test_items_with_files_are_copied_and_unreadable_suffixes_encoded(tmp_path) -> None:
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for name, suffix in [("cat/a b.png", ".png"), ("cat/c.gif", ".gif"), ("dog/d.jpg", ".jpg")]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / name, format=suffix[1:].replace("jpg", "jpeg"))
    config = tmp_path / "p.yaml"
    config.write_text(yaml.safe_dump({
        "project": {"name": "f", "work_dir": str(tmp_path / "work")},
        "data": {"source": "imagefolder", "root": str(root), "image_size": [6, 6]},
        "classes": ["cat", "dog"]}))
    pool = load_source(load_config(config).data, ["cat", "dog"])
    add_labelled(config, [(item_id, i, pool.paths[i], "train")
                          for i, item_id in enumerate(pool.item_ids)],
                 zip(pool.item_ids, (int(x) for x in pool.labels)))
    out = tmp_path / "out"
    result = export(config, "imagefolder", out)
    assert result.exit_code == 0, result.output
    assert "2 copied + 1 PNG images" in result.output
    copied = out / "train" / "cat" / f"{file_stem('cat/a b.png')}.png"
    assert copied.read_bytes() == (root / "cat" / "a b.png").read_bytes()
    assert (out / "train" / "dog" / f"{file_stem('dog/d.jpg')}.jpg").read_bytes() == \
        (root / "dog" / "d.jpg").read_bytes()
    encoded = out / "train" / "cat" / f"{file_stem('cat/c.gif')}.png"
    gif = pool.images[pool.item_ids.index("cat/c.gif")].numpy().transpose(1, 2, 0)
    assert np.array_equal(np.asarray(Image.open(encoded)), gif)
    assert len(ImageFolder(str(out / "train"))) == 3
    with (out / "labels.csv").open(newline="") as f:
        assert {r["path"] for r in csv.DictReader(f)} == set(pool.paths)


def test_file_stems_are_distinct_and_bounded() -> None:
    ids = ["a/b", "a_b", "a%2Fb", "x" * 400, "x" * 399 + "y"]
    stems = [file_stem(i) for i in ids]
    assert len(set(stems)) == len(ids)
    assert all("/" not in s and len(s) <= 200 for s in stems)
    assert class_folders(["a/b", "a_b", "ok"]) == ["a_b-0", "a_b-1", "ok"]


def test_the_command_offers_every_format() -> None:
    (option,) = [p for p in main.commands["export"].params if p.name == "fmt"]
    assert tuple(option.type.choices) == FORMATS
