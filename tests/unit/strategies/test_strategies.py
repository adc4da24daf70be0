"""Query strategies: one contract every registered strategy passes, then each one's ranking."""

from __future__ import annotations

import numpy as np
import pytest

from activelearn.errors import PoolExhaustedError, UnknownNameError
from activelearn.strategies import (
    SelectionInput,
    Strategy,
    _nearest,
    available_strategies,
    get_strategy,
)
from activelearn.strategies.coreset import CoreSet
from activelearn.strategies.scoring import ScoringStrategy

STRATEGIES = available_strategies()


def make_input(candidates: int, seed: int = 0, classes: int = 4, dim: int = 8) -> SelectionInput:
    """Random but valid inputs with every field a strategy could need."""
    rng = np.random.default_rng(seed)
    passes = 5
    mc_probs = rng.dirichlet(np.ones(classes), size=(candidates, passes)).transpose(0, 2, 1)
    return SelectionInput(
        probs=mc_probs.mean(axis=2).astype(np.float32),
        embeddings=rng.normal(size=(candidates, dim)).astype(np.float32),
        mc_probs=mc_probs.astype(np.float32),
        labeled_embeddings=rng.normal(size=(6, dim)).astype(np.float32),
    )


def per_candidate_arrays(inp: SelectionInput) -> list[np.ndarray]:
    """probs, embeddings and mc_probs of inp, to edit in place."""
    return [a for a in (inp.probs, inp.embeddings, inp.mc_probs) if a is not None]


def declared_only(strategy: Strategy, inp: SelectionInput) -> SelectionInput:
    """inp without the optional fields the strategy did not declare it needs."""
    return SelectionInput(
        probs=inp.probs,
        embeddings=inp.embeddings if strategy.needs_embeddings else None,
        mc_probs=inp.mc_probs if strategy.needs_mc_dropout else None,
        labeled_embeddings=inp.labeled_embeddings if strategy.needs_labeled_embeddings else None,
    )


def select(name: str, inp: SelectionInput, n: int, seed: int = 0) -> list[int]:
    return get_strategy(name).select(inp, n, seed).positions.tolist()


# --- the contract -----------------------------------------------------------------


def test_every_built_in_strategy_is_registered() -> None:
    assert set(STRATEGIES) == {
        "random", "least-confidence", "margin", "entropy", "bald", "coreset", "badge",
        "kmeans", "typiclust", "cluster-margin",
    }


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("n", [1, 10, 50])
def test_returns_n_distinct_positions_in_range(name: str, n: int) -> None:
    strategy = get_strategy(name)
    sel = strategy.select(declared_only(strategy, make_input(50)), n, seed=3)
    assert len(sel.positions) == n
    assert len(set(sel.positions.tolist())) == n
    assert sel.positions.min() >= 0 and sel.positions.max() < 50
    assert sel.scores.shape == (n,) and np.isfinite(sel.scores).all()


@pytest.mark.parametrize("name", STRATEGIES)
def test_exhausted_pool_says_how_many(name: str) -> None:
    with pytest.raises(PoolExhaustedError, match="pool exhausted: 37 unlabeled, 200 requested"):
        get_strategy(name).select(make_input(37), 200, seed=0)


@pytest.mark.parametrize("name", STRATEGIES)
def test_same_seed_same_selection(name: str) -> None:
    inp = make_input(80)
    first = get_strategy(name).select(inp, 12, seed=7)
    again = get_strategy(name).select(inp, 12, seed=7)
    assert first.positions.tolist() == again.positions.tolist()
    assert np.array_equal(first.scores, again.scores)


READ_FIELDS = [(name, field) for name in STRATEGIES
               for field, read in [("probs", True),
                                   ("embeddings", get_strategy(name).needs_embeddings),
                                   ("mc_probs", get_strategy(name).needs_mc_dropout)] if read]


@pytest.mark.parametrize(("name", "field"), READ_FIELDS)
def test_non_finite_rows_rank_after_every_finite_row(name: str, field: str) -> None:
    """A NaN or inf in what the strategy reads means the model produced garbage for that
    item: it is picked only once every finite item is, whatever the strategy."""
    strategy = get_strategy(name)
    inp = declared_only(strategy, make_input(30))
    array = getattr(inp, field)
    array[4] = np.nan
    array[17] = np.inf
    whole = strategy.select(inp, 30, seed=0)
    assert set(whole.positions[-2:].tolist()) == {4, 17}
    assert np.isfinite(whole.scores).all() and (np.diff(whole.scores[-3:]) <= 0).all()
    part = strategy.select(inp, 28, seed=0)
    assert not {4, 17} & set(part.positions.tolist())


