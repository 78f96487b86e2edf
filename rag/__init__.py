"""Answers questions about research papers from their abstracts, with verified citations.

    from rag import ingest, search, ask
    ingest()                                  # index the bundled corpus (once)
    answer = ask("How can LLMs be trained with 1-bit weights?")
    print(answer.text, [c.title for c in answer.citations])
"""
from .answer import ask, ask_stream, model_speed, search, warm_up
from .config import Settings, get_settings
from .feedback import record_feedback
from .ingest import index_stats, ingest, list_papers, remove_source
from .references import answer_markdown, paper_link
from .types import Answer, Citation, Evidence, Hit, IndexedPaper, IngestReport, Paper, Skipped
from .upload import ingest_uploads, remove_upload

__all__ = ["ask", "ask_stream", "search", "warm_up", "model_speed", "ingest", "index_stats", "list_papers", "remove_source",
           "ingest_uploads", "remove_upload", "answer_markdown", "paper_link", "record_feedback", "Settings",
           "get_settings", "Answer", "Citation", "Evidence", "Hit", "IndexedPaper", "IngestReport", "Paper", "Skipped"]
