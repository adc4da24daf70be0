"""The command line: the one place that turns errors into messages and exit codes.

Exit codes: 0 success, 1 runtime failure, 2 usage or config error, 130 interrupted.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click

from activelearn.config import DEFAULT_CONFIG, Config, load_config, with_overrides
from activelearn.errors import ActiveLearnError, ConfigError

log = logging.getLogger("activelearn")


def _handle_errors(fn):
    """Run a command; an ActiveLearnError becomes one line on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except ActiveLearnError as exc:
            if ctx.obj.get("debug"):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _load(config: str | None) -> Config:
    if config is None:
        if not DEFAULT_CONFIG.exists():
            raise ConfigError("no --config given and the default configs/fashion_mnist.yaml "
                              "is not here; pass --config FILE")
        config = str(DEFAULT_CONFIG)
    return load_config(config)


def _load_needing(config: str | None, key: str, env: str) -> Config:
    """The project file of a command that needs a URL (key, e.g. "jobs.redis_url") set."""
    cfg = _load(config)
    section, name = key.split(".")
    if not getattr(getattr(cfg, section), name):
        raise ConfigError(f"{cfg.path}: {key}: not set; set it in the project file or {env}")
    return cfg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
@click.version_option(package_name="activelearn")
@click.pass_context
def main(ctx: click.Context, debug: bool, verbose: bool) -> None:
    """activelearn: train a CNN on the labels so far, ask for the most informative images
    next, and measure how much accuracy each label buys."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Project YAML file [default: configs/fashion_mnist.yaml].")
@click.option("--strategy", "strategies", multiple=True, metavar="NAME",
              help="Query strategy; repeat for several. 'random' is added as the baseline "
                   "unless --no-baseline. [default: the config's strategy]")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Number of seeds per strategy (seed, seed+1, ... from project.seed).")
@click.option("--initial", type=click.IntRange(min=1), help="Random labels to start with.")
@click.option("--batch", type=click.IntRange(min=1), help="Labels added per round.")
@click.option("--budget", type=click.IntRange(min=1), help="Stop at this many labels.")
@click.option("--limit", type=click.IntRange(min=1),
              help="Use only this many pool items (stratified), for quick runs.")
@click.option("--test-limit", type=click.IntRange(min=1),
              help="Use only this many test-set items (stratified), for quick runs.")
@click.option("--no-baseline", is_flag=True, help="Do not add the random baseline.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output directory [default: WORK_DIR/simulate].")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@_handle_errors
def simulate(config, strategies, seeds, initial, batch, budget, limit, test_limit,
             no_baseline, out, no_progress) -> None:
    """Run an active-learning experiment with a simulated annotator (the dataset's
    ground truth) and compare strategies against random sampling.

    Writes rounds.csv, rounds.json and accuracy.png to --out and prints a summary:
    final accuracy, area under the curve and label efficiency against random.
    """
    from activelearn import results
    from activelearn.simulate import simulate as run
    from activelearn.sources import load_source

    cfg = _load(config)
    cfg = with_overrides(cfg, "loop", initial=initial, batch=batch, budget=budget)
    cfg = with_overrides(cfg, "data", limit=limit, test_limit=test_limit)
    names = list(dict.fromkeys(strategies or [cfg.strategy.name]))
    if not no_baseline and "random" not in names:
        names.insert(0, "random")
    out_dir = Path(out) if out else cfg.work_dir / "simulate"
    pool = load_source(cfg.data, cfg.classes)
    if pool.skipped:
        click.echo(f"skipped {len(pool.skipped)} unusable images (see the warnings above)",
                   err=True)
    click.echo(f"pool: {len(pool)} items; strategies: {', '.join(names)}; "
               f"seeds: {seeds}; results in {out_dir}")
    seed_list = [cfg.project.seed + k for k in range(seeds)]
    try:
        records = run(cfg, pool, names, seed_list, out_dir, click.echo, not no_progress)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: results of the finished rounds are in {out_dir}", err=True)
        sys.exit(130)
    click.echo("")
    click.echo(results.format_summary(results.summarize(records)))
    click.echo(f"\nwrote {out_dir / 'rounds.csv'}, {out_dir / 'rounds.json'}, "
               f"{out_dir / 'accuracy.png'}")


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Project YAML file [default: configs/fashion_mnist.yaml].")
@_handle_errors
def init(config) -> None:
    """Create (or find) the project's Label Studio project and link it to the state.

    The project is found by the id stored in WORK_DIR/state.sqlite, else by its title
    (label_studio.project_title, default project.name), else created: a Choices
    interface over the classes, the annotation rules (label_studio.instructions),
    uncertainty sampling and a Data Manager tab listing the least confident tasks first.
    The server is label_studio.url (or $ACTIVELEARN_LS_URL); the API token comes only
    from $LABEL_STUDIO_API_KEY or the file named by $LABEL_STUDIO_API_KEY_FILE.
    """
    from activelearn.annotation.label_studio import LabelStudioBackend
    from activelearn.project import init_project
    from activelearn.state import Store

    cfg = _load_needing(config, "label_studio.url", "ACTIVELEARN_LS_URL")
    ls = cfg.label_studio
    backend = LabelStudioBackend.connect(ls.url, workers=ls.parallel_requests)
    store = Store(cfg.work_dir / "state.sqlite")
    try:
        linked = init_project(backend, store, ls.project_title or cfg.project.name,
                              list(cfg.classes), ls.instructions)
    finally:
        store.close()
    click.echo(f"Label Studio project {linked.project_id} ({linked.how}): "
               f"{backend.url}/projects/{linked.project_id}")


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Project YAML file [default: configs/fashion_mnist.yaml].")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@_handle_errors
def cycle(config, no_progress) -> None:
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
    Exit codes: 0 done or nothing to do (also when another cycle holds the lock),
    1 failed (one line says why; the next run resumes the round), 2 config error.
    The project must be reachable as for `activelearn init`, which this runs first.
    """
    from activelearn.cycle import run_cycle

    cfg = _load_needing(config, "label_studio.url", "ACTIVELEARN_LS_URL")
    try:
        run_cycle(cfg, click.echo, progress=not no_progress)
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
@_handle_errors
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
    from activelearn.demo import demo_config, local_label_studio, run_demo, use_token_file

    base = _load(config)
    folder = Path(work_dir)
    server = local_label_studio(folder / "label-studio", click.echo)
    try:
        use_token_file(server)
        cfg = demo_config(base, folder, server.url, small)
        curve = run_demo(cfg, rounds, noise, click.echo, not no_progress)
        if "report" in main.commands:
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
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Project YAML file: the Redis URL and queue names [default: "
                   "configs/fashion_mnist.yaml].")
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="Queue to take jobs from; repeat for several. [default: the config's "
                   "jobs.gpu_queue and jobs.cpu_queue]")
