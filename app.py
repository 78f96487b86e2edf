"""The web UI: chat with streaming, cited answers and a sources panel.

    python app.py [--port 7860] [--host 127.0.0.1] [--share]

Only the public contract is used: rag.ask_stream, rag.warm_up, rag.model_speed, rag.ingest, rag.index_stats, the collection
functions (rag.ingest_uploads, rag.list_papers, rag.remove_upload), rag.answer_markdown, rag.paper_link,
rag.record_feedback and settings.
The source cards show as soon as retrieval is done (rag.Evidence), then the answer streams beside them.
The Collection tab uploads files into the index and lists what it holds.
"""
from __future__ import annotations

import argparse
import html
import os
import re
import threading
from pathlib import Path

import gradio as gr

import rag
from rag.prompt import REFUSAL

EXAMPLES = [
    "What is BitNet b1.58 and what values do its weights take?",
    "How much does repeated sampling raise the share of SWE-bench Lite issues solved?",
    "What is decentralized training of diffusion models?",
]
PRESETS = {"default": None, "fast": "local-fast", "hosted": "openai"}
CSS = """
.source-card {border: 1px solid #d0d7de; border-radius: 8px; padding: 10px; margin-bottom: 10px;}
.source-card h4 {margin: 0 0 4px 0;} .source-card .date {color: #666; font-size: 0.9em;}
.source-card mark {background: #fff3a3;} a.cite {text-decoration: none; font-weight: 600;}
.source-card a.paper-link {font-size: 0.9em;}
"""
UPLOAD_TYPES = [".jsonl", ".csv", ".txt", ".zip"]
# copies the answer's Markdown (the textbox given as input) to the clipboard
COPY_JS = "(text) => { navigator.clipboard.writeText(text || ''); return text; }"


class Indexer:
    """Builds the index in the background on first start, so the page serves at once."""

    def __init__(self, settings: rag.Settings):
        self.settings = settings
        self.ready = threading.Event()
        self.error: str | None = None

    def start(self) -> None:
        try:
            if rag.index_stats(self.settings)["chunks"] > 0:
                self.ready.set()
                return
        except Exception as err:  # a broken index is reported in the page, not a crash
            self.error = str(err)
            return
        threading.Thread(target=self._build, daemon=True).start()

    def _build(self) -> None:
        try:
            print("Indexing the bundled corpus (first start)...")
            print(rag.ingest(settings=self.settings, show_progress=True).summary())
        except Exception as err:
            self.error = f"indexing failed: {err}"
        finally:
            self.ready.set()

    def settled(self) -> bool:
        """Nothing left for the status line to wait for: the index is built and the model's speed known."""
        hosted = self.settings.llm == "openai"
        return self.ready.is_set() and (hosted or rag.model_speed(self.settings)["prefill_tokens_per_s"] is not None)

    def status(self) -> str:
        if self.error:
            return f"**Index problem:** {html.escape(self.error)}"
        if not self.ready.is_set():
            return "**Indexing the bundled corpus...** answers start once it is done."
        speed = rag.model_speed(self.settings)
        rate = f"{speed['prefill_tokens_per_s']:g} prompt tokens/s" if speed["prefill_tokens_per_s"] else "speed not measured yet"
        return f"Index ready. Model `{speed['model']}`: {rate}; reads {speed['prompt_budget']}."


def link_markers(text: str) -> str:
    """Escape the answer and turn [n] into links to the source cards."""
    return re.sub(r"\[(\d+)\]", r'<a class="cite" href="#source-\1">[\1]</a>', html.escape(text))


def highlight(abstract: str, quotes: list[str]) -> str:
    """The escaped abstract with each quote found in it marked."""
    marked = html.escape(abstract)
    for quote in quotes:
        mark = html.escape(quote)
        if mark and mark in marked:
            marked = marked.replace(mark, f"<mark>{mark}</mark>", 1)
    return marked


def id_link(paper_id: str) -> str:
    """The paper id, linked to arXiv or doi.org when it is one of theirs."""
    link = rag.paper_link(paper_id)
    if not link:
        return ""
    return f' · <a class="paper-link" href="{html.escape(link)}" target="_blank" rel="noopener noreferrer">{html.escape(link)}</a>'


def card(n: int, hit, quotes: list[str]) -> str:
    return (f'<div class="source-card" id="source-{n}"><h4>[{n}] {html.escape(hit.title)}</h4>'
            f'<div class="date">{html.escape(hit.date or "")}{id_link(hit.paper_id)}</div>'
            f"<p>{highlight(hit.abstract or hit.text, quotes)}</p></div>")


def evidence_html(evidence) -> str:
    """The sources found, before the answer: the sentences the model reads are highlighted."""
    if not evidence.hits:
        return "<p>No matching sources found.</p>"
    cards = [card(n, hit, sentences) for n, (hit, sentences) in enumerate(zip(evidence.hits, evidence.sentences), start=1)]
    return '<p class="note">Sources found; the highlighted sentences are what the model reads.</p>\n' + "\n".join(cards)


