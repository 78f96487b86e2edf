"""Time to check a 3-sentence answer against 4 abstracts: the support checker beside the old one.

    python bench/support.py [--trials 20]

Each trial takes three sentences of one bundled abstract (restated in the third person, as an answer
would) and checks each against that abstract and the three closest to it in words, as answer
verification checks each answer sentence against every source. Caches
are emptied between trials. "old" is the feature regression shipped before the NLI model (embeddings
and word features only); "new" is rag/checker.json: the same features, then the NLI model on the
cited source (source 1) and the closest other one, as answer verification runs it, where the
similarity gate lets them through. Both run in this process on the same sentences; the median is printed
with the NLI pairs the new checker ran.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.make_checker_data import restate  # noqa: E402
from eval.support_eval import old_scores  # noqa: E402
from rag.load import load_papers  # noqa: E402
from rag.support import SupportChecker, content_words, split_sentences  # noqa: E402


def nearest(paper, papers, words_of, n: int) -> list:
    mine = words_of[paper.paper_id]
    others = [p for p in papers if p.paper_id != paper.paper_id]
    return sorted(others, key=lambda p: -len(mine & words_of[p.paper_id]) / (len(mine | words_of[p.paper_id]) or 1))[:n]


def trials(count: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """Three sentences of one abstract, and that abstract with the three closest in words (as retrieval would give)."""
    papers, _ = load_papers([Path(__file__).resolve().parent.parent / "data"])
    papers = [p for p in {p.paper_id: p for p in papers}.values() if len(split_sentences(p.abstract)) >= 4]
    words_of = {p.paper_id: content_words(p.abstract) for p in papers}
    rng = random.Random(seed)
    made = []
    for paper in rng.sample(papers, count):
        sentences = [restate(s) for s in rng.sample(split_sentences(paper.abstract)[1:], 3)]
        made.append((sentences, [paper.abstract] + [p.abstract for p in nearest(paper, papers, words_of, 3)]))
    return made


def old_check(checker: SupportChecker, sentences: list[str], sources: list[str]) -> None:
    for sentence in sentences:
        old_scores([row.values for row in checker.cheap_rows(sentence, sources)])


def new_check(checker: SupportChecker, sentences: list[str], sources: list[str]) -> None:
    for sentence in sentences:
        checker.check_many(sentence, sources, figures_copied=True, cited=[1])  # as verification: cited + closest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    warm = SupportChecker()
    new_check(warm, ["Warm up the models."], ["Warm up the models. Then time them."])
    timings = {"old": [], "new": []}
    nli_pairs = []
    for sentences, sources in trials(args.trials, args.seed):
        for name, run in (("old", old_check), ("new", new_check)):
            checker = SupportChecker(embedder=warm.embedder, weights=warm.weights, nli=warm.nli)  # empty caches
            started = time.perf_counter()
            run(checker, sentences, sources)
            timings[name].append(time.perf_counter() - started)
            if name == "new":
                nli_pairs.append(len(checker._contradiction))
    old, new = (statistics.median(timings[n]) * 1000 for n in ("old", "new"))
    print(f"{args.trials} answers of 3 sentences, each checked against 4 abstracts")
    print("| checker | median ms per answer | p90 ms | NLI pairs per answer (median) |\n|---|---|---|---|")
    for name, median in (("old (features)", old), ("new (features + NLI)", new)):
        key = name.split()[0]
        p90 = sorted(timings[key])[int(0.9 * (len(timings[key]) - 1))] * 1000
        pairs = statistics.median(nli_pairs) if key == "new" else 0
        print(f"| {name} | {median:.0f} | {p90:.0f} | {pairs:.0f} |")
    print(f"new / old: {new / old:.1f}x")


if __name__ == "__main__":
    main()