NEEDED_INPUTS = [
    (name, field)
    for name in STRATEGIES
    for field, needed in [
        ("embeddings", get_strategy(name).needs_embeddings),
        ("mc_probs", get_strategy(name).needs_mc_dropout),
    ]
    if needed
]


@pytest.mark.parametrize(("name", "field"), NEEDED_INPUTS)
def test_a_missing_declared_input_is_named(name: str, field: str) -> None:
    inp = make_input(20)
    setattr(inp, field, None)
    with pytest.raises(ValueError, match=f"{name!r} needs {field}"):
        get_strategy(name).select(inp, 3, seed=0)


@pytest.mark.parametrize("name", STRATEGIES)
def test_a_pool_of_identical_items_can_be_taken_whole(name: str) -> None:
    inp = make_input(12)
    for array in per_candidate_arrays(inp):
        array[:] = array[0]
    assert sorted(select(name, inp, 12)) == list(range(12))


def test_random_depends_on_the_seed() -> None:
    inp = make_input(1000)
    assert select("random", inp, 20, seed=1) != select("random", inp, 20, seed=2)


def test_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(UnknownNameError) as err:
        get_strategy("nope")
    assert "unknown strategy 'nope'" in str(err.value)
    for name in STRATEGIES:
        assert name in str(err.value)


# --- uncertainty ranking ----------------------------------------------------------


def probs_input(rows: list[list[float]]) -> SelectionInput:
    return SelectionInput(probs=np.array(rows, dtype=np.float32))


def test_least_confidence_picks_the_lowest_top_probability() -> None:
    inp = probs_input([[0.9, 0.05, 0.05], [0.5, 0.45, 0.05], [0.4, 0.3, 0.3]])
    assert select("least-confidence", inp, 1) == [2]


def test_margin_picks_the_closest_top_two() -> None:
    # Row 2 has the lowest top probability, but row 1's top two are closer.
    inp = probs_input([[0.9, 0.05, 0.05], [0.5, 0.45, 0.05], [0.4, 0.3, 0.3]])
    assert select("margin", inp, 1) == [1]


def test_entropy_prefers_spread_rows_and_tolerates_zeros() -> None:
    # Row 1 has a zero margin, but row 2 spreads its mass over more classes.
    inp = probs_input([[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [0.4, 0.2, 0.2, 0.2]])
    sel = get_strategy("entropy").select(inp, 3, seed=0)
    assert sel.positions.tolist() == [2, 1, 0]
    assert sel.scores == pytest.approx([1.3322, np.log(2), 0.0], abs=1e-4)
    assert select("margin", inp, 1) == [1]


@pytest.mark.parametrize("name", ["least-confidence", "margin", "entropy"])
def test_scores_come_best_first(name: str) -> None:
    scores = get_strategy(name).select(make_input(100), 30, seed=0).scores
    assert (np.diff(scores) <= 0).all()


def test_nan_rows_rank_after_every_finite_row() -> None:
    inp = make_input(20)
    inp.probs[[3, 11]] = np.nan
    assert set(select("entropy", inp, 20)[-2:]) == {3, 11}


class FixedScores(ScoringStrategy):
    """A scoring strategy (not registered) whose scores are given: tests the base class."""

    name = "fixed"

    def __init__(self, scores: list[float]) -> None:
        self.scores = np.array(scores)

    def compute_score(self, predictions: np.ndarray) -> np.ndarray:
        return self.scores


def test_non_finite_scores_rank_last_whatever_their_sign() -> None:
    scores = [1.0, np.inf, np.nan, 2.0, -np.inf, 0.5]
    inp = SelectionInput(probs=np.full((6, 2), 0.5, np.float32))
    sel = FixedScores(scores).select(inp, 6, seed=0)
    assert sel.positions.tolist()[:3] == [3, 0, 5]
    assert set(sel.positions.tolist()[3:]) == {1, 2, 4}


def test_ties_break_by_seed_not_by_position() -> None:
    inp = SelectionInput(probs=np.full((200, 4), 0.25, dtype=np.float32))
    first, second = select("margin", inp, 10, seed=1), select("margin", inp, 10, seed=2)
    assert first != second
    assert first != list(range(10))


# --- BALD -------------------------------------------------------------------------


def test_bald_prefers_disagreeing_passes_over_confidently_uniform_ones() -> None:
    passes = 6
    uniform = np.full((3, passes), 1 / 3)  # every pass unsure: noise, not ignorance
    disagree = np.zeros((3, passes))  # each pass sure, but of different classes
    disagree[0, ::2] = disagree[1, 1::2] = 1.0
    agree = np.zeros((3, passes))
    agree[2] = 1.0
    mc_probs = np.stack([uniform, disagree, agree]).astype(np.float32)
    inp = SelectionInput(probs=mc_probs.mean(axis=2), mc_probs=mc_probs)
    sel = get_strategy("bald").select(inp, 3, seed=0)
    assert sel.positions.tolist() == [1, 0, 2] or sel.positions.tolist() == [1, 2, 0]
    assert sel.scores[0] == pytest.approx(np.log(2), abs=1e-5)
    assert sel.scores[1:] == pytest.approx([0.0, 0.0], abs=1e-5)
    assert select("entropy", inp, 1) == [0]  # entropy alone would take the uniform one


# --- core-set ---------------------------------------------------------------------


def naive_k_center(points: np.ndarray, labeled: np.ndarray, n: int) -> list[int]:
    """Textbook k-center greedy: full distance update after every pick."""
    nearest = np.linalg.norm(points[:, None] - labeled[None], axis=2).min(axis=1)
    picks: list[int] = []
    for _ in range(n):
        pick = int(np.argmax(nearest))
        picks.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(points - points[pick], axis=1))
        nearest[picks] = -1.0
    return picks


