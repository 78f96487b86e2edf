"""The `rag` command: ingest, stats, ask, chat, eval, serve, all on the public functions."""
from __future__ import annotations

import argparse
import json
import sys

EXAMPLES = {
    "ingest": "examples:\n  rag ingest                     # the bundled corpus\n  rag ingest papers.jsonl more/  # your own files and folders\n  rag ingest --rebuild           # start the index afresh\n  rag ingest arxiv-metadata-oai-snapshot.json --category cs.CL --since 2023-01-01",
    "stats": "example:\n  rag stats",
    "ask": 'examples:\n  rag ask "How can LLM weights be made ternary?"\n  rag ask "Which work scales test-time compute?" --k 6 --llm local-fast --json',
    "chat": "example:\n  rag chat --llm local-fast     # then type questions; follow-ups keep the context",
    "serve": "examples:\n  rag serve --port 7860             # the web UI\n  rag serve --api --port 8000       # OpenAI-compatible API at http://127.0.0.1:8000/v1",
    "eval": ("examples:\n  rag eval --limit 5 --llm local-fast\n  rag eval --out eval/results/run1\n"
             "  rag eval --set natural --split dev --out eval/results/natural-dev\n"
             "  rag eval --compare eval/results/run1 eval/results/run2\n"
             "  rag eval --from-feedback .index/feedback.jsonl --out eval/feedback   # votes -> question stubs"),
}


class CliError(Exception):
    """An error shown to the user as one clean line."""


def paper_filter(args):
    from datetime import date
    from .load import PaperFilter
    try:
        since = date.fromisoformat(args.since) if args.since else None
    except ValueError:
        raise CliError(f"--since {args.since!r} is not a date; write it as YYYY-MM-DD, e.g. 2023-01-01") from None
    return PaperFilter(tuple(args.category or ()), since)


def cmd_ingest(args) -> int:
    from . import ingest
    report = ingest(args.paths or None, rebuild=args.rebuild, wanted=paper_filter(args))
    print(report.summary())
    return 0


def cmd_stats(args) -> int:
    from . import index_stats, model_speed, warm_up
    settings = settings_from(args)
    print(json.dumps(index_stats(settings), indent=2), flush=True)
    if not args.no_model:
        print("measuring the model's prefill rate (rag stats --no-model skips it)...", file=sys.stderr)
        warm_up(settings)
    print(json.dumps(model_speed(settings), indent=2))
    return 0


def settings_from(args):
    from .config import get_settings
    overrides = {"llm": args.llm} if getattr(args, "llm", None) else {}
    return get_settings(**overrides)


def format_evidence(evidence) -> str:
    if not evidence.hits:
        return "Sources: none found.\n"
    lines = ["Sources:"]
    for n, hit in enumerate(evidence.hits, start=1):
        lines.append(f"[{n}] {hit.title}" + (f" ({hit.date})" if hit.date else ""))
    return "\n".join(lines) + "\n"


def format_answer(answer) -> str:
    lines = [answer.text]
    if answer.citations:
        lines.append("")
        lines.append("References:")
        for c in answer.citations:
            date = f" ({c.date})" if c.date else ""
            lines.append(f"[{c.n}] {c.title}{date}")
            lines.append(f'    "{c.quote}"')
    return "\n".join(lines)


def answer_json(answer) -> str:
    from dataclasses import asdict
    return json.dumps(asdict(answer), indent=2, ensure_ascii=False)


def answer_showing_sources(question: str, settings, show_sources: bool = True, **options):
    """The final Answer of ask_stream; the sources are printed as soon as they are found."""
    from . import Answer, Evidence, ask_stream
    for part in ask_stream(question, settings=settings, **options):
        if isinstance(part, Evidence) and show_sources:
            print(format_evidence(part), flush=True)
        elif isinstance(part, Answer):
            return part


def cmd_ask(args) -> int:
    answer = answer_showing_sources(args.question, settings_from(args), show_sources=not args.json,
                                    k=args.k, year=args.year)
    print(answer_json(answer) if args.json else format_answer(answer))
    return 0


def start_warm_up(settings) -> None:
    """Loads the model and prefills the prompt's fixed start while the user types."""
    import threading
    from . import warm_up
    threading.Thread(target=warm_up, args=(settings,), daemon=True).start()


def cmd_chat(args) -> int:
    settings = settings_from(args)
    start_warm_up(settings)
    history: list[tuple[str, str]] = []
    print("Ask about the indexed papers; an empty line or Ctrl-D ends the chat.")
    while True:
        try:
            question = input("\nyou> ").strip()
        except EOFError:
            return 0
        if not question:
            return 0
        answer = answer_showing_sources(question, settings, k=args.k, history=history)
        print(format_answer(answer))
        history.append((question, answer.text))


