"""Duplicate and leakage detection (data.duplicates, loop.clean, `activelearn clean`)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from PIL import Image, ImageEnhance

from activelearn.cli import main
from activelearn.config import CleaningConfig
from activelearn.data import duplicates
from activelearn.data.sources.base import Pool, SkippedItem
from activelearn.kinds import BatchKind
from activelearn.loop.clean import propagate_labels, run_clean, selectable_positions
from activelearn.state import Store


def _blobs(n: int, seed: int = 0) -> np.ndarray:
    """n distinct 28x28 uint8 images: a few random bright blobs on black."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    out = np.zeros((n, 28, 28))
    for k in range(n):
        for _ in range(4):
            cy, cx, r = rng.uniform(6, 22), rng.uniform(6, 22), rng.uniform(2, 5)
            out[k] += rng.uniform(80, 200) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r**2)
    return np.clip(out, 0, 255).astype(np.uint8)


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    return np.roll(image, (dy, dx), axis=(-2, -1))


def _jpeg_brighter(image: np.ndarray) -> np.ndarray:
    pic = ImageEnhance.Brightness(Image.fromarray(image)).enhance(1.2)
    buf = io.BytesIO()
    pic.save(buf, format="JPEG", quality=75)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.uint8)


def _pool(images: np.ndarray, is_test: np.ndarray | None = None) -> Pool:
    n = len(images)
    return Pool([f"i{k:03d}" for k in range(n)], torch.from_numpy(images[:, None].copy()),
                np.zeros(n, dtype=np.int64),
                np.zeros(n, bool) if is_test is None else is_test, ["a", "b"],
                paths=[f"/img/{k}.png" for k in range(n)])


def _pairs(found: list[duplicates.Pair]) -> dict[tuple[int, int], str]:
    return {(p.first, p.second): p.kind for p in found}


def test_exact_and_near_duplicates_are_found_and_distinct_images_are_not():
    base = _blobs(40)
    extra = [base[0], _shift(base[1], 2, -1), _jpeg_brighter(base[2]),
             (base[3] * 0.7 + 30).astype(np.uint8)]
    found = _pairs(duplicates.find_pairs(torch.from_numpy(np.concatenate(
        [base, np.stack(extra)])[:, None]), 0.985))
    assert found[(0, 40)] == "exact"
    assert found[(1, 41)] == "near"
    assert found[(2, 42)] == "near"
    assert found[(3, 43)] == "near"
    assert len(found) == 4  # the 40 distinct images pair with nothing


def test_a_threshold_of_one_keeps_only_exact_copies():
    base = _blobs(10)
    images = np.concatenate([base, base[:1], _shift(base[1:2], 1, 0)])
    found = _pairs(duplicates.find_pairs(torch.from_numpy(images[:, None]), 1.0))
    assert found == {(0, 10): "exact"}


def test_groups_are_connected_components():
    pairs = [duplicates.Pair(0, 3, "exact", 1), duplicates.Pair(3, 5, "near", 0.99),
             duplicates.Pair(1, 2, "near", 0.99)]
    assert duplicates.groups(6, pairs) == [[0, 3, 5], [1, 2]]


def _store_with(tmp_path, pool: Pool, splits: list[str]) -> Store:
    store = Store(tmp_path / "state.sqlite")
    store.items.add((item_id, i, pool.paths[i], splits[i])
                    for i, item_id in enumerate(pool.item_ids))
    return store


def test_leakage_between_pool_and_holdout_is_reported_and_never_selected(tmp_path):
    base = _blobs(12)
    images = np.concatenate([base, base[5:6], _shift(base[7:8], 1, 1)])  # 12: =5, 13: ~7
    pool = _pool(images)
    splits = ["train"] * 14
    splits[5] = "holdout"  # the pool copy 12 leaks the holdout item 5
    splits[13] = "test"  # the test item 13 is a shifted copy of pool item 7
    store = _store_with(tmp_path, pool, splits)
    pool.skipped.append(SkippedItem("bad", "/img/bad.png", "cannot decode"))
    summary = run_clean(pool, store, CleaningConfig(), tmp_path / "clean")
    assert (summary.groups, summary.leakage_pairs, summary.skipped) == (2, 2, 1)
    selectable = set(selectable_positions(store, pool.item_ids).tolist())
    assert 12 not in selectable and 7 not in selectable
    assert selectable == {i for i in range(12) if i not in (5, 7)}
    rows = (tmp_path / "clean" / "duplicates.csv").read_text().splitlines()
    assert rows[0] == "group_id,kind,item_id,representative,split,path"
    assert any(r.startswith("1,exact,i005,0,holdout,") for r in rows)
    assert "bad,/img/bad.png,cannot decode" in (tmp_path / "clean" / "skipped.csv").read_text()
    store.close()