def test_coreset_picks_the_point_far_from_labeled_clusters() -> None:
    labeled = np.array([[0, 0], [0, 0.2], [10, 0], [10, 0.2]], dtype=np.float32)
    points = np.array(
        [[0.1, 0.1], [9.9, 0.1], [5, 9], [5, 9.1], [5, -6], [0.3, 0]], dtype=np.float32
    )
    inp = SelectionInput(
        probs=np.full((6, 2), 0.5, np.float32), embeddings=points, labeled_embeddings=labeled
    )
    sel = get_strategy("coreset").select(inp, 2, seed=0)
    # (5, 9.1) is farthest; its twin (5, 9) is then near a centre, so (5, -6) comes next.
    assert sel.positions.tolist() == [3, 4]
    assert sel.scores == pytest.approx([np.hypot(5, 8.9), np.hypot(5, 6)], abs=1e-3)


def test_coreset_matches_textbook_k_center_greedy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_nearest, "MAX_PENDING", 16)  # refreshes every 16 picks
    rng = np.random.default_rng(5)
    clusters = rng.normal(size=(8, 16)) * 5
    points = (clusters[rng.integers(8, size=400)] + rng.normal(size=(400, 16))).astype(np.float32)
    labeled = (clusters[:3] + rng.normal(size=(3, 16))).astype(np.float32)
    inp = SelectionInput(
        probs=np.full((400, 2), 0.5, np.float32), embeddings=points, labeled_embeddings=labeled
    )
    # Enough picks to pass the lazy bounds' refresh points several times.
    assert select("coreset", inp, 150) == naive_k_center(points, labeled, 150)