@click.option("--device", default="auto", show_default=True,
              help="auto | cpu | cuda | cuda:N: where this worker trains and scores.")
@click.option("--threads", type=click.IntRange(min=0), default=0,
              help="torch CPU threads (0 = torch's default).")
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@click.option("--name", default=None, help="Worker name [default: RQ's, host.pid].")
@_handle_errors
def worker(config, queues, device, threads, burst, name) -> None:
    """Run an RQ worker for training, scoring and selection jobs.

    Jobs run inside the worker process (no fork per job): CUDA is safe to use and the
    pool and the latest model stay loaded between jobs. Start one per GPU (see
    workers/gpu_worker.sh, which pins the GPU through CUDA_VISIBLE_DEVICES) or a few
    with one thread each on CPU. Run it from the directory the controller runs in (or
    use absolute paths in the project file): jobs find the project's files there.
    The Redis URL is jobs.redis_url or $ACTIVELEARN_REDIS_URL.
    """
    from activelearn.jobs.executor import RQExecutor
    from activelearn.jobs.worker import run_worker

    cfg = _load_needing(config, "jobs.redis_url", "ACTIVELEARN_REDIS_URL")
    RQExecutor(cfg.jobs)  # one clear line when Redis does not answer
    names = list(queues) or [cfg.jobs.gpu_queue, cfg.jobs.cpu_queue]
    try:
        run_worker(cfg.jobs.redis_url, names, device, threads, burst, cfg.jobs.heartbeat, name,
                   announce=lambda line: click.echo(line, err=True))
    except KeyboardInterrupt:
        sys.exit(130)


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Project YAML file [default: configs/fashion_mnist.yaml].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
@click.option("--queues", "only_queues", is_flag=True, help="Only the RQ queues and workers.")
@_handle_errors
def status(config, as_json, only_queues) -> None:
    """Where the project stands: current round and phase, model version, labels (train /
    holdout), tasks waiting in Label Studio, annotations pulled since the last training,
    the last error, and the RQ queues (queued, running and failed jobs, workers) when
    jobs.redis_url is set. Reads the state only: it answers while Label Studio is down.
    Exits 1 when the configured Redis does not answer.
    """
    import json

    from activelearn.status import project_status

    cfg = _load(config)
    if only_queues and not cfg.jobs.redis_url:
        raise ConfigError(f"{cfg.path}: jobs.redis_url: not set, so jobs run inline and "
                          "there are no queues; set it or ACTIVELEARN_REDIS_URL")
    found = project_status(cfg)
    if as_json:
        click.echo(json.dumps(found, indent=2))
    else:
        for line in _state_report(found, only_queues):
            click.echo(line)
    if found["queues"] and "error" in found["queues"]:
        sys.exit(1)


