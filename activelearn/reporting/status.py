"""`activelearn status`: where a project stands, from its state (and RQ, when used).

Read from state.sqlite only (and Redis for the queues): it answers while Label Studio is
down, and fast on large projects. "Tasks waiting" are the pushed tasks without a label
as of the last pull.
"""

from __future__ import annotations

import time
from typing import Any

from activelearn.config import Config
from activelearn.data.decoded import format_size
from activelearn.errors import ActiveLearnError
from activelearn.kinds import Split
from activelearn.loop.retention import disk_line, disk_usage
from activelearn.loop.stopping import holdout_points
from activelearn.project import Project
from activelearn.quality import agreement
from activelearn.quality.forecast import wilson_interval
from activelearn.quality.stopping import correct_of, forecast_lines, outlook
from activelearn.state import Store


def project_status(project: Project) -> dict[str, Any]:
    """The status as plain data (what `status --json` prints)."""
    cfg, path = project.cfg, project.state_path
    out: dict[str, Any] = {"project": cfg.project.name, "state": str(path), "round": None,
                           "model_version": None, "labels": {"train": 0, "holdout": 0},
                           "tasks_waiting": {"train": 0, "holdout": 0},
                           "annotations_since_training": 0, "holdout": None,
                           "last_pull": None, "last_error": None, "queues": None,
                           "agreement": None, "review": None, "relabel": None,
                           "forecast": None, "stopping": None, "disk": _disk(project)}
    if project.has_state():
        with project.store(readonly=True) as store:
            _from_state(store, out)
            _outlook(store, cfg, out)
    if cfg.jobs.redis_url:
        out["queues"] = _queues(cfg)
    return out


def _from_state(store: Store, out: dict[str, Any]) -> None:
    out["round"] = store.rounds.last()
    trained = [r for r in store.rounds.all() if r.model_version]
    last_trained = trained[-1] if trained else None
    out["model_version"] = last_trained.model_version if last_trained else None
    labelled = store.labels.counts()
    for split in (Split.TRAIN, Split.HOLDOUT):
        out["labels"][split.value] = labelled.get(split.value, 0)
        out["tasks_waiting"][split.value] = store.tasks.waiting(split.value)
    out["annotations_since_training"] = store.annotations.count(
        last_trained.round if last_trained else -1)
    out["last_pull"] = _iso(store.rounds.last_phase("pull"))
    counts = {who or agreement.UNKNOWN_ANNOTATOR: n
              for who, n in store.annotations.per_annotator().items()}
    if counts:
        out["agreement"] = agreement.quality_summary(
            counts, store.annotations.multi_annotated(), store.gold.votes(),
            store.annotations.model_votes())
    _quality_work(store, out)
    failure = store.rounds.last_failure()
    if failure is not None:
        failure["at"] = _iso(failure["at"])
        out["last_error"] = failure


def _outlook(store: Store, cfg: Config, out: dict[str, Any]) -> None:
    """The latest holdout accuracy with its 95% Wilson interval (ci_low, ci_high), the
    learning-curve forecast and the stopping suggestion (see quality.stopping)."""
    evaluations = store.metrics.evaluations()
    holdout = [e for e in evaluations if e.split == "holdout"]
    if holdout:
        last = holdout[-1]
        correct, items = correct_of(last.payload)
        low, high = wilson_interval(correct, items)
        out["holdout"] = {"round": last.round, "accuracy": last.payload["accuracy"],
                          "macro_f1": last.payload["macro_f1"],
                          "items": last.payload.get("items"), "correct": correct,
                          "ci_low": low, "ci_high": high, "ci_level": 0.95}
    found = outlook(holdout_points(evaluations, out["labels"]["train"]), cfg.loop)
    out["forecast"] = {**found.to_dict(), "lines": forecast_lines(found)}
    out["stopping"] = {"stop": found.stop is not None, "criterion": found.stop_key,
                       "reason": found.stop, "suggestion": found.suggestion}


def _quality_work(store: Store, out: dict[str, Any]) -> None:
    """Label-error reviews by state (and how many answers changed the label), and the
    requests for another annotation of disputed items (raised in Label Studio or not)."""
    reviews = store.reviews.rows()
    if reviews:
        out["review"] = {"tasks": len(reviews),
                         **{state: sum(r["state"] == state for r in reviews)
                            for state in ("selected", "pushed", "done")},
                         "changed": sum(r["answer"] is not None and r["answer"] != r["label"]
                                        for r in reviews)}
    requests = store.relabels.all()
    if requests:
        out["relabel"] = {"requests": len(requests),
                          "raised": sum(applied for *_, applied in requests)}


def _disk(project: Project) -> dict[str, Any]:
    """What the project's artifacts take (loop/retention.py), or why the store did not
    say (status answers anyway)."""
    try:
        return disk_usage(project)
    except ActiveLearnError as exc:
        return {"error": str(exc)}


def _queues(cfg: Config) -> dict[str, Any]:
    from activelearn.jobs.executor import queue_status

    try:
        return queue_status(cfg.jobs)
    except ActiveLearnError as exc:
        return {"error": str(exc)}


