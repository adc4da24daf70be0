"""Evaluation metrics checked against numbers worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from activelearn.learn.metrics import compute_metrics, confusion_matrix

# 3 classes, 10 items. Rows = true class, columns = predicted class:
#            pred 0  pred 1  pred 2   support
#   true 0     2       1       1        4
#   true 1     1       2       0        3
#   true 2     0       1       2        3
#   predicted  3       4       3
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 2, 1, 1, 0, 2, 2, 1])


def test_confusion_matrix_rows_are_true_columns_predicted() -> None:
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert cm.tolist() == [[2, 1, 1], [1, 2, 0], [0, 1, 2]]


def test_confusion_matrix_has_all_classes_even_unseen() -> None:
    cm = confusion_matrix(np.array([0, 1]), np.array([0, 0]), 4)
    assert cm.shape == (4, 4)
    assert cm.tolist() == [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_hand_computed_metrics() -> None:
    m = compute_metrics(Y_TRUE, Y_PRED, 3)
    assert m.confusion == [[2, 1, 1], [1, 2, 0], [0, 1, 2]]
    assert m.support == [4, 3, 3]
    assert m.accuracy == pytest.approx(6 / 10)
    # precision = tp / predicted, recall = tp / support
    assert m.precision == pytest.approx([2 / 3, 2 / 4, 2 / 3])
    assert m.recall == pytest.approx([2 / 4, 2 / 3, 2 / 3])
    # f1 = 2pr / (p + r): class 0 and 1: 2(2/3)(1/2) / (7/6) = 4/7; class 2: 2/3
    assert m.f1 == pytest.approx([4 / 7, 4 / 7, 2 / 3])
    assert m.macro_precision == pytest.approx(11 / 18)
    assert m.macro_recall == pytest.approx(11 / 18)
    assert m.macro_f1 == pytest.approx(38 / 63)


def test_class_never_predicted_gets_precision_zero() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0])
    m = compute_metrics(y_true, y_pred, 3)
    assert m.precision == pytest.approx([2 / 3, 2 / 3, 0.0])
    assert m.recall == pytest.approx([1.0, 1.0, 0.0])
    assert m.f1 == pytest.approx([0.8, 0.8, 0.0])
    assert m.macro_precision == pytest.approx(4 / 9)
    assert all(np.isfinite(m.precision + m.recall + m.f1))


def test_class_without_support_gets_recall_zero() -> None:
    m = compute_metrics(np.array([0, 0, 1]), np.array([0, 2, 1]), 3)
    assert m.support == [2, 1, 0]
    assert m.recall == pytest.approx([0.5, 1.0, 0.0])
    assert m.precision == pytest.approx([1.0, 1.0, 0.0])


def test_perfect_predictions() -> None:
    y = np.array([0, 1, 2, 3, 3, 2, 1, 0])
    m = compute_metrics(y, y.copy(), 4)
    assert m.accuracy == 1.0
    assert m.precision == [1.0] * 4
    assert m.recall == [1.0] * 4
    assert m.f1 == [1.0] * 4
    assert (m.macro_precision, m.macro_recall, m.macro_f1) == (1.0, 1.0, 1.0)
    assert m.confusion == np.diag([2, 2, 2, 2]).tolist()


def test_all_wrong_predictions() -> None:
    m = compute_metrics(np.array([0, 1, 0, 1]), np.array([1, 0, 1, 0]), 2)
    assert m.accuracy == 0.0
    assert m.macro_f1 == 0.0


def test_to_dict_is_plain_json_types() -> None:
    d = compute_metrics(Y_TRUE, Y_PRED, 3).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["confusion"][0] == [2, 1, 1]
    assert set(d) >= {"accuracy", "macro_f1", "precision", "recall", "f1", "support"}


def test_labels_outside_the_classes_are_refused() -> None:
    import pytest

    from activelearn.learn.metrics import confusion_matrix

    with pytest.raises(ValueError, match="y_true holds class indices outside 0..2"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="y_pred"):
        confusion_matrix(np.array([0, 1]), np.array([-1, 1]), 3)