def _state_report(found: dict, only_queues: bool = False) -> list[str]:
    from activelearn.status import format_queues, format_status

    return format_queues(found["queues"]) if only_queues else format_status(found)


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Project YAML file [default: configs/fashion_mnist.yaml].")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the page, plots and CSV files [default: WORK_DIR/report].")
@click.option("--simulate", "simulate_dir", type=click.Path(exists=True), default=None,
              help="A simulate output folder (or its rounds.json) to compare strategies "
                   "from [default: WORK_DIR/simulate when it holds a rounds.json].")
@_handle_errors
def report(config, out, simulate_dir) -> None:
    """Write an HTML report with PNG plots and CSV files: where the project stands and
    whether active learning pays off. Reads the state only; Label Studio is not asked.

    \b
    - accuracy and macro-F1 on the holdout (and test) split against train labels;
    - simulate runs: every strategy with its spread over seeds, label efficiency
      against random;
    - the latest model's per-class F1 and confusion matrix;
    - annotation throughput: annotations per hour, median lead time per annotator;
    - agreement on items that several annotators labelled.

    A section without data says so. Open OUT/index.html in a browser; the folder can be
    copied elsewhere as a whole.
    """
    from activelearn.report import read_simulate, write_report

    cfg = _load(config)
    out_dir = Path(out) if out else cfg.work_dir / "report"
    sim_path = Path(simulate_dir) if simulate_dir else cfg.work_dir / "simulate"
    records = None
    if simulate_dir or (sim_path / "rounds.json").exists():
        records = read_simulate(sim_path)
    written = write_report(out_dir, cfg.project.name, cfg.classes,
                           cfg.work_dir / "state.sqlite", records, str(sim_path))
    click.echo(f"wrote {written.page} with {len(written.images)} plots and "
               f"{len(written.files)} CSV files")
    if written.empty:
        click.echo(f"no data yet for: {'; '.join(written.empty)}")


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Project YAML file [default: configs/fashion_mnist.yaml].")
@_handle_errors
def clean(config) -> None:
    """Find exact and near-duplicate images in the pool and between the pool and the
    holdout/validation/test splits (leakage), and record them as groups in the state:
    only a group's representative is ever selected, and pool items that duplicate an
    evaluation image never are. `cycle` runs this itself when new items appear.

    Writes WORK_DIR/clean/duplicates.csv (a row per group member) and skipped.csv (the
    images the source could not use). cleaning.near_threshold sets how alike two images
    must be.
    """
    from activelearn.clean import record_items, run_clean
    from activelearn.sources import load_source
    from activelearn.state import Store

    cfg = _load(config)
    pool = load_source(cfg.data, cfg.classes)
    store = Store(cfg.work_dir / "state.sqlite")
    try:
        record_items(store, pool, cfg.splits, cfg.project.seed)
        out_dir = cfg.work_dir / "clean"
        summary = run_clean(pool, store, cfg.cleaning, out_dir)
    finally:
        store.close()
    for line in summary.lines():
        click.echo(line)
    click.echo(f"wrote {out_dir / 'duplicates.csv'} and {out_dir / 'skipped.csv'}")