@pytest.mark.parametrize("labeled", [None, np.zeros((0, 2), np.float32)])
def test_coreset_without_labeled_items_covers_both_clusters(labeled: np.ndarray | None) -> None:
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.1, (20, 2)), rng.normal(50, 0.1, (20, 2))])
    inp = SelectionInput(
        probs=np.full((40, 2), 0.5, np.float32),
        embeddings=points.astype(np.float32),
        labeled_embeddings=labeled,
    )
    for seed in range(5):
        sel = get_strategy("coreset").select(inp, 3, seed=seed)
        assert sorted(p // 20 for p in sel.positions[:2]) == [0, 1]
        # The first pick has no centre to be far from: it gets the pool's reach from it.
        assert np.isfinite(sel.scores).all()
        assert sel.scores[0] == sel.scores[1] > 60 > sel.scores[2]
    starts = {select("coreset", inp, 1, seed=seed)[0] for seed in range(5)}
    assert len(starts) > 1  # the first pick is a seeded random candidate


def test_coreset_declares_its_needs() -> None:
    assert CoreSet.needs_embeddings and CoreSet.needs_labeled_embeddings
    assert not CoreSet.needs_mc_dropout


# --- BADGE ------------------------------------------------------------------------


def badge_input() -> SelectionInput:
    """Items 0-3: one uncertain item four times; 4: uncertain, a new direction; 5-7: confident."""
    unsure = [0.5, 0.5, 0.0]
    sure = [1.0, 0.0, 0.0]
    probs = np.array([unsure] * 4 + [[0.5, 0.0, 0.5]] + [sure] * 3, dtype=np.float32)
    emb = np.array([[1, 0]] * 4 + [[0, 0.9]] + [[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    return SelectionInput(probs=probs, embeddings=emb)


def test_badge_starts_from_the_largest_gradient_and_never_repeats_a_duplicate() -> None:
    inp = badge_input()
    for seed in range(30):
        sel = get_strategy("badge").select(inp, 3, seed=seed)
        assert sel.positions[0] == 0
        assert sel.scores[0] == pytest.approx(np.sqrt(0.5))  # |p - onehot| * |emb|
        assert not {1, 2, 3} & set(sel.positions.tolist())


def test_badge_prefers_a_new_uncertain_item_over_confident_ones() -> None:
    inp = badge_input()
    seconds = [select("badge", inp, 2, seed=seed)[1] for seed in range(400)]
    counts = np.bincount(seconds, minlength=8)
    # D^2 weights after picking item 0: item 4 has 0.5 + 0.405, each confident one 0.5.
    expected = np.array([0, 0, 0, 0, 0.905, 0.5, 0.5, 0.5]) / 2.405
    assert counts[4] > counts[5:].max()
    assert counts / 400 == pytest.approx(expected, abs=0.08)


# -- class_balance ------------------------------------------------------------------------


def test_class_quotas_share_equally_and_pass_on_what_a_class_lacks():
    from activelearn.strategies.batch import class_quotas

    assert class_quotas(np.array([100, 100, 100, 100]), 40).tolist() == [10, 10, 10, 10]
    assert class_quotas(np.array([100, 3, 0, 100]), 40).tolist() == [19, 3, 0, 18] or \
        class_quotas(np.array([100, 3, 0, 100]), 40).tolist() == [18, 3, 0, 19]
    assert class_quotas(np.array([5, 50, 2]), 4).tolist() == [1, 1, 2]  # scarcest first
    assert class_quotas(np.array([1, 1]), 2).tolist() == [1, 1]
    with pytest.raises(PoolExhaustedError):
        class_quotas(np.array([1, 1]), 3)


@pytest.mark.parametrize("name", STRATEGIES)
def test_class_balance_gives_each_predicted_class_its_share(name):
    from activelearn.strategies.batch import select_batch

    inp = make_input(400, seed=3)
    # a skewed pool: the model predicts class 0 for 85% of the candidates
    skew = np.random.default_rng(1).random(400) < 0.85
    inp.probs[skew] = np.array([0.7, 0.1, 0.1, 0.1], dtype=np.float32)
    candidates = np.arange(1000, 1400)
    chosen, sel = select_batch(get_strategy(name), inp, candidates, 40, seed=5,
                               class_balance=True)
    predicted = inp.probs[sel.positions].argmax(axis=1)
    counts = np.bincount(predicted, minlength=4)
    assert counts.tolist() == [10, 10, 10, 10]
    assert len(set(chosen.tolist())) == 40 and set(chosen) <= set(candidates)
    assert np.all(np.diff(sel.scores) <= 1e-12)  # best first
    again, _ = select_batch(get_strategy(name), inp, candidates, 40, seed=5,
                            class_balance=True)
    assert again.tolist() == chosen.tolist()


def test_class_balance_takes_a_rare_class_that_margin_alone_starves():
    from activelearn.strategies.batch import select_batch

    probs = np.tile(np.array([0.5, 0.45, 0.05], dtype=np.float32), (300, 1))  # unsure 0/1
    probs[:20] = [0.02, 0.03, 0.95]  # 20 confident class-2 items
    inp = SelectionInput(probs)
    plain, _ = select_batch(get_strategy("margin"), inp, np.arange(300), 30, seed=0)
    balanced, _ = select_batch(get_strategy("margin"), inp, np.arange(300), 30, seed=0,
                               class_balance=True)
    assert not (plain < 20).any()
    assert (balanced < 20).sum() == 15  # two predicted classes (0 and 2): half each
