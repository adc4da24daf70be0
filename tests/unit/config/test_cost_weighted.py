"""strategy.cost_weighted at load: off by default, and a config error (exit 2, one line
naming the key and the fix) for a strategy with no per-item score to divide."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.cli.base import load, registered_names
from activelearn.config import StrategyConfig
from activelearn.errors import ConfigError


def test_off_by_default_and_allowed_for_score_and_rank_strategies(project_file) -> None:
    assert StrategyConfig().cost_weighted is False
    scored = registered_names()["strategy.cost_weighted"]
    assert {"margin", "entropy", "least-confidence", "bald"} <= set(scored)
    assert not {"random", "coreset", "badge", "typiclust"} & set(scored)
    cfg = load(str(project_file(strategy={"name": "bald", "cost_weighted": True,
                                          "class_balance": True})))
    assert cfg.strategy.cost_weighted and cfg.strategy.class_balance


@pytest.mark.parametrize("name", ["coreset", "random"])
def test_a_strategy_without_scores_is_a_config_error(project_file, name) -> None:
    path = project_file(strategy={"name": name, "cost_weighted": True})
    with pytest.raises(ConfigError, match=rf"strategy.cost_weighted: {name} has no per-item "
                                          r"informativeness score .* set cost_weighted: false"):
        load(str(path))
    res = CliRunner().invoke(main, ["status", "--config", str(path)])
    assert res.exit_code == 2
    assert f"strategy.cost_weighted: {name} has no per-item" in res.output


def test_an_unknown_strategy_is_reported_as_unknown_first(project_file) -> None:
    path = project_file(strategy={"name": "magrin", "cost_weighted": True})
    with pytest.raises(ConfigError, match="unknown strategy 'magrin'"):
        load(str(path))


def test_with_auto_cost_weighting_is_judged_by_auto_late(project_file) -> None:
    """auto's late strategy picks most labels: it must have a score; typiclust's early
    rounds then rank unweighted."""
    cfg = load(str(project_file(strategy={"name": "auto", "cost_weighted": True})))
    assert (cfg.strategy.auto_early, cfg.strategy.auto_late) == ("typiclust", "margin")
    path = project_file(strategy={"name": "auto", "auto_late": "coreset",
                                  "cost_weighted": True})
    res = CliRunner().invoke(main, ["status", "--config", str(path)])
    assert res.exit_code == 2
    assert res.output.strip().startswith(
        f"error: {path}: strategy.cost_weighted: coreset (strategy.auto_late) has no "
        "per-item informativeness score")
    assert len(res.output.strip().splitlines()) == 1
