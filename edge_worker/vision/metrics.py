"""Classification metrics (numpy only), shared by training, the model card and the benchmark."""

from __future__ import annotations

from typing import Any

import numpy as np

from .render import DEFECT_CLASSES

OK_INDEX = DEFECT_CLASSES.index("ok")


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...] = DEFECT_CLASSES
) -> dict[str, Any]:
    k = len(classes)
    cm = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        cm[int(t), int(p)] += 1
    per_class = {}
    for i, name in enumerate(classes):
        tp = cm[i, i]
        prec = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        rec = tp / cm[i, :].sum() if cm[i, :].sum() else 0.0
        per_class[name] = {
            "precision": round(float(prec), 4),
            "recall": round(float(rec), 4),
            "support": int(cm[i, :].sum()),
        }
    defective = y_true != OK_INDEX
    flagged = y_pred != OK_INDEX
    return {
        "n": int(len(y_true)),
        "accuracy": round(float((y_true == y_pred).mean()), 4) if len(y_true) else 0.0,
        "defect_recall": round(float(flagged[defective].mean()), 4) if defective.any() else 0.0,
        "false_reject_rate": round(float(flagged[~defective].mean()), 4) if (~defective).any() else 0.0,
        "per_class": per_class,
        "confusion_matrix": {"labels": list(classes), "rows_true_cols_pred": cm.tolist()},
    }