def test_selection_never_offers_two_members_of_one_group(tmp_path):
    base = _blobs(10)
    images = np.concatenate([base, base[:3], _shift(base[:3], 0, 2), _jpeg_brighter(base[0])[None]])
    pool = _pool(images)
    store = _store_with(tmp_path, pool, ["train"] * len(images))
    run_clean(pool, store, CleaningConfig(), tmp_path / "clean")
    groups = store.duplicates.groups()
    assert [len(g.members) for g in groups] == [4, 3, 3]
    member_group = {m: g.group_id for g in groups for m, _, _ in g.members}

    def offered() -> list[int]:
        ids = [pool.item_ids[i] for i in selectable_positions(store, pool.item_ids)]
        return [member_group[i] for i in ids if i in member_group]

    assert sorted(offered()) == [1, 2, 3]  # one representative each
    # a member that got into a batch (e.g. before the clean) keeps its whole group out
    store.batches.add(0, BatchKind.INITIAL, "random", 0, None, [("i011", 0.0)])
    assert sorted(offered()) == [1, 3]
    store.close()


def test_labels_propagate_to_the_group_when_asked(tmp_path):
    base = _blobs(6)
    pool = _pool(np.concatenate([base, base[:1], base[:1]]))
    store = _store_with(tmp_path, pool, ["train"] * 8)
    run_clean(pool, store, CleaningConfig(propagate_labels=True), tmp_path / "clean")
    store.labels.set([("i000", 1)], "label-studio", 0)
    assert propagate_labels(store, 0) == 2
    assert store.labels.current() == {"i000": 1, "i006": 1, "i007": 1}
    assert store.labels.history("i006") == [(1, None, "duplicate-of:i000", 0)]
    assert propagate_labels(store, 0) == 0
    store.close()


@pytest.fixture
def clean_project(project_file):
    return project_file(data={"source": "fashion-mnist", "limit": 300, "test_limit": 100})


def test_clean_command_prints_a_summary_and_writes_the_csv_files(clean_project, tmp_path):
    result = CliRunner().invoke(main, ["clean", "--config", str(clean_project)])
    assert result.exit_code == 0, result.output
    assert "checked 400 items" in result.output
    assert "duplicate groups:" in result.output and "leakage:" in result.output
    assert (tmp_path / "work" / "clean" / "duplicates.csv").exists()
    assert (tmp_path / "work" / "clean" / "skipped.csv").exists()
    again = CliRunner().invoke(main, ["clean", "--config", str(clean_project)])
    assert again.exit_code == 0


def test_clean_command_rejects_a_bad_config(tmp_path, clean_project):
    raw = yaml.safe_load(clean_project.read_text())
    raw["cleaning"] = {"near_threshold": 1.5}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["clean", "--config", str(bad)])
    assert result.exit_code == 2
    assert "cleaning.near_threshold: must be in (0, 1], got 1.5" in result.output


def test_a_look_alike_with_one_local_difference_is_not_a_near_duplicate():
    # the same picture with a small extra mark in a corner (a logo, a strap) correlates
    # above the threshold, but differs in one place: two products, not one image
    base = _blobs(1, seed=3)[0]
    yy, xx = np.mgrid[:28, :28]
    mark = 90 * np.exp(-((yy - 4) ** 2 + (xx - 24) ** 2) / 1.5**2)
    other = np.clip(base + mark, 0, 255).astype(np.uint8)
    images = torch.from_numpy(np.stack([base, other, _jpeg_brighter(base)])[:, None])
    canon = duplicates.canonical(images)
    assert duplicates.shifted_correlation(canon, torch.tensor([[0, 1]]))[0] > 0.985
    assert _pairs(duplicates.find_pairs(images, 0.985)) == {(0, 2): "near"}
