"""Scores SciFact (claim, abstract) pairs with the support checker: accuracy at its threshold and
ROC AUC of SUPPORT against REFUTE + NEI, on train and dev, for the fitted score and for the score
answers get (with the hard rules: a number, name, amount of money or percentage the abstract never
writes scores 0). `--fit` refits the logistic-regression weights and the threshold on train only and
prints them for rag/support.py."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rag.support import BIAS, FEATURES, WEIGHTS, SupportChecker, not_in_source, probability  # noqa: E402

PAIRS = Path(__file__).resolve().parent / "scifact_pairs.jsonl"  # SciFact claim-abstract pairs, see eval/README.md


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Rank-based (Mann-Whitney) AUC; ties share their average rank."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton steps on standardised features, returned in raw units."""
    mean, std = X.mean(0), X.std(0) + 1e-9
    Z = np.c_[(X - mean) / std, np.ones(len(X))]
    penalty = l2 * np.diag(np.r_[np.ones(X.shape[1]), 0.0])
    w = np.zeros(Z.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-Z @ w))
        step = np.linalg.solve((Z * (p * (1 - p))[:, None]).T @ Z + penalty, Z.T @ (p - y) + penalty @ w)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    weights = w[:-1] / std
    return weights, float(w[-1] - weights @ mean)


def best_threshold(scores: np.ndarray, positive: np.ndarray) -> float:
    """The cut (midway between neighbouring scores) with the highest accuracy."""
    values = np.unique(scores)
    cuts = np.r_[values[0] - 1e-6, (values[:-1] + values[1:]) / 2, values[-1] + 1e-6]
    accuracy = [((scores >= cut) == positive).mean() for cut in cuts]
    return float(cuts[int(np.argmax(accuracy))])


def report(name: str, scores: np.ndarray, positive: np.ndarray, labels: np.ndarray, threshold: float) -> None:
    counts = ", ".join(f"{label} {(labels == label).sum()}" for label in ("SUPPORT", "REFUTE", "NEI"))
    predicted = scores >= threshold
    versus = "  ".join(f"vs {label} only {roc_auc(scores[keep], positive[keep]):.3f}"
                       for label in ("REFUTE", "NEI") if (keep := positive | (labels == label)).any())
    print(f"{name:5s} n={len(scores)} ({counts})  predicted SUPPORT {predicted.sum()}  "
          f"accuracy {(predicted == positive).mean():.3f}  AUC {roc_auc(scores, positive):.3f}  ({versus})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", action="store_true", help="refit weights and threshold on train and print them")
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    args = parser.parse_args()

    rows = [json.loads(line) for line in args.pairs.read_text().splitlines() if line.strip()]
    checker = SupportChecker()
    checker.check("warm up the model.", "Warm up the model.")
    started = time.perf_counter()
    X = np.array([checker.feature_rows(row["claim"], [row["abstract"]])[0][0] for row in rows])
    per_pair = (time.perf_counter() - started) / len(rows) * 1000
    labels = np.array([row["label"] for row in rows])
    positive = labels == "SUPPORT"
    train = np.array([row["split"] == "train" for row in rows])

    weights, bias, threshold = WEIGHTS, BIAS, checker.threshold
    if args.fit:
        weights, bias = fit_logistic(X[train], positive[train].astype(float))
        threshold = best_threshold(np.array([probability(x, weights, bias) for x in X[train]]), positive[train])
        print(f"FEATURES = {FEATURES}")
        print(f"WEIGHTS = np.array([{', '.join(f'{w:.4f}' for w in weights)}])")
        print(f"BIAS = {bias:.4f}")
        print(f"THRESHOLD = {threshold:.4f}")
    scores = np.array([probability(x, weights, bias) for x in X])
    ruled_out = np.array([not_in_source(row["claim"], row["abstract"], figures_copied=True) for row in rows])
    print(f"threshold {threshold:.4f}; {per_pair:.1f} ms per pair (features and embeddings; sentences of repeated abstracts cached)")
    for title, shown in (("fitted score", scores), ("with the hard rules answers get", np.where(ruled_out, 0.0, scores))):
        print(title)
        for name, mask in (("train", train), ("dev", ~train)):
            report(name, shown[mask], positive[mask], labels[mask], threshold)


if __name__ == "__main__":
    main()