def _linked_project_id(backend, cfg: Config) -> int:
    """The project `activelearn init` linked (the id in WORK_DIR/state.sqlite, for this
    server), else the one with the project's title; a BackendError when there is none."""
    from activelearn.errors import BackendError
    from activelearn.project import PROJECT_ID_KEY, URL_KEY
    from activelearn.state import Store

    state = cfg.work_dir / "state.sqlite"
    if state.exists():  # never create a state just to look into it
        store = Store(state)
        try:
            stored, url = store.get_meta(PROJECT_ID_KEY), store.get_meta(URL_KEY)
        finally:
            store.close()
        if stored is not None and url == backend.url and backend.project_exists(int(stored)):
            return int(stored)
    title = cfg.label_studio.project_title or cfg.project.name
    found = backend.find_project(title)
    if found is None:
        raise BackendError(f"no Label Studio project {title!r} at {backend.url}; "
                           "run activelearn init")
    return found


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Project YAML file [default: configs/fashion_mnist.yaml].")
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
@_handle_errors
def bot(config, accuracies, noise, limit, seed, follow_overlap) -> None:
    """Annotate the open tasks of the project's Label Studio project with the dataset's
    ground truth, so the loop can run unattended (demos, tests, experiments).

    Each annotator is its own Label Studio user (bot-1@activelearn.invalid, ...) and
    annotates every task it has not annotated yet (with --follow-overlap: only as many
    as the task's overlap asks for, in turn): the true class with probability
    --accuracy, else another class at random (the same choice on every rerun). Tasks of
    items without a ground-truth label are skipped. Running it again annotates only the
    tasks pushed since. The project is found as `activelearn init` links it; the API
    token comes from $LABEL_STUDIO_API_KEY or $LABEL_STUDIO_API_KEY_FILE.

    \b
    Examples:
      activelearn bot --config p.yaml                  one perfect annotator
      activelearn bot --config p.yaml --noise 0.1      one annotator, 10% wrong
      activelearn bot --config p.yaml --accuracy 0.95 --accuracy 0.7
      activelearn bot --config p.yaml --accuracy 0.95 --accuracy 0.7 --follow-overlap
    """
    from activelearn.annotation.bot import annotate_open_tasks
    from activelearn.annotation.label_studio import LabelStudioBackend
    from activelearn.sources import UNKNOWN_LABEL, load_source

    if noise is not None and accuracies:
        raise click.UsageError("give --noise or --accuracy, not both")
    cfg = _load_needing(config, "label_studio.url", "ACTIVELEARN_LS_URL")
    ls = cfg.label_studio
    # the server and the project first: a wrong URL or title fails before a long load
    backend = LabelStudioBackend.connect(ls.url, workers=ls.parallel_requests)
    project_id = _linked_project_id(backend, cfg)
    backend.check_classes(project_id, list(cfg.classes))
    pool = load_source(cfg.data, cfg.classes)
    truth = {item_id: int(label) for item_id, label in zip(pool.item_ids, pool.labels)
             if label != UNKNOWN_LABEL}
    chosen = [1.0 - noise] if noise is not None else list(accuracies) or [1.0]
    report = annotate_open_tasks(backend, project_id, truth, list(cfg.classes), chosen,
                                 seed=cfg.project.seed if seed is None else seed, limit=limit,
                                 follow_overlap=follow_overlap)
    click.echo(f"Label Studio project {project_id}: {report.tasks} tasks")
    for annotator in report.annotators:
        click.echo(annotator.summary())


@main.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Project YAML file [default: configs/fashion_mnist.yaml].")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "imagefolder"]),
              required=True, help="labels.csv, labels.jsonl, or image folders per split "
                                  "and class (with labels.csv).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder to write to; must be empty or new unless --force.")
@click.option("--force", is_flag=True,
              help="Write into a non-empty --out, replacing an earlier export there "
                   "(labels.*, classes.txt, split folders); other files are kept.")
@_handle_errors
def export(config, fmt, out, force) -> None:
    """Export the labelled items of WORK_DIR/state.sqlite: each item's split (train or
    holdout), label (name and index), annotators, number of annotations, round, source
    and path. classes.txt lists the class names, one per line, in label-index order.

    \b
    csv          OUT/labels.csv
    jsonl        OUT/labels.jsonl (annotators as a list, no path as null)
    imagefolder  OUT/SPLIT/CLASS/ITEM.png (a copy of the item's file when it has one),
                 readable by torchvision.datasets.ImageFolder(OUT/SPLIT); OUT/labels.csv
                 names each item's file. Class folders are the class names with '/' as '_'.
    """
    from activelearn import export as exporting
    from activelearn.sources import load_source

    cfg = _load(config)
    classes = list(cfg.classes)
    items = exporting.read_labelled(cfg.work_dir / "state.sqlite")
    exporting.check_labels(items, classes, cfg.path)
    out_dir = Path(out)
    exporting.prepare_out(out_dir, force)
    result = exporting.write_export(items, classes, fmt, out_dir,
                                    lambda: load_source(cfg.data, classes))
    click.echo(result.summary())


if __name__ == "__main__":
    main()
