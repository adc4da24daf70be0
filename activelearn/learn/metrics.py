"""Evaluation metrics (seed article 4.4): accuracy, precision, recall, F1, confusion matrix."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Metrics:
    """Scores of one model on one labeled split.

    confusion: [classes, classes], rows = true class, columns = predicted class
    per-class lists are indexed by class index; a class with no predictions (or no
    support) gets precision (recall) 0, the usual convention.
    """

    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    confusion: list[list[int]]

    def to_dict(self) -> dict:
        return asdict(self)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """y_true, y_pred: [items] class indices -> [classes, classes] counts."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if len(values) and (values.min() < 0 or values.max() >= classes):
            raise ValueError(f"{name} holds class indices outside 0..{classes - 1}")
    flat = y_true * classes + y_pred
    return np.bincount(flat, minlength=classes * classes).reshape(classes, classes)


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> Metrics:
    """Accuracy, macro-averaged and per-class precision/recall/F1 from predictions."""
    cm = confusion_matrix(y_true, y_pred, classes)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(classes), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(classes), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(classes), where=denom > 0)
    total = cm.sum()
    return Metrics(
        accuracy=float(tp.sum() / total) if total else 0.0,
        macro_precision=float(precision.mean()),
        macro_recall=float(recall.mean()),
        macro_f1=float(f1.mean()),
        precision=precision.tolist(),
        recall=recall.tolist(),
        f1=f1.tolist(),
        support=support.astype(int).tolist(),
        confusion=cm.astype(int).tolist(),
    )
