"""The labelling loop's commands: simulate, init, cycle, demo and the bot annotator."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from activelearn.cli.base import (
    config_option,
    handle_errors,
    load,
    load_needing,
    main,
)
from activelearn.config import with_overrides
from activelearn.errors import ConfigError


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
    from activelearn.data.sources import open_pool
    from activelearn.kinds import UNKNOWN_LABEL
    from activelearn.loop.cost import parse_cost_model
    from activelearn.loop.schedule import fixed_batch
    from activelearn.loop.simulate import simulate as run
    from activelearn.reporting import hours, results, targets
    from activelearn.state import Store

    if full_data_accuracy is not None and not target_fractions:
        raise click.UsageError("--full-data-accuracy is used only with --target-fraction")
    if full_data_accuracy is not None and target_metric != "accuracy":
        raise click.UsageError("--full-data-accuracy gives accuracy; with --target-metric "
                               f"{target_metric} the full-data value is measured")
    goals = targets.TargetSpec(target_metric, tuple(target_values), tuple(target_fractions),
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
    out_dir = Path(out) if out else cfg.work_dir / "simulate"
    if cfg.model.weights:  # a missing or wrong weights file: before any work
        from activelearn.learn.backbones import check_weights

        check_weights(cfg.model)
    with Store.open(cfg.work_dir / "state.sqlite") as store:  # the catalogue of file pools
        pool = open_pool(cfg, store, progress=not no_progress)
    if pool.skipped:
        click.echo(f"skipped {len(pool.skipped)} unusable images (see the warnings above)",
                   err=True)
    unlabeled = pool.labels == UNKNOWN_LABEL
    if unlabeled.any():  # the simulated annotator answers from the source's labels
        click.echo(f"left out {int(unlabeled.sum())} unlabeled items: simulate needs each "
                   "item's true label", err=True)
        pool = pool.subset((~unlabeled).nonzero()[0])
    click.echo(f"pool: {len(pool)} items; strategies: {', '.join(names)}; "
               f"seeds: {seeds}; results in {out_dir}")
    seed_list = [cfg.project.seed + k for k in range(seeds)]
    try:
        records = run(cfg, pool, names, seed_list, out_dir, click.echo, not no_progress,
                      imbalance, goals, cost)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: results of the finished rounds are in {out_dir}", err=True)
        sys.exit(130)
    click.echo("")
    click.echo(results.format_summary(results.summarize(records)))
    spent = hours.hours_summary(records)
    if spent is not None:
        click.echo("\n" + hours.format_hours(*spent))
    found, _ = targets.read_targets(out_dir)
    if found:
        click.echo("")
        click.echo(targets.format_targets(targets.target_rows(records, found)))
    written = [p.name for p in sorted(out_dir.glob("*.png"))] + \
        ([targets.TARGETS_FILE] if found else [])
    click.echo(f"\nwrote rounds.csv, rounds.json, {', '.join(written)} in {out_dir}")


@main.command()
@config_option
@click.option("--relink", is_flag=True,
              help="The project linked before is gone (deleted, or the server moved): link "
                   "the project of this title on this server (made when missing) and push "
                   "the items still waiting for a label to it again.")
@click.option("--connect-ml-backend", "service", metavar="URL",
              help="Also connect `activelearn serve`, running at URL as Label Studio "
                   "reaches it: URL/webhook as the project's webhook (annotation events, "
                   "with the X-Activelearn-Secret header from $ACTIVELEARN_WEBHOOK_SECRET "
                   "or $ACTIVELEARN_WEBHOOK_SECRET_FILE) and URL as its ML backend "
                   "(predictions on demand).")
@handle_errors
def init(config, relink, service) -> None:
    """Create (or find) the project's Label Studio project and link it to the state.

    The project is found by the id stored in WORK_DIR/state.sqlite, else by its title
    (label_studio.project_title, default project.name), else created: a Choices
    interface over the classes, the annotation rules (label_studio.instructions),
    uncertainty sampling and a Data Manager tab listing the least confident tasks first.
    A linked project that is gone is an error (exit 1) unless --relink.
    The server is label_studio.url (or $ACTIVELEARN_LS_URL); the API token comes only
    from $LABEL_STUDIO_API_KEY or the file named by $LABEL_STUDIO_API_KEY_FILE.
    """
    from activelearn.annotation.label_studio.client import LabelStudioBackend
    from activelearn.data.sources import open_pool
    from activelearn.loop.project import init_project, repush_pending
    from activelearn.state import Store

    cfg = load_needing(config, "label_studio.url", "ACTIVELEARN_LS_URL")
    if service:  # both checked before Label Studio is called
        from activelearn.service.connect import connect_service, service_url
        from activelearn.service.secret import webhook_secret

        service, secret = service_url(service), webhook_secret()
    ls = cfg.label_studio
    backend = LabelStudioBackend.connect(ls.url, workers=ls.parallel_requests)
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        linked = init_project(backend, store, ls.project_title or cfg.project.name,
                              list(cfg.classes), ls.instructions, relink=relink)
        click.echo(f"Label Studio project {linked.project_id} ({linked.how}): "
                   f"{backend.url}/projects/{linked.project_id}")
        if relink:
            backend.ensure_overlap(linked.project_id, ls.max_overlap)
            pool = open_pool(cfg, store)
            made = repush_pending(cfg, store, backend, pool, linked.project_id, click.echo)
            click.echo(f"pushed {made} tasks of items still waiting for a label")
        if service:
            connect_service(backend, linked.project_id, service, secret, click.echo)


@main.command()
@config_option
@click.option("--retrain", is_flag=True,
              help="Train a new model in this round whatever the labels since the last "
                   "one (e.g. after changing the training recipe).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@handle_errors
def cycle(config, retrain, no_progress) -> None:
    """Run one round of the real loop against Label Studio; safe to run from cron.

    \b
    1. pull the annotations finished since the last pull (relabels replace labels,
       several annotations per task are resolved by majority, problems are reported);
    2. the first round pushes a random holdout batch (label_studio.holdout: labelled
       by people, used only to evaluate) and a random initial batch (loop.initial);
    3. once loop.min_new_labels new labels arrived: train, evaluate on the holdout,
       score the pool, select loop.batch items with the strategy and push them with
       the model's suggestions, least confident served first;
    4. otherwise, if fewer than loop.min_queued tasks wait, top the queue up.

    \b
    A model whose files went missing or unreadable is trained again by the round that
    needs it; an unfinished round resumes at its first unfinished phase.

    \b
    Exit codes: 0 done or nothing to do (also when another cycle holds the lock),
    1 failed (one line says why; the next run resumes the round), 2 config error.
    The project must be reachable as for `activelearn init`, which this runs first.
    """
    from activelearn.loop.cycle import run_cycle

    cfg = load_needing(config, "label_studio.url", "ACTIVELEARN_LS_URL")
    try:
        run_cycle(cfg, click.echo, progress=not no_progress, retrain=retrain)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: the next cycle resumes the unfinished round", err=True)
        sys.exit(130)


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Base project file [default: configs/fashion_mnist.yaml].")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Rounds of bot labelling + cycle after the first push.")
@click.option("--small", is_flag=True, envvar="ACTIVELEARN_DEMO_SMALL",
              help="A 3,000-image pool and batches of 50: about a minute "
                   "[env ACTIVELEARN_DEMO_SMALL=1].")
@click.option("--noise", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of the bot's labels that are wrong on purpose.")
@click.option("--work-dir", type=click.Path(file_okay=False), default="runs/demo",
              show_default=True, help="Where the demo's state, models, report and Label "
                                      "Studio data go.")
@click.option("--stop-server", is_flag=True,
              help="Stop the demo's Label Studio at the end [default: leave it running].")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.pass_context
@handle_errors
def demo(ctx, config, rounds, small, noise, work_dir, stop_server, no_progress) -> None:
    """Watch the whole loop run unattended: a local Label Studio, the bot annotator
    labelling, a few `cycle` rounds, and a report at the end.

    Starts a Label Studio server of its own (data in WORK_DIR/label-studio; a later demo
    reuses it), writes the demo's project file to WORK_DIR/demo.yaml (use it with
    `status`, `cycle`, `bot`, `report`), pushes a holdout and an initial batch, then
    `--rounds` times lets the bot label every open task with the dataset's ground truth
    and runs a cycle (pull, train, evaluate on the holdout, select, push). Running it
    again continues the same project with more rounds.
    """
    from activelearn.loop.demo import demo_config, local_label_studio, run_demo, use_token_file

    base = load(config)
    folder = Path(work_dir)
    server = local_label_studio(folder / "label-studio", click.echo)
    try:
        use_token_file(server)
        cfg = demo_config(base, folder, server.url, small)
        curve = run_demo(cfg, rounds, noise, click.echo, not no_progress)
        click.echo("\n== report")
        ctx.invoke(main.commands["report"], config=cfg.path)
    finally:
        if stop_server and server.started:
            server.stop()
    click.echo("\nholdout accuracy by round (labels trained on):")
    for round_, labels, accuracy in curve:
        click.echo(f"  round {round_:>2}  {labels:>6} labels  accuracy {accuracy:.4f}")
    login = server.data_dir / "admin_username"
    user = login.read_text().strip() if login.exists() else "admin@example.com"
    click.echo(f"\nproject file: {cfg.path}")
    if not stop_server:
        click.echo(f"Label Studio: {server.url} (log in as {user}, password in "
                   f"{server.data_dir / 'admin_password'}); stop it with "
                   f"`bash scripts/label_studio.sh stop {server.pid}`")


@main.command()
@config_option
@click.option("--accuracy", "accuracies", type=click.FloatRange(0, 1), multiple=True,
              metavar="P", help="One simulated annotator that is right with probability P; "
                                "repeat for several (bot-1, bot-2, ...). [default: 1.0]")
@click.option("--noise", type=click.FloatRange(0, 1), metavar="P",
              help="Shorthand for one annotator with --accuracy 1-P.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Annotate at most N tasks per annotator in this run.")
@click.option("--seed", type=int, default=None,
              help="Seed of the wrong answers [default: project.seed].")
@click.option("--follow-overlap", is_flag=True,
              help="Act as one team: each task gets only the annotations its overlap still "
                   "asks for, from the annotators in turn (default: every annotator "
                   "annotates every task).")
@click.option("--seconds", "seconds", multiple=True, metavar="CLASS=S",
              help="Report S seconds as the lead time of each annotation of an item whose "
                   "true class is CLASS (a name or an index); repeat for several classes.")
@click.option("--seconds-default", type=float, metavar="S",
              help="The lead time of the classes --seconds does not name [default: none "
                   "sent].")
@handle_errors
def bot(config, accuracies, noise, limit, seed, follow_overlap, seconds,
        seconds_default) -> None:
    """Annotate the open tasks of the project's Label Studio project with the dataset's
    ground truth, so the loop can run unattended (demos, tests, experiments).

    Each annotator is its own Label Studio user (bot-1@activelearn.invalid, ...) and
    annotates every task it has not annotated yet (with --follow-overlap: only as many
    as the task's overlap asks for, in turn): the true class with probability
    --accuracy, else another class at random (the same choice on every rerun). Tasks of
    items without a ground-truth label are skipped. With --seconds each annotation
    carries a lead time (seconds spent, as Label Studio's editor records it) that depends
    on the item's true class: `report` shows it by class and by annotator. Running it
    again annotates only the tasks pushed since. The project is found as `activelearn
    init` links it; the API token comes from $LABEL_STUDIO_API_KEY or
    $LABEL_STUDIO_API_KEY_FILE.

    \b
    Examples:
      activelearn bot --config p.yaml                  one perfect annotator
      activelearn bot --config p.yaml --noise 0.1      one annotator, 10% wrong
      activelearn bot --config p.yaml --accuracy 0.95 --accuracy 0.7
      activelearn bot --config p.yaml --accuracy 0.95 --accuracy 0.7 --follow-overlap
      activelearn bot --config p.yaml --seconds Shirt=20 --seconds-default 6
    """
    from activelearn.annotation.bot import annotate_open_tasks, class_seconds
    from activelearn.annotation.label_studio.client import LabelStudioBackend
    from activelearn.data.sources import open_pool
    from activelearn.kinds import UNKNOWN_LABEL
    from activelearn.loop.project import linked_project
    from activelearn.state import Store

    if noise is not None and accuracies:
        raise click.UsageError("give --noise or --accuracy, not both")
    cfg = load_needing(config, "label_studio.url", "ACTIVELEARN_LS_URL")
    try:
        lead_times = class_seconds(seconds, list(cfg.classes), seconds_default)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    ls = cfg.label_studio
    # the server and the project first: a wrong URL or title fails before a long load
    backend = LabelStudioBackend.connect(ls.url, workers=ls.parallel_requests)
    project_id = linked_project(backend, cfg.work_dir / "state.sqlite",
                                ls.project_title or cfg.project.name).project_id
    backend.check_classes(project_id, list(cfg.classes))
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        pool = open_pool(cfg, store, refresh=False)
    truth = {item_id: int(label) for item_id, label in zip(pool.item_ids, pool.labels)
             if label != UNKNOWN_LABEL}
    chosen = [1.0 - noise] if noise is not None else list(accuracies) or [1.0]
    report = annotate_open_tasks(backend, project_id, truth, list(cfg.classes), chosen,
                                 seed=cfg.project.seed if seed is None else seed, limit=limit,
                                 follow_overlap=follow_overlap, seconds=lead_times)
    click.echo(f"Label Studio project {project_id}: {report.tasks} tasks")
    for annotator in report.annotators:
        click.echo(annotator.summary())


