"""The web UI: chat with streaming, cited answers and a sources panel.

    python app.py [--port 7860] [--host 127.0.0.1] [--share]

Only the public contract is used: rag.ask_stream, rag.warm_up, rag.ingest, rag.index_stats and settings.
The source cards show as soon as retrieval is done (rag.Evidence), then the answer streams beside them.
"""
from __future__ import annotations

import argparse
import html
import os
import re
import threading

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
"""


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

    def status(self) -> str:
        if self.error:
            return f"**Index problem:** {html.escape(self.error)}"
        return "Index ready." if self.ready.is_set() else "**Indexing the bundled corpus...** answers start once it is done."


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


def card(n: int, hit, quotes: list[str]) -> str:
    return (f'<div class="source-card" id="source-{n}"><h4>[{n}] {html.escape(hit.title)}</h4>'
            f'<div class="date">{html.escape(hit.date or "")}</div>'
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
    def respond(message: str, chat: list, pairs: list, k: int, preset: str, year: str):
        message = (message or "").strip()
        if not message:
            yield chat, pairs, gr.update(), ""
            return
        chat = chat + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        if not indexer.ready.is_set() or indexer.error:
            chat[-1]["content"] = indexer.status() + " Please ask again in a moment."
            yield chat, pairs, "", ""
            return
        try:
            streamed = ""
            for part in rag.ask_stream(message, k=int(k), history=pairs, year=int(year) if year not in ("", "any") else None,
                                       settings=settings_for(base, preset)):
                if isinstance(part, rag.Evidence):
                    chat[-1]["content"] = "▌"
                    yield chat, pairs, evidence_html(part), ""
                elif isinstance(part, str):
                    streamed += part
                    chat[-1]["content"] = html.escape(streamed) + " ▌"
                    yield chat, pairs, gr.update(), ""
                else:
                    answer = part
            chat[-1]["content"] = link_markers(answer.text)
            yield chat, pairs + [(message, answer.text)], sources_html(answer), ""
        except Exception as err:  # shown in the chat; the app keeps serving
            chat[-1]["content"] = f"⚠️ {html.escape(type(err).__name__)}: {html.escape(str(err))}"
            yield chat, pairs, "", ""
    return respond


def available_years(settings: rag.Settings) -> list[str]:
    try:
        found = rag.search("language models", k=50, settings=settings)
    except Exception:
        return ["any"]
    return ["any"] + sorted({str(h.year) for h in found if h.year}, reverse=True)


def build_ui(settings: rag.Settings, indexer: Indexer) -> gr.Blocks:
    presets = ["default", "fast"] + (["hosted"] if settings.openai_base_url else [])
    with gr.Blocks(title="Ask the abstracts") as demo:
        gr.Markdown("## Ask the abstracts\nAnswers come only from the indexed paper abstracts; "
                    "every sentence cites its source. " + f"If they cannot answer: *{REFUSAL}*")
        status = gr.Markdown(indexer.status())
        pairs = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=480, sanitize_html=True)
                question = gr.Textbox(label="Question", placeholder="Ask about the papers...", lines=1)
                with gr.Row():
                    send = gr.Button("Ask", variant="primary")
                    clear = gr.Button("Clear chat")
                gr.Examples(EXAMPLES, inputs=question)
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML("<p>Cited papers appear here.</p>", elem_id="sources")
                with gr.Accordion("Settings", open=False):
                    k = gr.Slider(1, 8, value=settings.k, step=1, label="Number of sources")
                    preset = gr.Radio(presets, value="default", label="Model")
                    year = gr.Dropdown(["any"], value="any", label="Year", allow_custom_value=True)
        respond = make_respond(settings, indexer)
        inputs, outputs = [question, chat, pairs, k, preset, year], [chat, pairs, sources, question]
        question.submit(respond, inputs, outputs)
        send.click(respond, inputs, outputs)
        clear.click(lambda: ([], [], "<p>Cited papers appear here.</p>"), None, [chat, pairs, sources])
        timer = gr.Timer(2.0)
        timer.tick(lambda: (indexer.status(), gr.Timer(active=not indexer.ready.is_set())), None, [status, timer])
        demo.load(lambda: gr.Dropdown(choices=available_years(settings) if indexer.ready.is_set() else ["any"]),
                  None, year)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description="Start the web UI.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    args = parser.parse_args()
    settings = rag.get_settings()
    indexer = Indexer(settings)
    indexer.start()
    # the model loads and prefills the prompt's fixed start once the index is ready, while the page serves
    threading.Thread(target=lambda: indexer.ready.wait() and rag.warm_up(settings), daemon=True).start()
    demo = build_ui(settings, indexer)
    demo.queue(default_concurrency_limit=settings.ui_concurrency, max_size=64)
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth, css=CSS)


if __name__ == "__main__":
    main()
