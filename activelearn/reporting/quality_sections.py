"""The annotation-quality sections of `activelearn report`: agreement between annotators
(with the kappas and gold accuracy), duplicates and leakage found by `activelearn clean`,
and the label-error reviews and relabel requests the cycle sent to Label Studio.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from activelearn.files import write_csv
from activelearn.loop.clean_files import write_duplicate_csvs
from activelearn.quality import agreement
from activelearn.reporting import plots
from activelearn.reporting.page import Section, fmt
from activelearn.state import Store
from activelearn.state.duplicates import CLEANED_META


def agreement_section(votes: dict[str, list[tuple[str | None, int]]], out_dir: Path,
                      gold: list[tuple[str | None, int, int]] | None = None,
                      model: list[tuple[str | None, int, int]] | None = None) -> Section:
    """(e) how often annotators agree on items several of them annotated, the kappas,
    each annotator's accuracy on gold items and agreement with the model's suggestions
    (see Store.gold_votes and model_votes)."""
    section = Section("agreement", "Agreement between annotators")
    found = agreement.agreement(votes)
    if gold:
        section.table([["annotator", "gold items annotated", "correct", "gold accuracy"],
                       *_score_rows(agreement.gold_accuracy(gold))],
                      "annotations of gold items (trusted labels from quality.gold_file)")
    if model:
        scores = agreement.gold_accuracy(model)
        section.table([["annotator", "annotations with a suggestion", "chose it",
                        "agreement with the model"],
                       *_score_rows(scores)],
                      "each annotation compared with the class the model suggested when it "
                      "pushed the task, before anyone labelled it: the model is an "
                      "independent third opinion, so unlike agreement between two "
                      "annotators this tells which of them errs more")
        section.files.append(write_csv(out_dir / "model_agreement.csv", [
            ["annotator", "items", "chose_suggestion", "share"],
            *[[g.annotator, g.items, g.correct, g.accuracy] for g in scores]]))
    if found is None:
        if not gold and not model:
            section.no_data("no item has been annotated more than once (label_studio."
                            "overlap decides how many annotators see a task).")
        return section
    if any(p.votes for p in found.annotators):
        plots.agreement_bars(found, out_dir / "agreement.png")
        section.image("agreement.png", "each annotator's agreement with the others")
    section.table([
        ["multi-annotated items", "all annotators agree", "share", "ties (left unlabelled)"],
        [found.items, found.unanimous, fmt(found.unanimous_share, ".3f"), found.ties],
    ])
    rows: list[list[object]] = [["annotator", "multi-annotated items", "compared",
                                 "agreed with the others", "share"]]
    rows += [[p.annotator, p.items, p.votes, p.agreed, fmt(p.share, ".3f")]
             for p in found.annotators]
    section.table(rows, "each annotation is compared with the majority label of the item's "
                        "other annotations; where those tie it is not compared")
    _kappa_tables(section, votes)
    section.files.append(write_csv(out_dir / "agreement.csv", [
        ["annotator", "items", "compared", "agreed", "share"],
        *[[p.annotator, p.items, p.votes, p.agreed, "" if p.share is None else p.share]
          for p in found.annotators]]))
    return section


def _score_rows(scores: list[agreement.GoldScore]) -> list[list[object]]:
    return [[g.annotator, g.items, g.correct, fmt(g.accuracy, ".3f")] for g in scores]


def _kappa_tables(section: Section, votes: dict[str, list[tuple[str | None, int]]]) -> None:
    """Cohen's kappa per pair of annotators and Fleiss' kappa over all of them."""
    pairs = agreement.pairwise_kappa(votes)
    if pairs:
        section.table([["annotators", "items both annotated", "agreed", "Cohen's kappa"],
                       *[[f"{p.first} / {p.second}", p.items, fmt(p.observed, ".3f"),
                          fmt(p.kappa, ".3f")] for p in pairs]],
                      "kappa: agreement corrected for what the two would reach by chance")
    found = agreement.fleiss(votes)
    if found is not None:
        section.table([["annotations per item", "items", "left out", "Fleiss' kappa"],
                       [found.raters, found.items, found.excluded, fmt(found.kappa, ".3f")]],
                      "Fleiss' kappa needs the same number of annotations on every item: "
                      "items with another count are left out")


def duplicates_section(store: Store | None, out_dir: Path) -> Section:
    """Duplicate groups and leakage as `activelearn clean` recorded them (store None: no
    state yet)."""
    section = Section("duplicates", "Duplicates and leakage")
    if store is None:
        section.no_data("no state yet: run activelearn clean or activelearn cycle.")
        return section
    if store.meta.get(CLEANED_META) is None:
        section.no_data("the pool has not been checked for duplicates yet (activelearn "
                        "clean; cycle runs it when new items appear).")
        return section
    groups, skipped = store.duplicates.groups(), store.duplicates.skipped()
    section.files += [p.name for p in write_duplicate_csvs(out_dir, groups, skipped)]
    counts = store.duplicates.pair_counts()
    section.table([
        ["groups", "items in groups", "exact pairs", "near pairs", "leakage pairs",
         "groups with leakage", "skipped images"],
        [len(groups), sum(len(g.members) for g in groups), counts.get("exact", 0),
         counts.get("near", 0), counts["leakage"], sum(g.leaks for g in groups), len(skipped)]],
        "only a group's representative is selected; pool items of a group that holds a "
        "holdout/validation/test item never are")
    rows: list[list[object]] = [["group", "kind", "representative", "members", "splits"]]
    rows += [[g.group_id, g.kind, g.representative, len(g.members),
              ", ".join(sorted({s for _, _, s in g.members}))] for g in groups[:50]]
    section.table(rows, f"the first {min(len(groups), 50)} of {len(groups)} groups; all "
                        "are in duplicates.csv")
    return section


def review_section(store: Store | None, out_dir: Path) -> Section:
    """The label-error reviews (quality.review_per_round) and the requests for another
    annotation of disputed items (quality.relabel_fraction), round by round (store None:
    no state yet)."""
    section = Section("review", "Label-error review and relabel requests")
    if store is None:
        section.no_data("no state yet: run activelearn cycle.")
        return section
    reviews, requests = store.reviews.rows(), store.relabels.all()
    if not reviews and not requests:
        section.no_data("no item was sent back for review or another annotation "
                        "(quality.review_per_round and quality.relabel_fraction are off "
                        "or found nothing).")
        return section
    if reviews:
        _review_tables(section, reviews, out_dir)
    if requests:
        per_round: Counter = Counter(round_ for _, round_, *_ in requests)
        raised: Counter = Counter(round_ for _, round_, _, _, applied in requests if applied)
        section.table([["round", "disputed items asked again", "raised in Label Studio"],
                       *[[r, per_round[r], raised[r]] for r in sorted(per_round)]],
                      "an item whose annotators disagreed gets its task's overlap raised "
                      "by one, so one more annotator sees it")
        section.files.append(write_csv(out_dir / "relabel_requests.csv", [
            ["item_id", "round", "annotations_when_asked", "overlap_asked", "raised"],
            *[[i, r, n, o, int(bool(a))] for i, r, n, o, a in requests]]))
    return section


def _review_tables(section: Section, reviews: list[dict], out_dir: Path) -> None:
    rounds = sorted({r["round"] for r in reviews})
    rows: list[list[object]] = [["round", "sent", "waiting", "answered", "label changed",
                                 "to the model's suggestion", "share changed"]]
    for round_ in rounds:
        mine = [r for r in reviews if r["round"] == round_]
        answered = [r for r in mine if r["state"] == "done"]
        changed = [r for r in answered if r["answer"] != r["label"]]
        rows.append([round_, len(mine), len(mine) - len(answered), len(answered),
                     len(changed), sum(r["answer"] == r["suggestion"] for r in changed),
                     fmt(len(changed) / len(answered), ".3f") if answered else "-"])
    section.table(rows, "items whose label the out-of-fold model contradicted with high "
                        "confidence, sent back as review tasks; an answer replaces the label "
                        "(the old one stays in the label history)")
    section.files.append(write_csv(out_dir / "reviews.csv", [
        ["item_id", "round", "state", "label", "suggestion", "score", "confidence", "answer"],
        *[[r["item_id"], r["round"], r["state"], r["label"], r["suggestion"], r["score"],
           r["confidence"], "" if r["answer"] is None else r["answer"]] for r in reviews]]))