def format_status(status: dict[str, Any]) -> list[str]:
    """The status for people, a fact per line."""
    lines = [f"project {status['project']} ({status['state']})"]
    r = status["round"]
    if r is None:
        lines.append("no round yet: run activelearn cycle")
    else:
        lines.append(f"round {r['round']}: {r['status']}, phase {r['phase'] or '-'}")
    lines.append(f"model: {status['model_version'] or 'none yet'}")
    if status["holdout"]:
        h = status["holdout"]
        lines.append(f"holdout accuracy {h['accuracy']:.4f} (95% CI {h['ci_low']:.4f}-"
                     f"{h['ci_high']:.4f}), macro-F1 {h['macro_f1']:.4f} (round "
                     f"{h['round']}, {h['items']} items)")
    if status.get("forecast"):
        lines += [*status["forecast"]["lines"], status["stopping"]["suggestion"]]
    labels, waiting = status["labels"], status["tasks_waiting"]
    lines.append(f"labels: {labels['train']} train, {labels['holdout']} holdout")
    lines.append(f"tasks waiting in Label Studio: {waiting['train']} train, "
                 f"{waiting['holdout']} holdout (as of the last pull, "
                 f"{status['last_pull'] or 'never'})")
    lines.append(f"annotations pulled since the last training: "
                 f"{status['annotations_since_training']}")
    lines += format_agreement(status.get("agreement"))
    if status.get("review"):
        r = status["review"]
        lines.append(f"label-error review: {r['tasks']} items sent ({r['pushed']} waiting, "
                     f"{r['done']} answered, {r['changed']} labels changed)")
    if status.get("relabel"):
        r = status["relabel"]
        lines.append(f"another annotation asked for {r['requests']} disputed items "
                     f"({r['raised']} raised in Label Studio)")
    if status["last_error"]:
        e = status["last_error"]
        lines.append(f"last error: round {e['round']}, {e['phase']}, {e['at']}: {e['error']}")
    disk = status.get("disk")
    if disk:
        lines.append(f"disk: store unreachable ({disk['error']})" if "error" in disk
                     else disk_line(disk))
    lines += format_queues(status["queues"])
    return lines


def format_agreement(agreement: dict[str, Any] | None) -> list[str]:
    """Per annotator: annotations, agreement with the others, gold accuracy; the kappas."""
    if not agreement:
        return []
    lines = []
    for a in agreement["annotators"]:
        agreed = "-" if a["agreement"] is None else f"{a['agreement']:.3f}"
        gold = "-" if a["gold_accuracy"] is None else \
            f"{a['gold_accuracy']:.3f} on {a['gold_items']}"
        model = "-" if a.get("model_agreement") is None else \
            f"{a['model_agreement']:.3f} on {a['model_items']}"
        lines.append(f"annotator {a['annotator']}: {a['annotations']} annotations, agrees "
                     f"with the others {agreed} ({a['compared']} compared), gold accuracy "
                     f"{gold}, agrees with the model {model}")
    for p in agreement["pairwise_kappa"]:
        kappa = "-" if p["kappa"] is None else f"{p['kappa']:.3f}"
        lines.append(f"Cohen's kappa {p['annotators'][0]} / {p['annotators'][1]}: {kappa} "
                     f"({p['items']} items)")
    f = agreement["fleiss_kappa"]
    if f is not None:
        kappa = "-" if f["kappa"] is None else f"{f['kappa']:.3f}"
        lines.append(f"Fleiss' kappa: {kappa} ({f['items']} items with {f['raters']} "
                     f"annotations; {f['excluded']} with another count left out)")
    return lines


def format_queues(queues: dict[str, Any] | None) -> list[str]:
    if queues is None:
        return ["jobs: inline (no jobs.redis_url)"]
    if "error" in queues:
        return [f"queues: {queues['error']}"]
    lines = []
    for q in queues["queues"]:
        lines.append(f"queue {q['name']}: {q['queued']} queued, {len(q['running'])} running, "
                     f"{q['failed']} failed")
        lines += [f"  running {j['id']}: {j['description']} on {j['worker']}"
                  for j in q["running"]]
        lines += [f"  failed {j['id']}: {j['description']}: {j['error']}"
                  for j in q["recent_failures"]]
    for w in queues["workers"]:
        lines.append(f"worker {w['name']}: {w['state']}, queues {', '.join(w['queues'])}")
        if w.get("decoded"):
            lines.append(f"  {decoded_line(w['decoded'])}")
    return lines


def decoded_line(stats: dict[str, Any]) -> str:
    """A worker's decoded cache (data/decoded.py): "decoded cache: 18,000 hits, 2,000
    misses, 230 MB of 2 GB", what it evicted and dropped, and why its writes are off."""
    line = (f"decoded cache: {stats['hits']:,} hits, {stats['misses']:,} misses, "
            f"{format_size(stats['bytes'])} of {format_size(stats['limit'])}")
    if stats.get("evictions"):
        line += f", {stats['evictions']:,} evicted"
    if stats.get("corrupt"):
        line += f", {stats['corrupt']:,} corrupt rows decoded again"
    if stats.get("off"):
        line += f"; writes off ({stats['off']}): images are decoded without it"
    return line


def _iso(at: float | None) -> str | None:
    return None if at is None else time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(at))
