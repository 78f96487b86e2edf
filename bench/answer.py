"""rag.ask beside a plain LangChain "stuff the top 4 abstracts into one prompt" chain.

    python bench/answer.py [--limit 20] [--llm local]

Same process, same model instance, same questions (a mix of single-paper,
multi-paper and unanswerable ones from eval/questions.jsonl). Prints latency
and the citation/refusal figures of both.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate  # noqa: E402

from rag.answer import ask, prompt_tokens  # noqa: E402
from rag.cite import is_refusal, markers_in  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.evaluate import fmt, load_questions, score_answer, summarise  # noqa: E402
from rag.llm import get_llm  # noqa: E402
from rag.prompt import REFUSAL  # noqa: E402
from rag.retrieve import get_retriever  # noqa: E402
from rag.support import get_checker  # noqa: E402
from rag.types import Answer, Citation, Hit  # noqa: E402

BASELINE_PROMPT = ChatPromptTemplate.from_messages([
    ("system", "Answer the question using the abstracts below. Cite the abstracts you use as [1], [2], ... "
               "If they do not answer the question, reply exactly: {refusal}"),
    ("human", "{context}\n\nQuestion: {question}"),
])
COLUMNS = ["latency_p50", "ttft_p50", "prompt_tokens", "raw_invalid_markers", "invalid_markers", "cited_precision",
           "citation_recall", "citation_precision", "fact_recall", "refusal_rate", "false_refusal_rate"]


def top_abstracts(question: str, settings, n: int = 4) -> list[Hit]:
    """Plain dense retrieval, the first n distinct papers, whole abstracts."""
    found = get_retriever(settings).vectors.similarity_search_with_relevance_scores(question, k=n * 3)
    hits: dict[str, Hit] = {}
    for doc, score in found:
        meta = doc.metadata
        hits.setdefault(meta["paper_id"], Hit(meta["paper_id"], meta["title"], meta["abstract"], score, doc.id))
    return list(hits.values())[:n]


def baseline_ask(question: str, settings) -> Answer:
    started = time.perf_counter()
    hits = top_abstracts(question, settings)
    context = "\n\n".join(f"[{n}] {h.title}\n{h.text}" for n, h in enumerate(hits, start=1))
    model = get_llm(settings)
    chain = BASELINE_PROMPT | model | StrOutputParser()
    inputs = {"context": context, "question": question, "refusal": REFUSAL}
    pieces, ttft = [], 0.0
    for piece in chain.stream(inputs):
        ttft = ttft or time.perf_counter() - started
        pieces.append(piece)
    text = "".join(pieces)
    cited = sorted({n for n in markers_in(text) if 1 <= n <= len(hits)})
    answer = Answer(text=text, refused=is_refusal(text), contexts=hits, raw_text=text,
                    citations=[Citation(n, hits[n - 1].paper_id, hits[n - 1].title, "") for n in cited],
                    timings={"ttft": ttft, "total": time.perf_counter() - started})
    answer.prompt_tokens = prompt_tokens(model, BASELINE_PROMPT.format_messages(**inputs))
    return answer


def run(name: str, answer_fn, questions: list[dict], checker) -> dict:
    rows = []
    for i, q in enumerate(questions, start=1):
        answer = answer_fn(q["question"])
        rows.append(score_answer(q, answer, checker))
        print(f"  {name} {i}/{len(questions)} {q['id']} {'refused' if answer.refused else 'answered'} "
              f"in {answer.timings['total']:.1f}s", file=sys.stderr, flush=True)
    return summarise(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--llm", default=None)
    args = parser.parse_args()
    settings = get_settings(**({"llm": args.llm} if args.llm else {}))
    questions = load_questions(limit=args.limit)
    get_llm(settings).invoke("Say OK.")  # load the model before timing anything
    checker = get_checker(settings)  # ALCE citation recall/precision for both, with the same checker
    baseline = run("baseline", lambda q: baseline_ask(q, settings), questions, checker)
    ours = run("rag.ask", lambda q: ask(q, settings=settings), questions, checker)
    print(f"{len(questions)} questions, model {settings.llm}")
    print(f"{'':22}" + "".join(f"{c:>20}" for c in COLUMNS))
    for name, summary in (("stuff top-4 chain", baseline), ("rag.ask", ours)):
        print(f"{name:22}" + "".join(f"{fmt(summary[c]):>20}" for c in COLUMNS))


if __name__ == "__main__":
    main()
