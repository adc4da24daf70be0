"""Label-error review (issue 6, item 4): the whole path against a real Label Studio
server with a noisy bot annotator (the state's bookkeeping: unit/state/test_review.py)."""

from __future__ import annotations

import signal
from collections import Counter

from support.loop import Project, bot, cycle, run_cycle_process


def test_review_tasks_go_to_label_studio_and_their_answers_become_labels(
        project_file, ls_env, ls_project_title):
    # 30% of the bot's labels are wrong: the top of the ranking should be mostly those
    project = project_file(
        data={"limit": 700, "test_limit": 100},
        training={"min_steps": 150},
        loop={"initial": 300, "batch": 20, "budget": 600, "min_new_labels": 20,
              "min_queued": 10},
        label_studio={"project_title": ls_project_title, "holdout": 40},
        quality={"review_per_round": 20, "review_folds": 2, "review_min_confidence": 0.3})
    p = Project(project, ls_env)
    cycle(project)
    bot(project, "--noise", "0.3")
    out = cycle(project)
    assert "round 1: train" in out, out
    assert "20 review tasks pushed" in out, out
    with p.store() as store:
        reviews = store.reviews.rows(1)
        labels_before = store.labels.current()
        tasks_before = store.tasks.by_item()
    assert len(reviews) == 20 and all(r["state"] == "pushed" and r["task_id"] for r in reviews)
    wrong = [r for r in reviews if r["label"] != p.truth[r["item_id"]]]
    print(f"review precision {len(wrong)}/20 (noise 0.3)")
    assert len(wrong) >= 11, reviews  # well above the 30% of a random pick
    assert all(r["label"] == labels_before[r["item_id"]] != r["suggestion"] for r in reviews)

    by_id = {t.id: t for t in p.tasks()}
    review_tasks = [by_id[r["task_id"]] for r in reviews]
    for r, task in zip(reviews, review_tasks):
        assert task.data["kind"] == "review" and task.meta["kind"] == "review"
        assert task.data["current_label"] == p.cfg.classes[r["label"]]
        assert task.data["suggested_label"] == p.cfg.classes[r["suggestion"]]
        # pre-filled with the current label (see activelearn/review.py)
        prediction = task.predictions[0]
        result = prediction["result"] if isinstance(prediction, dict) else prediction.result
        assert result[0]["value"]["choices"] == [task.data["current_label"]]
    # an item keeps one labelling task; its review task is extra
    labelling = [t for t in by_id.values() if t.data.get("kind") != "review"]
    assert len(labelling) == len({t.data["item_id"] for t in labelling}) == len(tasks_before)

    # a reviewer answers with the truth; the next cycle applies it with history
    # the review tasks come first (the review phase runs before select and push)
    assert p.annotate(limit=20) == 20
    out = cycle(project)
    assert "20 review answers" in out, out
    with p.store() as store:
        after = store.labels.current()
        for r in reviews:
            item = r["item_id"]
            assert after[item] == p.truth[item]
            if r["label"] != p.truth[item]:
                assert store.labels.history(item)[-1][:3] == (p.truth[item], r["label"],
                                                             "review")
        history = {r["item_id"]: store.labels.history(r["item_id"]) for r in reviews}
        assert all(s["state"] == "done" for s in store.reviews.rows(1))
    corrected = sum(after[i] != labels_before[i] for i in labels_before)
    assert corrected == len(wrong), (corrected, len(wrong))

    # pulling again changes nothing; the bot's extra vote on a review task (it
    # annotates every task it has not) never outvotes the reviewer
    bot(project, "--noise", "0.3")
    out = cycle(project)
    with p.store() as store:
        assert all(store.labels.current()[r["item_id"]] == p.truth[r["item_id"]] for r in reviews)
        assert {r["item_id"]: store.labels.history(r["item_id"]) for r in reviews} == history
        assert "label review:" in out, out  # the bot's 20 labels: a train round
        later = [r["item_id"] for r in store.reviews.rows() if r["round"] > 1]
        assert not set(later) & {r["item_id"] for r in reviews}  # reviewed once
        items = Counter(t for t in store.tasks.by_item())
    assert max(items.values()) == 1


def test_a_crash_after_importing_review_tasks_resumes_without_doubling_them(
        project_file, ls_env, ls_project_title):
    project = project_file(
        loop={"initial": 120, "batch": 20, "budget": 400, "min_new_labels": 20},
        label_studio={"project_title": ls_project_title, "holdout": 20},
        quality={"review_per_round": 8, "review_folds": 2, "review_min_confidence": 0.0})
    p = Project(project, ls_env)
    cycle(project)
    bot(project, "--noise", "0.3")
    code, out = run_cycle_process(project, failpoint="review:imported")
    assert code == -signal.SIGKILL, out
    with p.store() as store:
        assert [r["state"] for r in store.reviews.rows(1)] == ["selected"] * 8
    out = cycle(project)
    assert "resuming the unfinished train round" in out, out
    # the pull finds the imported review tasks by their kind and round and adopts them,
    # so the resumed phase imports none again
    assert "trained" not in out and "label review: 8 labels" in out, out
    reviews = [t for t in p.tasks() if t.data.get("kind") == "review"]
    with p.store() as store:
        assert sorted(t.id for t in reviews) == sorted(r["task_id"] for r in store.reviews.rows(1))
        assert all(r["state"] == "pushed" for r in store.reviews.rows(1))
    assert len(reviews) == 8
