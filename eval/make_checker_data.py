"""Writes eval/checker_pairs.jsonl: the product's own failure cases, built from the bundled corpus.

    python eval/make_checker_data.py [--papers 400] [--seed 13]

For finding sentences of the bundled abstracts (a number, a comparison or a direction word):
- SUPPORT: the sentence restated as an answer would ("Yes, the authors show ..."), against its abstract;
- REFUTE: the same restatement with its finding negated, its direction word flipped or its number
  changed, or "Yes, <the question restated>" with the opposite polarity;
- NEI: a finding sentence of the closest other abstract (same topic), or the sentence with its
  method name swapped for another paper's.
Papers are split by a hash of their id: `test` papers (about a fifth) never appear in `train`.
Every generated pair is deterministic (seeded), so training is reproducible without rerunning this.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rag.load import load_papers  # noqa: E402
from rag.support import content_words, split_sentences  # noqa: E402

OUT = Path(__file__).resolve().parent / "checker_pairs.jsonl"
CORPUS = Path(__file__).resolve().parents[1] / "data"
# direction words and their opposites, both ways
DIRECTIONS = dict(pair for a, b in (
    ("outperforms", "underperforms"), ("outperform", "underperform"), ("improves", "degrades"),
    ("improve", "degrade"), ("improved", "degraded"), ("increases", "decreases"), ("increase", "decrease"),
    ("increased", "decreased"), ("higher", "lower"), ("better", "worse"), ("faster", "slower"),
    ("more", "fewer"), ("reduces", "raises"), ("reduce", "raise"), ("reduced", "raised"), ("larger", "smaller"),
    ("surpasses", "trails"), ("boosts", "hurts"), ("enhances", "weakens"), ("superior", "inferior"),
    ("efficient", "inefficient"), ("effective", "ineffective"), ("robust", "fragile"), ("stronger", "weaker"),
    ("significantly", "barely"), ("consistently", "rarely"), ("less", "more"), ("cheaper", "costlier"),
    ("lower", "higher"), ("fewer", "more"), ("improvement", "degradation"), ("improvements", "degradations"),
    ("gains", "losses"), ("speedup", "slowdown"), ("state-of-the-art", "below-baseline"),
) for pair in ((a, b), (b, a)))
AUXILIARY = re.compile(r"\b(is|are|was|were|can|could|will|would|may|might|should|must|has|have|had|does|do|did)\b")
NEGATION = re.compile(r"\b(is|are|was|were|can|could|will|would|does|do|did|has|have) not\b|\bcannot\b|\bno longer\b")
FINDING = re.compile(r"\d|\b(" + "|".join(map(re.escape, DIRECTIONS)) + r")\b", re.I)
# a verb in the third person that states a finding: "X outperforms Y" -> "X does not outperform Y"
FINDING_VERB = re.compile(r"\b(achieves|outperforms|improves|reduces|increases|enables|surpasses|yields|matches|"
                          r"boosts|demonstrates|shows|leads|provides|exhibits|attains|delivers|requires|"
                          r"allows|helps|retains|preserves|maintains|exceeds|beats|obtains)\b")
SHORT_NAME = re.compile(r"^([A-Z][A-Za-z0-9.-]*[A-Z0-9][A-Za-z0-9.-]*)\b")  # ZipNN, BitNet, GPT-4o


def split_of(paper_id: str) -> str:
    return "test" if int(hashlib.sha256(paper_id.encode()).hexdigest(), 16) % 5 == 0 else "train"


def restate(sentence: str) -> str:
    """How an answer would put it: third person, "Yes" in front for a yes/no question."""
    text = re.sub(r"^(In this (paper|work|study), )?[Ww]e\b", "The authors", sentence)
    text = re.sub(r"\b[Oo]ur\b", "their", re.sub(r"\bwe\b", "they", text))
    return text


def negate(sentence: str) -> str | None:
    if NEGATION.search(sentence):
        return NEGATION.sub(lambda m: m.group(1) or "can", sentence, count=1)
    verb = FINDING_VERB.search(sentence)
    if verb:
        base = verb.group(1)
        base = base[:-2] if base.endswith(("shes", "ches", "sses")) else base[:-1]
        return sentence[:verb.start()] + "does not " + base + sentence[verb.end():]
    if AUXILIARY.search(sentence):
        return AUXILIARY.sub(lambda m: m.group(1) + " not", sentence, count=1)
    return None


def flip_direction(sentence: str) -> str | None:
    for match in re.finditer(r"[A-Za-z-]+", sentence):
        word = match.group(0)
        if word.lower() in DIRECTIONS:
            opposite = DIRECTIONS[word.lower()]
            opposite = opposite.capitalize() if word[0].isupper() else opposite
            return sentence[:match.start()] + opposite + sentence[match.end():]
    return None


def change_number(sentence: str, rng: random.Random) -> str | None:
    found = [m for m in re.finditer(r"\d+(?:\.\d+)?", sentence) if not re.match(r"(19|20)\d\d$", m.group(0))]
    if not found:
        return None
    match = rng.choice(found)
    value = match.group(0)
    decimals = len(value.partition(".")[2])
    changed = float(value) * rng.choice([0.5, 2, 3, 0.25]) + rng.choice([1, 3, 7])
    return sentence[:match.start()] + f"{changed:.{decimals}f}" + sentence[match.end():]


def is_finding(sentence: str) -> bool:
    return 50 <= len(sentence) <= 320 and bool(FINDING.search(sentence)) and not sentence.endswith("?")


def nearest_paper(paper, papers, words_of) -> object:
    mine = words_of[paper.paper_id]
    return max((p for p in papers if p.paper_id != paper.paper_id),
               key=lambda p: len(mine & words_of[p.paper_id]) / (len(mine | words_of[p.paper_id]) or 1))


def pairs_for(paper, papers, words_of, names, rng: random.Random) -> list[dict]:
    findings = [s for s in split_sentences(paper.abstract)[1:] if is_finding(s)]
    if not findings:
        return []
    sentence = rng.choice(findings)
    faithful = restate(sentence)
    made = [("faithful", "SUPPORT", faithful), ("yes_faithful", "SUPPORT", "Yes, " + faithful[0].lower() + faithful[1:])]
    for kind, changed in (("negated", negate(faithful)), ("direction_flipped", flip_direction(faithful)),
                          ("number_changed", change_number(faithful, rng))):
        if changed and changed != faithful:
            made.append((kind, "REFUTE", changed))
    opposite = negate(faithful) or flip_direction(faithful)
    if opposite:
        made.append(("yes_opposite", "REFUTE", "Yes, " + opposite[0].lower() + opposite[1:]))
    own = SHORT_NAME.match(paper.title)
    if own and own.group(1) in faithful:
        other = rng.choice([n for n in names if n != own.group(1)])
        made.append(("name_swapped", "NEI", faithful.replace(own.group(1), other)))
    neighbour = nearest_paper(paper, papers, words_of)
    theirs = [s for s in split_sentences(neighbour.abstract)[1:] if is_finding(s)]
    if theirs:
        made.append(("other_abstract", "NEI", restate(rng.choice(theirs))))
    return [{"split": split_of(paper.paper_id), "kind": kind, "label": label, "claim": claim, "source": sentence,
             "paper_id": paper.paper_id, "abstract": paper.abstract} for kind, label, claim in made]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=400, help="abstracts to draw from (of 686)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    loaded, _ = load_papers([CORPUS])
    papers = sorted({p.paper_id: p for p in loaded}.values(), key=lambda p: p.paper_id)
    words_of = {p.paper_id: content_words(p.abstract) for p in papers}
    names = sorted({m.group(1) for p in papers if (m := SHORT_NAME.match(p.title)) and ":" in p.title})
    rows = [row for paper in rng.sample(papers, min(args.papers, len(papers)))
            for row in pairs_for(paper, papers, words_of, names, rng)]
    args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    counts = {}
    for row in rows:
        counts[(row["split"], row["label"])] = counts.get((row["split"], row["label"]), 0) + 1
    print(f"{len(rows)} pairs -> {args.out}: " + ", ".join(f"{s} {l} {n}" for (s, l), n in sorted(counts.items())))


if __name__ == "__main__":
    main()
