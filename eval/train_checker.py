"""Trains the support checker's head and writes rag/checker.json.

    python eval/train_checker.py                 # the shipped weights (about 25 minutes on 2 cores)
    python eval/train_checker.py --limit 20 --out /tmp/checker.json   # a quick end-to-end run

Each (claim, abstract) pair becomes the checker's features (rag/support.py: embedding similarity,
word and number overlap, a negated-claim probe, and the packaged NLI model's contradiction scores of
the claim and of its opposite). Two logistic-regression heads read them: SUPPORT against the rest
and REFUTE against the rest; a source supports a sentence when P(support) x (1 - P(contradiction))
reaches the threshold. Each head is fitted on the `train` pairs of some of three sets (at most
--limit pairs of each, drawn with a fixed seed, each set weighted equally): Citation-Integrity
(eval/citation_integrity/), SciFact (eval/scifact_pairs.jsonl) and the generated contradictions
(eval/checker_pairs.jsonl). Which sets each head learns from and which features they read are chosen
by ROC AUC on Citation-Integrity `dev`, among the candidates that reject >= 95% of the generated
train contradictions and accept >= 90% of the faithful ones (or, when none does, reject within a
point of the most any candidate rejects); SciFact `dev` and the
other test splits are never read here (eval/support_eval.py reports them). The gate: a source
whose closest sentence (cos_max) is below the level of the lowest 1% of the SciFact and generated
train SUPPORT pairs skips the NLI model at run time (Citation-Integrity's citing sentences are often
far from the passage they cite, unlike an answer and its source). Features are cached in eval/results/.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rag.support import (PREMISES, WEIGHTS_FILE, CheckerWeights, LogisticModel, SupportChecker, flip,  # noqa: E402
                          not_in_source, split_sentences)

EVAL = Path(__file__).resolve().parent
CHEAP = ("cos_max", "recall_quote", "recall_source", "numbers_missing", "direction_mismatch", "flip_projection")
NLI = ("contradiction_max", "contradiction_mean", "opposite_contradiction_max", "opposite_contradiction_mean")
# feature sets tried, chosen by Citation-Integrity dev AUC: is each hand-made feature still worth keeping?
CANDIDATE_FEATURES = {
    "all": CHEAP + NLI,
    "no direction words": tuple(f for f in CHEAP + NLI if f != "direction_mismatch"),
    "no direction words, no flip projection": tuple(f for f in CHEAP + NLI if f not in ("direction_mismatch", "flip_projection")),
    "NLI and similarity only": ("cos_max", "recall_quote", "recall_source") + NLI,
}
L2 = 1.0
# which train sets a head is fitted on (each set weighted equally within a mix)
MIXES = {"all three": ("citation_integrity", "scifact", "generated"),
         "Citation-Integrity + SciFact": ("citation_integrity", "scifact"),
         "SciFact + generated": ("scifact", "generated"), "Citation-Integrity + generated": ("citation_integrity", "generated"),
         "SciFact": ("scifact",), "Citation-Integrity": ("citation_integrity",)}
SUPPORT_MIXES = ("Citation-Integrity + SciFact", "all three", "SciFact + generated")
CONTRADICTION_MIXES = ("all three", "SciFact + generated", "Citation-Integrity + generated")
UNTRAINED = CheckerWeights(LogisticModel((), (), 0.0), LogisticModel((), (), 0.0), 0.5, 0.0)
GATE_MISS = 0.01
BLOCK = 32  # pairs embedded and NLI-scored together  # share of train SUPPORT pairs the gate may send away without reading them


def citation_marker_free(claim: str) -> str:
    claim = re.sub(r"\[?<\|(multi_)?cit\|>[^\]]*\]?", "", claim)
    return re.sub(r"\s+([.,;])", r"\1", re.sub(r"\s+", " ", claim)).strip()


def citation_integrity(split: str) -> list[dict]:
    folder = EVAL / "citation_integrity"
    corpus = {d["doc_id"]: d for d in map(json.loads, (folder / "corpus.jsonl").read_text().splitlines())}
    pairs = []
    for claim in map(json.loads, (folder / f"claims_{split}.jsonl").read_text().splitlines()):
        for doc_id in claim["cited_doc_ids"]:
            evidence = claim["evidence"].get(str(doc_id))
            if doc_id in corpus:
                pairs.append({"set": "citation_integrity", "split": split, "claim": citation_marker_free(claim["claim"]),
                              "abstract": " ".join(corpus[doc_id]["abstract"]),
                              "label": evidence[0]["label"] if evidence else "NEI"})
    return pairs


def jsonl_pairs(path: Path, name: str, split: str) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{"set": name, "split": split, "claim": r["claim"], "abstract": r["abstract"], "label": r["label"],
             "kind": r.get("kind", "")} for r in rows if r["split"] == split]


def load_pairs(split: str) -> dict[str, list[dict]]:
    """The pairs of one split from each set that has it (SciFact: train and dev; generated: train and test)."""
    sets = {"citation_integrity": citation_integrity(split)}
    if split in ("train", "dev"):
        sets["scifact"] = jsonl_pairs(EVAL / "scifact_pairs.jsonl", "scifact", split)
    if split in ("train", "test"):
        sets["generated"] = jsonl_pairs(EVAL / "checker_pairs.jsonl", "generated", split)
    return {name: pairs for name, pairs in sets.items() if pairs}


def warm_caches(checker: SupportChecker, pairs: list[dict]) -> None:
    """Embeds and NLI-scores a block of pairs in full batches; feature_rows then reads the caches."""
    checker._embed([t for p in pairs for t in [p["claim"], flip(p["claim"])] + (split_sentences(p["abstract"]) or [p["abstract"]])])
    needed = []
    for pair in pairs:
        row = checker.cheap_rows(pair["claim"], [pair["abstract"]])[0]
        needed += [(premise, h) for h in (pair["claim"], flip(pair["claim"])) for premise in row.premises]
    checker.contradiction_scores(needed)


def feature_table(pairs: list[dict], checker: SupportChecker, cache_dir: Path, desc: str) -> np.ndarray:
    """Every feature of every pair (NLI for all: no gate), in CHEAP + NLI order; cached by content."""
    key = hashlib.sha256(json.dumps([[p["claim"], p["abstract"]] for p in pairs] + [PREMISES]).encode()).hexdigest()[:16]
    cached = cache_dir / f"features-{key}.npy"
    if cached.exists():
        return np.load(cached)
    table = []
    with tqdm(total=len(pairs), desc=desc, unit="pair") as bar:
        for start in range(0, len(pairs), BLOCK):
            block = pairs[start:start + BLOCK]
            warm_caches(checker, block)
            for pair in block:
                values = checker.feature_rows(pair["claim"], [pair["abstract"]], gated=False)[0].values
                table.append([values[f] for f in CHEAP + NLI])
            bar.update(len(block))
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cached, np.array(table))
    return np.array(table)


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


def fit_logistic(X: np.ndarray, y: np.ndarray, weights: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Weighted, L2-regularised logistic regression by Newton steps on standardised features, in raw units."""
    mean, std = X.mean(0), X.std(0) + 1e-9
    Z = np.c_[(X - mean) / std, np.ones(len(X))]
    penalty = l2 * np.diag(np.r_[np.ones(X.shape[1]), 0.0])
    w = np.zeros(Z.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-Z @ w))
        step = np.linalg.solve((Z * (weights * p * (1 - p))[:, None]).T @ Z + penalty,
                               Z.T @ (weights * (p - y)) + penalty @ w)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    coefficients = w[:-1] / std
    return coefficients, float(w[-1] - coefficients @ mean)