def serve_api(args) -> int:
    import uvicorn

    from . import index_stats, ingest
    from .api import make_api
    from .config import get_settings
    settings = get_settings()
    if index_stats(settings)["chunks"] == 0:
        print("Indexing the bundled corpus (first start)...", flush=True)
        print(ingest(settings=settings).summary(), flush=True)
    start_warm_up(settings)
    print(f"OpenAI-compatible API at http://{args.host}:{args.port}/v1 (model {settings.api_model!r})", flush=True)
    uvicorn.run(make_api(settings), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_serve(args) -> int:
    import runpy
    from .config import PROJECT_DIR
    if args.api:
        return serve_api(args)
    sys.argv = ["app.py", "--port", str(args.port), "--host", args.host]
    runpy.run_path(str(PROJECT_DIR / "app.py"), run_name="__main__")
    return 0


def cmd_eval(args) -> int:
    from datetime import datetime
    from pathlib import Path

    from .config import PROJECT_DIR
    from .evaluate import compare, run_eval, summary_table, write_report
    if args.compare:
        print(compare(Path(args.compare[0]), Path(args.compare[1])))
        return 0
    if args.from_feedback:
        return questions_from_votes(Path(args.from_feedback), Path(args.out or PROJECT_DIR / "eval" / "feedback"))
    out = Path(args.out) if args.out else PROJECT_DIR / "eval" / "results" / datetime.now().strftime("%Y%m%d-%H%M%S")
    result = run_eval(settings_from(args), limit=args.limit, k=args.k, question_set=args.set, split=args.split)
    write_report(result, out)
    print(summary_table(result["summary"]))
    print(f"\nwrote {out}/results.json, report.md and metrics.png")
    return 0


def questions_from_votes(votes_file, out) -> int:
    from .feedback import questions_from_feedback, read_feedback, write_jsonl
    if not votes_file.is_file():
        raise CliError(f"{votes_file}: no such feedback file")
    questions, review = questions_from_feedback(read_feedback(votes_file))
    write_jsonl(questions, out / "questions.jsonl")
    write_jsonl(review, out / "review.jsonl")
    print(f"{len(questions)} eval questions from upvoted answers -> {out / 'questions.jsonl'} (add facts, then copy them "
          f"into eval/questions.jsonl)\n{len(review)} downvoted answers to review -> {out / 'review.jsonl'}")
    return 0


def add_answer_options(sub) -> None:
    sub.add_argument("--k", type=int, default=None, help="number of sources (default: settings.k)")
    sub.add_argument("--llm", default=None, help="local, local-fast, openai, or a .gguf path (default: RAG_LLM)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Answer questions from research-paper abstracts, with citations.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="run `rag COMMAND --help` for examples")
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str, handler):
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES.get(name),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(handler=handler)
        return sub

    ingest = add("ingest", "Index abstracts (.txt page dumps, .jsonl, .csv).", cmd_ingest)
    ingest.add_argument("paths", nargs="*", help="files or folders (default: the bundled corpus)")
    ingest.add_argument("--rebuild", action="store_true", help="drop the index and build it again")
    ingest.add_argument("--category", action="append", metavar="CAT",
                        help="only papers with this category among their space-separated categories "
                             "('cs' takes every cs.*); repeat for any of several")
    ingest.add_argument("--since", metavar="YYYY-MM-DD",
                        help="only papers dated on or after this day (date, else update_date, else first version)")
    stats = add("stats", "Show what the index holds, the model, its measured prefill rate and the prompt budget.",
                cmd_stats)
    stats.add_argument("--no-model", action="store_true", help="do not load the model to measure its speed")
    stats.add_argument("--llm", default=None, help="local, local-fast, openai, or a .gguf path (default: RAG_LLM)")
    ask = add("ask", "Answer one question, with numbered references.", cmd_ask)
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    ask.add_argument("--year", type=int, default=None, help="only papers dated in this year")
    add_answer_options(ask)
    add_answer_options(add("chat", "Chat in the terminal; follow-up questions keep the context.", cmd_chat))
    evaluate = add("eval", "Run the grounding eval set and write a report.", cmd_eval)
    evaluate.add_argument("--limit", type=int, default=None, help="only the first N questions")
    evaluate.add_argument("--set", default="questions", choices=["questions", "natural"],
                          help="eval/questions.jsonl (default) or eval/natural/questions.jsonl")
    evaluate.add_argument("--split", default=None, choices=["train", "dev", "test"],
                          help="only this part of the set (test: for reporting only)")
    evaluate.add_argument("--out", default=None, help="output folder (default: eval/results/<timestamp>)")
    evaluate.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), help="print two runs' metrics side by side")
    evaluate.add_argument("--from-feedback", metavar="FILE", help="turn the web UI's votes into eval-question stubs "
                          "(questions.jsonl) and a review list (review.jsonl) in --out (default: eval/feedback)")
    add_answer_options(evaluate)
    serve = add("serve", "Start the web UI (same as python app.py), or the OpenAI-compatible API.", cmd_serve)
    serve.add_argument("--api", action="store_true", help="serve /v1/chat/completions and /v1/models instead of the UI")
    serve.add_argument("--port", type=int, default=None, help="port (default: 7860 for the UI, 8000 for the API)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve" and args.port is None:
        args.port = 8000 if args.api else 7860
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # every error reaches the user as one readable line
        if type(err).__name__ in {"AttributeError", "TypeError", "NameError"}:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
