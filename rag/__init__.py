"""Answers questions about research papers from their abstracts, with verified citations.

    from rag import ingest, search, ask
    ingest()                                  # index the bundled corpus (once)
    answer = ask("How can LLMs be trained with 1-bit weights?")
    print(answer.text, [c.title for c in answer.citations])
"""
from .answer import ask, ask_stream, search, warm_up
from .config import Settings, get_settings
from .ingest import index_stats, ingest
from .types import Answer, Citation, Evidence, Hit, IngestReport, Paper, Skipped

__all__ = ["ask", "ask_stream", "search", "warm_up", "ingest", "index_stats", "Settings", "get_settings",
           "Answer", "Citation", "Evidence", "Hit", "IngestReport", "Paper", "Skipped"]