def sources_html(answer) -> str:
    """The cited sources, after the answer: each supporting quote is highlighted."""
    if answer.refused or not answer.citations:
        return "<p>No sources: the answer was refused.</p>" if answer.refused else ""
    return "\n".join(card(c.n, answer.contexts[c.n - 1], [c.quote]) for c in answer.citations)


def settings_for(base: rag.Settings, preset: str) -> rag.Settings:
    llm = PRESETS.get(preset)
    return base.model_copy(update={"llm": llm}) if llm else base


def make_respond(base: rag.Settings, indexer: Indexer):
    """Streams one turn; outputs: chat, pairs, sources, question box, answer Markdown, answered turns."""
    def respond(message: str, chat: list, pairs: list, answered: dict, k: int, preset: str, year: str):
        message = (message or "").strip()
        if not message:
            yield chat, pairs, gr.update(), "", gr.update(), answered
            return
        chat = chat + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        if not indexer.ready.is_set() or indexer.error:
            chat[-1]["content"] = indexer.status() + " Please ask again in a moment."
            yield chat, pairs, "", "", gr.update(), answered
            return
        try:
            streamed = ""
            for part in rag.ask_stream(message, k=int(k), history=pairs, year=int(year) if year not in ("", "any") else None,
                                       settings=settings_for(base, preset)):
                if isinstance(part, rag.Evidence):
                    chat[-1]["content"] = "▌"
                    yield chat, pairs, evidence_html(part), "", gr.update(), answered
                elif isinstance(part, str):
                    streamed += part
                    chat[-1]["content"] = html.escape(streamed) + " ▌"
                    yield chat, pairs, gr.update(), "", gr.update(), answered
                else:
                    answer = part
            chat[-1]["content"] = link_markers(answer.text)
            # the turn's record for a thumbs up/down, by the index of its message in the chat
            answered = {**answered, len(chat) - 1: {"question": message, "answer": answer.text,
                                                    "cited": [c.paper_id for c in answer.citations]}}
            yield (chat, pairs + [(message, answer.text)], sources_html(answer), "", rag.answer_markdown(answer),
                   answered)
        except Exception as err:  # shown in the chat; the app keeps serving
            chat[-1]["content"] = f"⚠️ {html.escape(type(err).__name__)}: {html.escape(str(err))}"
            yield chat, pairs, "", "", gr.update(), answered
    return respond


def make_vote(settings: rag.Settings):
    def vote(answered: dict, data: gr.LikeData) -> None:
        turn = answered.get(data.index if isinstance(data.index, int) else data.index[0])
        # a message without a verified answer (an error, a notice) gets no vote, nor does an undone vote
        if turn and data.liked in (True, False):
            rag.record_feedback(turn["question"], turn["answer"], turn["cited"], data.liked, settings)
    return vote


def available_years(settings: rag.Settings) -> list[str]:
    try:
        found = rag.search("language models", k=50, settings=settings)
    except Exception:
        return ["any"]
    return ["any"] + sorted({str(h.year) for h in found if h.year}, reverse=True)


def source_label(source: str, settings: rag.Settings) -> str:
    """An uploaded file by its path inside the uploads folder, any other by its name."""
    path = Path(source)
    if path.is_relative_to(settings.uploads_folder):
        return str(path.relative_to(settings.uploads_folder))
    return path.name


def collection_view(settings: rag.Settings, query: str = ""):
    """The paper count, the table rows matching the query, and the source files to choose from."""
    papers = rag.list_papers(settings)
    query = (query or "").strip().lower()
    rows = [[p.title, p.date, p.paper_id, source_label(p.source, settings)] for p in papers]
    shown = [row for row in rows if not query or any(query in cell.lower() for cell in row)]
    count = f"**{len(papers)} papers indexed**" + (f", {len(shown)} match '{html.escape(query)}'" if query else "")
    sources = sorted({p.source for p in papers})
    choices = [(source_label(s, settings), s) for s in sources]
    return count, shown, gr.Dropdown(choices=choices, value=None)


def make_collection_handlers(settings: rag.Settings, indexer: Indexer):
    def add_files(paths: list[str] | None, query: str, progress=gr.Progress(track_tqdm=True)):
        if not paths:
            return (gr.update(), *collection_view(settings, query), None)
        if not indexer.ready.is_set():
            return ("The bundled corpus is still being indexed; upload again in a moment.",
                    *collection_view(settings, query), None)
        progress(0, desc="Reading the files")
        try:
            summary = rag.ingest_uploads(paths, settings=settings, show_progress=True).summary()
        except Exception as err:  # the index is left as it was; the page keeps serving
            summary = f"error: {type(err).__name__}: {err}"
        return (summary, *collection_view(settings, query), None)

    def remove(source: str | None, query: str):
        if not source:
            return ("Choose a source file first.", *collection_view(settings, query))
        removed = rag.remove_upload(source, settings)
        return (f"Removed {removed} papers of {source_label(source, settings)}.", *collection_view(settings, query))
    return add_files, remove


