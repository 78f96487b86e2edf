"""The support checker against the old one, on pairs neither was fitted or chosen on.

    python eval/support_eval.py            # about 20 minutes on 2 cores the first time; features are cached
    python eval/support_eval.py --limit 30 # a quick look

Sets: SciFact `dev` (the external figure), Citation-Integrity `test`, and the generated `test` pairs
(eval/checker_pairs.jsonl: restatements of bundled abstracts, faithful or contradicted). For each:
ROC AUC of SUPPORT against the rest and against REFUTE only, and accuracy and macro-F1 of the
SUPPORT / not-SUPPORT verdict at each checker's threshold. "old" is the feature regression this
project shipped before (no NLI model); "new" is rag/checker.json with its gate, as `check()` scores
(a name, amount of money or percentage the source never writes scores 0; the generated pairs are
scored as answers are, where every number must be copied). Then, for the generated pairs, the share
of each kind the new checker accepts.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eval.train_checker import CHEAP, NLI, EVAL, UNTRAINED, feature_table, load_pairs, roc_auc, sample  # noqa: E402
from rag.support import SupportChecker, load_weights, not_in_source  # noqa: E402

# the checker shipped before the NLI model: a logistic regression over the cheap features, fitted on SciFact train
OLD_WEIGHTS = dict(zip(CHEAP, (4.2065, -1.6908, 4.0143, -1.7985, -1.8571, -8.4194)))
OLD_BIAS, OLD_THRESHOLD = -4.8732, 0.4476
SETS = (("scifact", "dev"), ("citation_integrity", "test"), ("generated", "test"))


def old_scores(rows: list[dict[str, float]]) -> np.ndarray:
    return np.array([1 / (1 + np.exp(-(sum(OLD_WEIGHTS[f] * r[f] for f in CHEAP) + OLD_BIAS))) for r in rows])


def new_scores(rows: list[dict[str, float]], checker: SupportChecker) -> np.ndarray:
    """As the checker scores at run time: sources the gate sends away score 0."""
    return np.array([checker.weights.score(r) if r["cos_max"] >= checker.weights.similarity_floor
                     else 0.0 for r in rows])


def macro_f1(predicted: np.ndarray, positive: np.ndarray) -> float:
    f1 = []
    for cls in (True, False):
        tp = ((predicted == cls) & (positive == cls)).sum()
        precision, recall = tp / max(1, (predicted == cls).sum()), tp / max(1, (positive == cls).sum())
        f1.append(0.0 if tp == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(f1))


def metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> str:
    positive = labels == "SUPPORT"
    refute = positive | (labels == "REFUTE")
    predicted = scores >= threshold
    return (f"{roc_auc(scores, positive):.3f} | {roc_auc(scores[refute], positive[refute]):.3f} | "
            f"{(predicted == positive).mean():.3f} | {macro_f1(predicted, positive):.3f}")


def kinds_table(pairs: list[dict], scores: np.ndarray, threshold: float) -> None:
    print("\n| generated kind | label | pairs | accepted by the new checker |\n|---|---|---|---|")
    for kind in dict.fromkeys(p["kind"] for p in pairs):
        mask = np.array([p["kind"] == kind for p in pairs])
        label = next(p["label"] for p in pairs if p["kind"] == kind)
        print(f"| {kind} | {label} | {mask.sum()} | {(scores[mask] >= threshold).mean():.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="at most this many pairs of each set")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cache", type=Path, default=EVAL / "results" / "checker")
    args = parser.parse_args()
    checker, table_checker = SupportChecker(), SupportChecker(weights=UNTRAINED)
    print("| set | pairs | checker | AUC S vs rest | AUC S vs REFUTE | accuracy | macro-F1 |\n|---|---|---|---|---|---|---|")
    for name, split in SETS:
        pairs = sample(load_pairs(split), args.limit, args.seed)[name]
        table = feature_table(pairs, table_checker, args.cache, f"features, {name} {split}")
        rows = [dict(zip(CHEAP + NLI, values)) for values in table]
        answers = name == "generated"  # restatements as an answer writes them: its numbers must be copied
        ruled_out = np.array([not_in_source(p["claim"], p["abstract"], figures_copied=answers) for p in pairs])
        labels = np.array([p["label"] for p in pairs])
        old = np.where(ruled_out, 0.0, old_scores(rows))
        new = np.where(ruled_out, 0.0, new_scores(rows, checker))
        print(f"| {name} {split} | {len(pairs)} | old | {metrics(old, labels, OLD_THRESHOLD)} |")
        print(f"| {name} {split} | {len(pairs)} | new | {metrics(new, labels, checker.threshold)} |")
        if answers:
            generated, generated_scores = pairs, new
    kinds_table(generated, generated_scores, checker.threshold)
    print(f"\nnew checker: {load_weights().__class__.__name__} from rag/checker.json, threshold {checker.threshold:.4f}")


if __name__ == "__main__":
    main()
