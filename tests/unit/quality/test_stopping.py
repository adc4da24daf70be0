"""The stopping suggestion and loop.stop_when's decision, from holdout results made by
hand (tests/unit/loop/test_stopping.py: the same read from a real Store)."""

from __future__ import annotations

from activelearn.config import LoopConfig
from activelearn.config.stop_when import StopWhenConfig
from activelearn.quality.stopping import HoldoutPoint, forecast_lines, outlook

FLAT = [(0, 1000, 0.84), (1, 2000, 0.86), (2, 3000, 0.865), (3, 4000, 0.867),
        (4, 5000, 0.868)]  # gains well below 0.2 points per 1,000 labels at the end
RISING = [(0, 500, 0.70), (1, 1000, 0.76), (2, 1500, 0.79)]


def points(rows, items: int = 2000) -> list[HoldoutPoint]:
    return [HoldoutPoint(r, n, round(acc * items), items) for r, n, acc in rows]


def loop(**stop_when) -> LoopConfig:
    return LoopConfig(stop_when=StopWhenConfig(**stop_when))


def test_stop_when_is_off_by_default_but_the_suggestion_is_shown() -> None:
    found = outlook(points(FLAT, items=50_000), LoopConfig())
    assert found.stop is None and found.fit is not None and found.labels == 5000
    assert found.suggestion.startswith("stop suggested: forecast gain +0.")
    assert "points per 1,000 labels" in found.suggestion
    assert "its upper end below 0.2 points, the suggestion's threshold (loop.stop_when." \
           "gain_per_1000 is off); set loop.stop_when.gain_per_1000 for cycle to stop " \
           "selecting batches" in found.suggestion
    # the suggestion alone waits for the band: the same curve on a small holdout
    unsure = outlook(points(FLAT), LoopConfig())
    assert unsure.suggestion.startswith("keep labelling: forecast gain +0.")
    assert "its upper end not below 0.2 points" in unsure.suggestion
    rising = outlook(points(RISING), LoopConfig())
    assert rising.suggestion.startswith("keep labelling: forecast gain +")
    assert "not below 0.2 points" in rising.suggestion


def test_the_gain_criterion_stops_on_the_estimate_or_on_the_band() -> None:
    found = outlook(points(FLAT), loop(gain_per_1000=0.002))
    assert found.stop_key == "loop.stop_when.gain_per_1000"
    assert found.suggestion == f"stop suggested: {found.stop}"
    assert found.stop.endswith("at 5,000 labels, below loop.stop_when.gain_per_1000 0.002 "
                               "(0.2 points)")
    # strict: the band's upper end must be below it; 200 holdout items leave it wide
    strict = outlook(points(FLAT, items=200), loop(gain_per_1000=0.002, strict=True))
    assert strict.fit is not None and strict.fit.gain_per(5000)[2] >= 0.002
    assert strict.stop is None
    assert "its upper end not below loop.stop_when.gain_per_1000" in strict.suggestion


def test_the_accuracy_criterion_uses_the_estimate_or_the_wilson_lower_bound() -> None:
    rows = points(RISING, items=200)  # the latest: 158 of 200 (0.79, CI 0.728-0.841)
    met = outlook(rows, loop(accuracy=0.78))
    assert met.stop_key == "loop.stop_when.accuracy"
    assert met.stop == ("holdout accuracy 0.790 (95% CI 0.728-0.841, 200 items), at or "
                        "above loop.stop_when.accuracy 0.78")
    strict = outlook(rows, loop(accuracy=0.78, strict=True))
    assert strict.stop is None
    assert ("holdout accuracy 0.790 (95% CI 0.728-0.841, 200 items), its lower end below "
            "loop.stop_when.accuracy 0.78") in strict.suggestion
    # one round is enough for the accuracy criterion (no forecast yet)
    single = outlook(rows[:1], loop(accuracy=0.6))
    assert single.fit is None and single.stop_key == "loop.stop_when.accuracy"


def test_the_forecast_lines() -> None:
    found = outlook(points(RISING), LoopConfig())
    lines = forecast_lines(found)
    assert lines[0].startswith("forecast: holdout accuracy 0.79")
    assert "at 1,500 labels, levelling off at" in lines[0]
    assert "5th-95th percentiles of 200 bootstrap resamples" in lines[0]
    fitted = float(found.fit.predict(1500))  # 0.7899: the target is the next whole percent
    assert found.target == 0.79 and 0.78 <= fitted < found.target
    assert lines[1].startswith("forecast: about ") and lines[1].endswith("to reach 79%")
    assert lines[2].startswith("forecast: gain per 1,000 labels: +")
    assert found.lines() == [*lines, found.suggestion]
    unreachable = outlook(points(FLAT), LoopConfig(target_accuracy=0.95))
    assert unreachable.fit is not None and unreachable.fit.asymptote < 0.95
    assert forecast_lines(unreachable)[1] == ("forecast: 95% is not reached: the fitted "
                                              f"curve levels off at {unreachable.fit.a:.3f}")
    data = unreachable.to_dict()
    assert data["target"] == 0.95 and data["labels_to_reach"] is None
    assert data["gain_per_1000"]["low"] <= data["gain_per_1000"]["estimate"] \
        <= data["gain_per_1000"]["high"]


def test_too_few_rounds_for_a_forecast() -> None:
    found = outlook(points(RISING[:2]), LoopConfig())
    assert found.fit is None and found.rounds == 2
    assert found.lines() == [
        "forecast: needs 3 rounds with holdout results (have 2)",
        "keep labelling: forecast needs 3 rounds with holdout results (have 2)"]
    assert found.to_dict() == {"rounds": 2, "min_rounds": 3, "labels": 1000,
                               "target": None, "fitted": False}
    # a retrained round at the same label count is not another point of the curve
    again = points([*RISING[:2], (2, 1000, 0.77)])
    assert outlook(again, LoopConfig()).rounds == 2