def collection_tab(settings: rag.Settings, indexer: Indexer) -> list:
    gr.Markdown("Add your own papers: JSON lines or CSV with `id`, `title`, `abstract` (and optionally `authors`, "
                "`date`, `categories`), Daily Papers `.txt` page dumps, or a folder of them as a `.zip`; "
                f"up to {settings.upload_max_mb:g} MB. Entries that cannot be read are listed with file, line and "
                "reason; the rest is indexed and the existing index is left intact.")
    files = gr.File(label="Upload papers", file_count="multiple", file_types=UPLOAD_TYPES, elem_id="upload")
    summary = gr.Textbox(label="Ingest summary", lines=6, interactive=False, elem_id="ingest-summary")
    count = gr.Markdown(elem_id="paper-count")
    query = gr.Textbox(label="Search the indexed papers", placeholder="title, id or file", elem_id="paper-search")
    table = gr.Dataframe(headers=["title", "date", "id", "source file"], interactive=False, wrap=True,
                         elem_id="papers")
    with gr.Row():
        source = gr.Dropdown(label="Source file", choices=[], elem_id="source-file")
        remove_button = gr.Button("Remove this file's papers", variant="stop")
    add_files, remove = make_collection_handlers(settings, indexer)
    view = [count, table, source]
    # one write to the index at a time, whichever button started it
    files.upload(add_files, [files, query], [summary, *view, files], concurrency_limit=1, concurrency_id="index-writes")
    remove_button.click(remove, [source, query], [summary, *view], concurrency_limit=1, concurrency_id="index-writes")
    query.change(lambda q: collection_view(settings, q), query, view)
    return view


def build_ui(settings: rag.Settings, indexer: Indexer) -> gr.Blocks:
    presets = ["default", "fast"] + (["hosted"] if settings.openai_base_url else [])
    with gr.Blocks(title="Ask the abstracts") as demo:
        gr.Markdown("## Ask the abstracts\nAnswers come only from the indexed paper abstracts; "
                    "every sentence cites its source. " + f"If they cannot answer: *{REFUSAL}*")
        status = gr.Markdown(indexer.status())
        pairs, answered = gr.State([]), gr.State({})
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Chat", height=480, sanitize_html=True)
                    question = gr.Textbox(label="Question", placeholder="Ask about the papers...", lines=1)
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary")
                        copy = gr.Button("Copy as Markdown", elem_id="copy-markdown")
                        clear = gr.Button("Clear chat")
                    with gr.Accordion("Answer as Markdown", open=False):
                        markdown = gr.Textbox(label="Answer as Markdown", lines=6, interactive=False,
                                              buttons=["copy"], elem_id="answer-markdown")
                    gr.Examples(EXAMPLES, inputs=question)
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    sources = gr.HTML("<p>Cited papers appear here.</p>", elem_id="sources")
                    with gr.Accordion("Settings", open=False):
                        k = gr.Slider(1, 8, value=settings.k, step=1, label="Number of sources")
                        preset = gr.Radio(presets, value="default", label="Model")
                        year = gr.Dropdown(["any"], value="any", label="Year", allow_custom_value=True)
        with gr.Tab("Collection"):
            count, table, source = collection_tab(settings, indexer)
        respond = make_respond(settings, indexer)
        inputs = [question, chat, pairs, answered, k, preset, year]
        outputs = [chat, pairs, sources, question, markdown, answered]
        question.submit(respond, inputs, outputs)
        send.click(respond, inputs, outputs)
        copy.click(None, markdown, None, js=COPY_JS)
        chat.like(make_vote(settings), answered, None)
        chat.clear(lambda: ([], {}), None, [pairs, answered])  # the chat's own trash button
        clear.click(lambda: ([], [], {}, "<p>Cited papers appear here.</p>", ""), None,
                    [chat, pairs, answered, sources, markdown])
        timer = gr.Timer(2.0)
        timer.tick(lambda: (indexer.status(), gr.Timer(active=not indexer.settled())), None, [status, timer])
        demo.load(lambda: gr.Dropdown(choices=available_years(settings) if indexer.ready.is_set() else ["any"]),
                  None, year)
        demo.load(lambda: collection_view(settings), None, [count, table, source])
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description="Start the web UI.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    args = parser.parse_args()
    settings = rag.get_settings()
    # Gradio's own copy of each upload stays inside the data folder too
    os.environ.setdefault("GRADIO_TEMP_DIR", str(settings.index_dir / "gradio-cache"))
    indexer = Indexer(settings)
    demo = build_ui(settings, indexer)
    # after build_ui: its upload progress patches tqdm, and a bar made before the patch fails on close
    indexer.start()
    # the model loads and prefills the prompt's fixed start once the index is ready, while the page serves
    threading.Thread(target=lambda: indexer.ready.wait() and rag.warm_up(settings), daemon=True).start()
    demo.queue(default_concurrency_limit=settings.ui_concurrency, max_size=64)
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth, css=CSS,
                max_file_size=int(settings.upload_max_mb * 1_000_000))


if __name__ == "__main__":
    main()
