"""The support checker on the product's own sentences (eval/claims/), old and new side by side.

    python eval/claims_eval.py [--split dev|test|train|all] [--model local] [--fresh]

Each labelled pair (a sentence the model wrote, or a minimal false edit of one, against the abstract it
cites) is checked as the answer pipeline checks it: the new checker (rag.support.get_checker: word-for-
word copies pass, number/unit/name rules, the similarity gate, then the answer model as judge on a
prompt extending that question's answer prompt, which is rebuilt from eval/claims/drafts-MODEL.jsonl
and read first so the judge reads from the cache) and the old one (the feature regression alone,
RAG_JUDGE=false). --fresh: the judge on a prompt of its own (no answer prompt), as `check()` without
a context does. Judge logits are kept in eval/results/claims/ so a rerun only reads the new pairs.
Prints, per split: pairs per label; the share of each label each checker accepts; ROC AUC of the
judge's logit (SUPPORTED against the rest); what decided the new checker's rejections; judge tokens.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from langchain_core.messages import HumanMessage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eval.train_checker import roc_auc  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.judge import answer_context  # noqa: E402
from rag.prompt import answer_messages  # noqa: E402
from rag.support import SupportChecker, get_checker  # noqa: E402
from rag.types import Hit  # noqa: E402

CLAIMS = Path(__file__).resolve().parent / "claims"
RESULTS = Path(__file__).resolve().parent / "results" / "claims"
LABELS = ("SUPPORTED", "UNSUPPORTED", "CONTRADICTED")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def labelled_pairs(model: str) -> list[dict]:
    """Draft pairs with their labels (NO_CLAIM ones left out: nothing to check), then the edits (labelled when written)."""
    labels = {row["pair_id"]: row for row in read_jsonl(CLAIMS / "labels.jsonl")}
    pairs = [dict(p, label=labels[p["pair_id"]]["label"]) for p in read_jsonl(CLAIMS / f"pairs-{model}.jsonl")
             if p["pair_id"] in labels and labels[p["pair_id"]]["label"] != "NO_CLAIM"]
    edits = [e for path in sorted(CLAIMS.glob("edits*.jsonl")) for e in read_jsonl(path)]
    return pairs + [e for e in edits if e["model"] == model]


def source_text(pair: dict) -> str:
    """What the pipeline checks a sentence against: the cited paper's title and abstract."""
    return f"{pair['title']}.\n{pair['abstract']}"


def contexts(model: str) -> dict[str, list]:
    """Per question, the answer prompt and reply the judge extends."""
    found = {}
    for record in read_jsonl(CLAIMS / f"drafts-{model}.jsonl"):
        hits = [Hit(paper_id=h["paper_id"], title=h["title"], text=h["text"], score=0.0, chunk_id="",
                    abstract=h["abstract"]) for h in record["hits"]]
        found[record["qid"]] = answer_context(answer_messages(record["standalone"], hits), record["reply"])
    return found


def judge_logits(pairs: list[dict], checker: SupportChecker, model: str, fresh: bool) -> dict[str, float]:
    """The judge's logit for every pair that reaches it (cached on disk), question by question."""
    cache_file = RESULTS / f"judge-{model}-{'fresh' if fresh else 'cached'}.jsonl"
    kept = {row["pair_id"]: row["logit"] for row in read_jsonl(cache_file)}
    prompts = contexts(model)
    RESULTS.mkdir(parents=True, exist_ok=True)
    todo = [p for p in pairs if p["pair_id"] not in kept]
    primed = None
    for i, pair in enumerate(sorted(todo, key=lambda p: p["qid"]), 1):
        context = None if fresh else prompts.get(pair["qid"])
        if context and primed != pair["qid"]:  # as after answering: the answer prompt and reply are in the cache
            checker.judge.score(context + [HumanMessage("")])
            checker.judge.log.calls.pop()
            primed = pair["qid"]
        logit = checker.judge_logit(pair["sentence"], checker.passage(pair["sentence"], source_text(pair)), context)
        kept[pair["pair_id"]] = logit
        with cache_file.open("a") as out:
            out.write(json.dumps({"pair_id": pair["pair_id"], "logit": logit}) + "\n")
        if i % 25 == 0:
            print(f"  judged {i}/{len(todo)}", file=sys.stderr, flush=True)
    return kept


def decide(pairs: list[dict], checker: SupportChecker, logits: dict[str, float]) -> list[tuple[bool, str]]:
    """The new checker's verdict and reason for each pair, with the judge's logits already read."""
    decided = []
    for pair in pairs:
        checker._judged[(pair["sentence"], checker.passage(pair["sentence"], source_text(pair)))] = logits[pair["pair_id"]]
        result = checker.check_many(pair["sentence"], [source_text(pair)], figures_copied=True)[0]
        decided.append((result.score >= checker.threshold, result.reason))
    return decided


def table(pairs: list[dict], old: list[bool], new: list[bool], logits: np.ndarray) -> str:
    labels = np.array([p["label"] for p in pairs])
    lines = ["| label | pairs | old checker accepts | new checker accepts |", "|---|---|---|---|"]
    for label in LABELS + ("UNSUPPORTED or CONTRADICTED",):
        mask = labels == label if label in LABELS else labels != "SUPPORTED"
        lines.append(f"| {label} | {mask.sum()} | {np.mean(np.array(old)[mask]) if mask.any() else 0:.3f} | "
                     f"{np.mean(np.array(new)[mask]) if mask.any() else 0:.3f} |")
    positive = labels == "SUPPORTED"
    if positive.any() and (~positive).any():
        lines.append(f"\njudge logit ROC AUC, SUPPORTED against the rest: {roc_auc(logits, positive):.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=["train", "dev", "test", "all"])
    parser.add_argument("--model", default="local")
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--offset", type=float, help="judge offset (default: settings.judge_offset)")
    args = parser.parse_args()
    settings = get_settings(llm=args.model) if args.offset is None else get_settings(llm=args.model, judge_offset=args.offset)
    pairs = [p for p in labelled_pairs(args.model) if args.split == "all" or p["split"] == args.split]
    checker, old_checker = get_checker(settings), SupportChecker(judge=None)
    logits = judge_logits(pairs, checker, args.model, args.fresh)
    decided = decide(pairs, checker, logits)
    old = [old_checker.check(p["sentence"], source_text(p), figures_copied=True).score >= old_checker.threshold
           for p in pairs]
    judged = np.array([logits[p["pair_id"]] if reason == "judge" else (9.0 if reason == "copy" else -9.0)
                       for p, (_, reason) in zip(pairs, decided)])
    print(f"## {args.split} split, {args.model}, judge {'fresh prompt' if args.fresh else 'after the answer prompt'}, "
          f"offset {checker.judge_offset}\n")
    print(table(pairs, old, [ok for ok, _ in decided], judged))
    rejected = Counter(reason for ok, reason in decided if not ok)
    print("rejected by: " + ", ".join(f"{reason} {count}" for reason, count in rejected.most_common()))
    print(f"judge calls: {len(checker.judge.log.calls)}, new tokens per call: "
          f"{np.mean([c.new_tokens for c in checker.judge.log.calls]) if checker.judge.log.calls else 0:.1f}")
    print("kinds: " + ", ".join(f"{k} {v}" for k, v in Counter(p.get("kind", "draft") for p in pairs).items()))


if __name__ == "__main__":
    main()
