"""The labelling loop's commands: init, cycle, demo and the bot annotator."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from activelearn.cli.base import (
    config_option,
    handle_errors,
    load,
    load_project,
    main,
    option_message,
)
from activelearn.cli.interrupt import EXIT_CODE, interrupted_line
from activelearn.errors import ConfigError


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
    from activelearn.loop.project import init_project, repush_pending

    project = load_project(config, needing="label_studio.url")
    cfg = project.cfg
    if service:  # both checked before Label Studio is called
        from activelearn.service.connect import connect_service, service_url
        from activelearn.service.secret import webhook_secret

        service, secret = service_url(service), webhook_secret()
    ls, backend = cfg.label_studio, project.backend
    with project.store() as store:
        linked = init_project(backend, store, ls.project_title or cfg.project.name,
                              list(cfg.classes), ls.instructions, relink=relink)
        click.echo(f"Label Studio project {linked.project_id} ({linked.how}): "
                   f"{backend.url}/projects/{linked.project_id}")
        if relink:
            backend.projects.ensure_overlap(linked.project_id, ls.max_overlap)
            pool = project.open_pool(store)
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
    from activelearn.loop.run import run_cycle

    project = load_project(config, needing="label_studio.url")
    try:
        run_cycle(project, click.echo, progress=not no_progress, retrain=retrain)
    except KeyboardInterrupt:
        click.echo(f"{interrupted_line()}: the next cycle resumes the unfinished round",
                   err=True)
        sys.exit(EXIT_CODE)


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
    from activelearn.kinds import UNKNOWN_LABEL
    from activelearn.loop.maintenance import upgrade_state
    from activelearn.loop.project import linked_project

    if noise is not None and accuracies:
        raise click.UsageError("give --noise or --accuracy, not both")
    project = load_project(config, needing="label_studio.url")
    cfg = project.cfg
    try:
        lead_times = class_seconds(seconds, list(cfg.classes), seconds_default)
    except ConfigError as exc:
        raise click.UsageError(option_message(exc)) from None
    upgrade_state(project)  # an earlier release's state: upgraded (backup first)
    # the server and the project first: a wrong URL or title fails before a long load
    backend = project.backend
    project_id = linked_project(project).project_id
    backend.projects.check_classes(project_id, list(cfg.classes))
    with project.store() as store:
        pool = project.open_pool(store, refresh=False)
    truth = {item_id: int(label) for item_id, label in zip(pool.item_ids, pool.labels)
             if label != UNKNOWN_LABEL}
    chosen = [1.0 - noise] if noise is not None else list(accuracies) or [1.0]
    report = annotate_open_tasks(backend, project_id, truth, list(cfg.classes), chosen,
                                 seed=cfg.project.seed if seed is None else seed, limit=limit,
                                 follow_overlap=follow_overlap, seconds=lead_times)
    click.echo(f"Label Studio project {project_id}: {report.tasks} tasks")
    for annotator in report.annotators:
        click.echo(annotator.summary())