def best_threshold(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> float:
    """The cut (midway between neighbouring scores) with the highest weighted accuracy."""
    values = np.unique(scores)
    cuts = np.r_[values[0] - 1e-6, (values[:-1] + values[1:]) / 2, values[-1] + 1e-6]
    accuracy = [(weights * ((scores >= cut) == positive)).sum() for cut in cuts]
    return float(cuts[int(np.argmax(accuracy))])


def probabilities(X: np.ndarray, coefficients: np.ndarray, bias: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(X @ coefficients + bias)))


def stacked(tables: dict[str, np.ndarray], pairs: dict[str, list[dict]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, SUPPORT labels and weights giving each set the same total weight."""
    X = np.vstack([tables[name] for name in pairs])
    y = np.concatenate([[p["label"] == "SUPPORT" for p in pairs[name]] for name in pairs]).astype(float)
    w = np.concatenate([np.full(len(pairs[name]), len(X) / (len(pairs) * len(pairs[name]))) for name in pairs])
    return X, y, w


def columns(names: tuple[str, ...]) -> list[int]:
    return [(CHEAP + NLI).index(n) for n in names]


@dataclass
class Head:
    mix: str
    coefficients: np.ndarray
    bias: float

    def probabilities(self, X: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
        return probabilities(X[:, columns(features)], self.coefficients, self.bias)


@dataclass
class Candidate:
    features: str
    support: Head
    contradiction: Head
    threshold: float
    dev_auc: float
    product_bar: tuple[float, float]  # generated train: contradicted pairs rejected, faithful ones accepted

    def scores(self, X: np.ndarray) -> np.ndarray:
        features = CANDIDATE_FEATURES[self.features]
        return self.support.probabilities(X, features) * (1 - self.contradiction.probabilities(X, features))


def product_bar(candidate_scores: np.ndarray, generated: list[dict], ruled_out: np.ndarray, threshold: float) -> tuple[float, float]:
    accepted = (candidate_scores >= threshold) & ~ruled_out
    labels = np.array([p["label"] for p in generated])
    return float(1 - accepted[labels == "REFUTE"].mean()), float(accepted[labels == "SUPPORT"].mean())


def fit_head(tables: dict[str, np.ndarray], pairs: dict[str, list[dict]], mix: str, features: tuple[str, ...],
             label: str) -> Head:
    names = MIXES[mix]
    X, _, w = stacked({n: tables[n] for n in names}, {n: pairs[n] for n in names})
    y = np.concatenate([[p["label"] == label for p in pairs[n]] for n in names]).astype(float)
    return Head(mix, *fit_logistic(X[:, columns(features)], y, w, L2))


def candidates(tables: dict[str, np.ndarray], pairs: dict[str, list[dict]], dev_X: np.ndarray,
               dev_y: np.ndarray) -> list[Candidate]:
    """Every support mix x contradiction mix x feature set, fitted, with its dev AUC and product bar.
    The threshold is the best weighted accuracy of SUPPORT against the rest on all train sets."""
    generated = pairs["generated"]
    ruled_out = np.array([not_in_source(p["claim"], p["abstract"], figures_copied=True) for p in generated])
    X, y, w = stacked(tables, pairs)
    found = []
    for features_name, features in CANDIDATE_FEATURES.items():
        for support_mix in SUPPORT_MIXES:
            for contradiction_mix in CONTRADICTION_MIXES:
                candidate = Candidate(features_name, fit_head(tables, pairs, support_mix, features, "SUPPORT"),
                                      fit_head(tables, pairs, contradiction_mix, features, "REFUTE"), 0.0, 0.0, (0.0, 0.0))
                candidate.threshold = best_threshold(candidate.scores(X), y.astype(bool), w)
                candidate.dev_auc = roc_auc(candidate.scores(dev_X), dev_y)
                candidate.product_bar = product_bar(candidate.scores(tables["generated"]), generated, ruled_out,
                                                    candidate.threshold)
                found.append(candidate)
                print(f"  {features_name:40s} support: {support_mix:30s} contradiction: {contradiction_mix:30s} "
                      f"CI dev AUC {candidate.dev_auc:.3f}  generated train: rejects {candidate.product_bar[0]:.3f} "
                      f"of contradictions, accepts {candidate.product_bar[1]:.3f} of faithful")
    return found


def choose(found: list[Candidate]) -> Candidate:
    """The best Citation-Integrity dev AUC among the candidates that meet the product bar on the
    generated train pairs (reject >= 95% of contradictions, accept >= 90% of faithful restatements);
    when none does, among those that accept >= 90% and reject within a point of the most any rejects."""
    accepting = [c for c in found if c.product_bar[1] >= 0.90] or found
    meeting = [c for c in accepting if c.product_bar[0] >= 0.95]
    if not meeting:
        most = max(c.product_bar[0] for c in accepting)
        meeting = [c for c in accepting if c.product_bar[0] >= most - 0.01]
    return max(meeting, key=lambda c: c.dev_auc)


def model_json(features: tuple[str, ...], coefficients: np.ndarray, bias: float) -> dict:
    return {"features": list(features), "weights": [round(float(c), 6) for c in coefficients], "bias": round(bias, 6)}


def sample(pairs: dict[str, list[dict]], limit: int | None, seed: int) -> dict[str, list[dict]]:
    if not limit:
        return pairs
    rng = random.Random(seed)
    return {name: rng.sample(rows, min(limit, len(rows))) for name, rows in pairs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=400, help="at most this many pairs of each set and split")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    parser.add_argument("--cache", type=Path, default=EVAL / "results" / "checker")
    args = parser.parse_args()
    np.random.seed(args.seed)
    checker = SupportChecker(weights=UNTRAINED)
    train_pairs, dev_pairs = sample(load_pairs("train"), args.limit, args.seed), sample(load_pairs("dev"), args.limit, args.seed)
    train_tables = {n: feature_table(p, checker, args.cache, f"features, {n} train") for n, p in train_pairs.items()}
    dev_ci = dev_pairs["citation_integrity"]
    dev_X = feature_table(dev_ci, checker, args.cache, "features, citation_integrity dev")
    dev_y = np.array([p["label"] == "SUPPORT" for p in dev_ci])
    chosen = choose(candidates(train_tables, train_pairs, dev_X, dev_y))
    features = CANDIDATE_FEATURES[chosen.features]
    floor = min(float(np.quantile(train_tables[n][[p["label"] == "SUPPORT" for p in train_pairs[n]], 0], GATE_MISS))
                for n in ("scifact", "generated"))
    saved = {"support": model_json(features, chosen.support.coefficients, chosen.support.bias),
             "contradiction": model_json(features, chosen.contradiction.coefficients, chosen.contradiction.bias),
             "threshold": round(chosen.threshold, 6), "similarity_floor": round(floor, 6),
             "chosen": {"features": chosen.features, "support_mix": chosen.support.mix,
                        "contradiction_mix": chosen.contradiction.mix,
                        "citation_integrity_dev_auc": round(chosen.dev_auc, 4),
                        "generated_train_rejected_accepted": [round(v, 4) for v in chosen.product_bar]},
             "train_pairs": {n: len(p) for n, p in train_pairs.items()}}
    args.out.write_text(json.dumps(saved, indent=1) + "\n")
    print(f"chose {saved['chosen']}; threshold {chosen.threshold:.4f}; similarity floor {floor:.4f} -> {args.out}")


if __name__ == "__main__":
    main()
