"""`activelearn simulate`: the offline loop with a simulated annotator, strategies side by
side."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from activelearn.cli.base import config_option, handle_errors, load, main
from activelearn.cli.interrupt import EXIT_CODE, interrupted_line
from activelearn.config import with_overrides


@main.command()
@config_option
@click.option("--strategy", "strategies", multiple=True, metavar="NAME",
              help="Query strategy; repeat for several. 'random' is added as the baseline "
                   "unless --no-baseline. [default: the config's strategy]")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Number of seeds per strategy (seed, seed+1, ... from project.seed).")
@click.option("--initial", type=click.IntRange(min=1), help="Random labels to start with.")
@click.option("--batch", type=click.IntRange(min=1), help="Labels added per round.")
@click.option("--budget", type=click.IntRange(min=1), help="Stop at this many labels.")
@click.option("--batch-growth", type=click.FloatRange(1, 100), metavar="G",
              help="Grow the label counts geometrically: initial, initial*G, initial*G^2, "
                   "... up to --budget (2: 500, 1000, 2000, 4000); 1 = fixed --batch. "
                   "[default: loop.batch_growth]")
@click.option("--target-accuracy", "target_values", type=click.FloatRange(0, 1, min_open=True),
              multiple=True, metavar="A",
              help="A test score to reach (of --target-metric); repeat for several. The "
                   "summary shows each strategy's labels to reach it (mean ± std over "
                   "seeds) and its efficiency against random.")
@click.option("--target-fraction", "target_fractions",
              type=click.FloatRange(0, 1, min_open=True), multiple=True, metavar="F",
              help="A target of F times the full-data score: the same model and recipe "
                   "trained on every train item, measured once and cached under "
                   "WORK_DIR/full_data; repeat for several.")
@click.option("--target-metric", type=click.Choice(["accuracy", "macro_f1"]),
              default="accuracy", show_default=True,
              help="The test metric the targets are of.")
@click.option("--full-data-accuracy", type=click.FloatRange(0, 1, min_open=True),
              metavar="A", help="The full-data accuracy for --target-fraction, instead of "
                                "measuring it.")
@click.option("--imbalance", type=click.FloatRange(1, 10_000), default=1.0, metavar="R",
              help="Subsample the train split so class counts fall geometrically from the "
                   "largest class's to largest/R (class 0 keeps the most; test and "
                   "validation unchanged). 1 = off.  [default: 1]")
@click.option("--limit", type=click.IntRange(min=1),
              help="Use only this many pool items (stratified), for quick runs.")
@click.option("--test-limit", type=click.IntRange(min=1),
              help="Use only this many test-set items (stratified), for quick runs.")
@click.option("--no-baseline", is_flag=True, help="Do not add the random baseline.")
@click.option("--class-seconds", "class_seconds", multiple=True, metavar="CLASS=S",
              help="The simulated annotator spends S seconds on a label of CLASS (a name "
                   "or index); repeat per class. Records gain annotator_seconds/_hours.")
@click.option("--seconds-default", type=click.FloatRange(0, 86_400, min_open=True),
              metavar="S", help="Seconds per label of the classes --class-seconds omits.")
@click.option("--seconds-spread", type=click.FloatRange(0, 3), default=0.0, metavar="SIGMA",
              help="Draw each item's seconds from a lognormal around its class's (seeded "
                   "by project.seed); 0 = exactly.  [default: 0]")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output directory [default: WORK_DIR/simulate].")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@handle_errors
def simulate(config, strategies, seeds, initial, batch, budget, batch_growth, target_values,
             target_fractions, target_metric, full_data_accuracy, imbalance, limit,
             test_limit, no_baseline, class_seconds, seconds_default, seconds_spread, out,
             no_progress) -> None:
    """Run an active-learning experiment with a simulated annotator (the dataset's
    ground truth) and compare strategies against random sampling.

    Writes rounds.csv, rounds.json, accuracy.png, macro_f1.png and worst_recall.png
    (and targets.json with targets) to --out and prints a summary: final accuracy,
    macro-F1 and worst-class recall, area under the curve, label efficiency against
    random, and the labels each strategy needs to reach each target; with a cost model
    (--class-seconds), labels per annotator-hour and accuracy at equal annotator-hours.

    \b
    Examples:
      activelearn simulate --strategy margin --seeds 3 --target-accuracy 0.85
      activelearn simulate --batch-growth 2 --budget 8000
      activelearn simulate --target-fraction 0.97 --target-metric macro_f1
      activelearn simulate --imbalance 20 --target-metric macro_f1 --target-accuracy 0.8
      activelearn simulate --class-seconds Shirt=12 --class-seconds 1=3 --seconds-default 6
    """
    from activelearn.kinds import UNKNOWN_LABEL
    from activelearn.project import Project
    from activelearn.reporting import hours, results, targets
    from activelearn.reporting.plots import SimulateFigures
    from activelearn.simulate import (
        TARGETS_FILE,
        TargetSpec,
        fixed_batch,
        parse_cost_model,
        read_targets,
    )
    from activelearn.simulate import simulate as run

    if full_data_accuracy is not None and not target_fractions:
        raise click.UsageError("--full-data-accuracy is used only with --target-fraction")
    if full_data_accuracy is not None and target_metric != "accuracy":
        raise click.UsageError("--full-data-accuracy gives accuracy; with --target-metric "
                               f"{target_metric} the full-data value is measured")
    goals = TargetSpec(target_metric, tuple(target_values), tuple(target_fractions),
                       full_data_accuracy)
    cfg = load(config)
    cfg = with_overrides(cfg, "loop", initial=initial, batch=batch, budget=budget,
                         batch_growth=batch_growth)
    if cfg.loop.batch_growth <= 1:  # loop.batch auto: an error before any work
        fixed_batch(cfg.loop, str(cfg.path))
    cfg = with_overrides(cfg, "data", limit=limit, test_limit=test_limit)
    cost = parse_cost_model(class_seconds, seconds_default, seconds_spread, cfg.classes,
                            cfg.project.seed)
    names = list(dict.fromkeys(strategies or [cfg.strategy.name]))
    if not no_baseline and "random" not in names:
        names.insert(0, "random")
    project = Project(cfg)
    out_dir = Path(out) if out else project.paths.simulate
    if cfg.model.weights and not cfg.model.pool_weights:  # a missing or wrong file: now
        from activelearn.learn.backbones import check_weights

        check_weights(cfg.model)
    with project.store() as store:  # the catalogue of file pools
        pool = project.open_pool(store, progress=not no_progress)
    if pool.skipped:
        click.echo(f"skipped {len(pool.skipped)} unusable images (see the warnings above)",
                   err=True)
    unlabeled = pool.labels == UNKNOWN_LABEL
    if unlabeled.any():  # the simulated annotator answers from the source's labels
        click.echo(f"left out {int(unlabeled.sum())} unlabeled items: simulate needs each "
                   "item's true label", err=True)
        pool = pool.subset((~unlabeled).nonzero()[0])
    if cfg.model.pool_weights:  # pretrained inline on the train split, or reused
        cfg = _pretrained(project, pool, not no_progress)
    click.echo(f"pool: {len(pool)} items; strategies: {', '.join(names)}; "
               f"seeds: {seeds}; results in {out_dir}")
    seed_list = [cfg.project.seed + k for k in range(seeds)]
    try:
        records = run(cfg, pool, names, seed_list, out_dir, click.echo, not no_progress,
                      imbalance, goals, cost, SimulateFigures())
    except KeyboardInterrupt:
        click.echo(f"{interrupted_line()}: results of the finished rounds are in {out_dir}",
                   err=True)
        sys.exit(EXIT_CODE)
    click.echo("")
    click.echo(results.format_summary(results.summarize(records)))
    spent = hours.hours_summary(records)
    if spent is not None:
        click.echo("\n" + hours.format_hours(*spent))
    found, _ = read_targets(out_dir)
    if found:
        click.echo("")
        click.echo(targets.format_targets(targets.target_rows(records, found)))
    written = [p.name for p in sorted(out_dir.glob("*.png"))] + \
        ([TARGETS_FILE] if found else [])
    click.echo(f"\nwrote rounds.csv, rounds.json, {', '.join(written)} in {out_dir}")


def _pretrained(project, pool, progress: bool):
    """model.weights: pool for simulate: pretraining on the pool's train split (the splits
    simulate draws), inline, its result kept in the project's artifact store and reused;
    returns the config naming it."""
    from activelearn.data.splits import assign_splits

    cfg = project.cfg
    splits = assign_splits(pool.labels, pool.is_test, cfg.splits, cfg.project.seed)
    with project.store() as store:
        made = project.pretrain(store, pool, dict(zip(pool.item_ids, map(str, splits))),
                                progress, inline=True)
    how = "pretrained" if made.trained else "reused pretrained weights"
    click.echo(f"{how}: {project.artifacts.url}/{made.name} ({made.info['epochs']} epochs, "
               f"{made.info['items']} train items)")
    return project.cfg
