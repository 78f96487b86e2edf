"""The `rag` command: ingest, stats, ask, chat, eval, serve, all on the public functions."""
from __future__ import annotations

import argparse
import json
import sys

EXAMPLES = {
    "ingest": "examples:\n  rag ingest                     # the bundled corpus\n  rag ingest papers.jsonl more/  # your own files and folders\n  rag ingest --rebuild           # start the index afresh",
    "stats": "example:\n  rag stats",
}


class CliError(Exception):
    """An error shown to the user as one clean line."""


def cmd_ingest(args) -> int:
    from . import ingest
    report = ingest(args.paths or None, rebuild=args.rebuild)
    print(report.summary())
    return 0


def cmd_stats(args) -> int:
    from . import index_stats
    print(json.dumps(index_stats(), indent=2))
    return 0


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
    add("stats", "Show what the index holds.", cmd_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
