"""What the model is shown: gold answer facts in the context, and prompt tokens, per evidence strategy.

    python bench/evidence.py [--budgets 1600 2000 2400] [--index-dir DIR]

For each answerable eval question the same top-k hits are turned into context by today's per-source
focus (each hit's sentences closest to the question, up to context_chars each) and by the shared
budget of rag/evidence.py at several budgets. A gold fact counts as shown when the context of its
gold papers contains it (the eval's fact rule). Prompt tokens are the whole answer prompt, counted
with the local model's tokenizer. No LLM runs: this is about what reaches it.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.config import Settings  # noqa: E402
from rag.evaluate import fact_found, load_questions, mean  # noqa: E402
from rag.evidence import select_evidence  # noqa: E402
from rag.ingest import ingest  # noqa: E402
from rag.models import PACKAGED_MODELS, assemble  # noqa: E402
from rag.prompt import answer_messages  # noqa: E402
from rag.retrieve import focus_sentences, get_retriever  # noqa: E402


def tokenizer(settings: Settings):
    from llama_cpp import Llama
    model = Llama(model_path=str(assemble(PACKAGED_MODELS["local"], settings.model_cache_dir)), vocab_only=True, verbose=False)
    return lambda text: len(model.tokenize(text.encode(), add_bos=False, special=True))


def measure(questions, hits_of, contexts_of, count_tokens) -> tuple[int, int, float, int, int]:
    shown = total = 0
    tokens, multi_shown, multi_total = [], 0, 0
    for q in questions:
        hits = [replace(h, text=t) for h, t in zip(hits_of[q["id"]], contexts_of(q, hits_of[q["id"]]))]
        gold_text = " ".join(h.text for h in hits if h.paper_id in q["gold"])
        found = sum(fact_found(f, gold_text) for f in q["facts"])
        shown, total = shown + found, total + len(q["facts"])
        if q["type"] == "multi":
            multi_shown, multi_total = multi_shown + found, multi_total + len(q["facts"])
        tokens.append(count_tokens("\n".join(m.content for m in answer_messages(q["question"], hits))))
    return shown, total, mean(tokens), multi_shown, multi_total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", type=int, nargs="+", default=[1600, 2000, 2400])
    parser.add_argument("--index-dir", type=Path, help="an index of the bundled corpus (default: the settings' one)")
    args = parser.parse_args()
    settings = Settings(**({"index_dir": args.index_dir} if args.index_dir else {}))
    ingest(settings=settings, show_progress=False)  # adds nothing when the index is current
    questions = [q for q in load_questions() if q["gold"]]
    retriever = get_retriever(settings)
    hits_of = {q["id"]: retriever.search(q["question"], k=settings.k) for q in questions}
    count_tokens = tokenizer(settings)
    strategies = {f"per source, {settings.context_chars} chars each (today)":
                  lambda q, hits: [focus_sentences(q["question"], h.abstract, settings.context_chars) for h in hits]}
    for budget in args.budgets:
        strategies[f"shared budget, {budget} chars"] = lambda q, hits, b=budget: select_evidence(q["question"], hits, b)
    print(f"{len(questions)} answerable questions, k={settings.k}")
    print("| context | gold facts shown | multi-paper facts shown | prompt tokens (mean) | tokens vs today |\n|---|---|---|---|---|")
    baseline = None
    for name, contexts_of in strategies.items():
        shown, total, tokens, multi_shown, multi_total = measure(questions, hits_of, contexts_of, count_tokens)
        baseline = baseline or tokens
        print(f"| {name} | {shown}/{total} ({shown / total:.2f}) | {multi_shown}/{multi_total} | {tokens:.0f} | {tokens / baseline:.2f}x |")


if __name__ == "__main__":
    main()
