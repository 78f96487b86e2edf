"""The web UI in a real browser (Debian's Chromium driven by Playwright) against `python app.py`
running the fast local model on a small real index."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.config import PROJECT_DIR, Settings
from rag.ingest import ingest

from .helpers import free_port, stop, stream_words, wait_for_http
from .test_answer import PAPERS

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
XSS_PAPER = {"id": "xss", "title": 'Robust Attention <img src=x onerror="window.__xss=1;alert(1)">',
             "abstract": "Robust attention routes every token through exactly seven attention heads. "
                         "<script>window.__xss=2;alert(2)</script> It keeps accuracy under noisy inputs."}


@pytest.fixture(scope="module")
def ui_index(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run does this)")
    folder = tmp_path_factory.mktemp("ui")
    planted = folder / "planted.jsonl"
    planted.write_text("".join(json.dumps(p) + "\n" for p in PAPERS + [XSS_PAPER]))
    ingest([Settings().corpus_dir / "004_0245eb3260a63d8e.txt", planted], settings=Settings(index_dir=folder / "index"))
    return folder


def start_app(folder, **env_overrides):
    port = free_port()
    env = {**os.environ, "RAG_INDEX_DIR": str(folder / "index"), **env_overrides}
    process = subprocess.Popen([sys.executable, str(PROJECT_DIR / "app.py"), "--port", str(port)], env=env,
                               stdout=open(folder / f"app-{port}.log", "w"), stderr=subprocess.STDOUT)
    wait_for_http(f"http://127.0.0.1:{port}/", process, timeout=120)
    return process, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def app_url(ui_index):
    process, url = start_app(ui_index, RAG_LLM="local-fast", RAG_JUDGE="false")  # the judge's offset is the 1.5B's
    yield url
    stop(process)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        yield page
        browser.close()


def ask_in_page(page, question: str, turn: int) -> None:
    box = page.get_by_label("Question")
    box.fill(question)
    box.press("Enter")
    wait_for_answer(page, turn)


def wait_for_answer(page, turn: int) -> None:
    # the turn is done when the streaming cursor is gone from the last bot message
    page.wait_for_function(
        """(turn) => { const bots = document.querySelectorAll('[data-testid="bot"]');
                        return bots.length >= turn && !bots[bots.length - 1].innerText.includes('▌')
                               && bots[bots.length - 1].innerText.trim().length > 0; }""",
        arg=turn, timeout=180_000)


def test_a_question_streams_a_cited_answer_with_its_source_card(app_url, page, tmp_path):
    page.goto(app_url)
    ask_in_page(page, "How does the mixture-of-experts translation model keep compute per token constant?", 1)
    marker = page.locator("a.cite").first
    marker.wait_for(timeout=10_000)
    number = marker.inner_text().strip("[]")
    card = page.locator(f"#sources #source-{number}")
    assert card.count() == 1
    assert "Sparse Experts for Translation" in card.inner_text()
    assert card.locator("mark").count() == 1  # the supporting quote is highlighted
    ask_in_page(page, "How many experts does it use?", 2)
    follow_up = page.locator('[data-testid="bot"]').nth(1)
    assert "64" in follow_up.inner_text()  # "it" was resolved to the translation model from the history
    assert follow_up.locator("a.cite").count() >= 1
    assert "Sparse Experts for Translation" in page.locator("#sources").inner_text()
    page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)
    assert (tmp_path / "ui.png").stat().st_size > 10_000


class SlowLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint that writes nothing until `release` is set, then streams
    a supported answer citing the translation paper by the number the prompt gives it."""
    release = threading.Event()
    requests = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        n = re.search(r"\[(\d+)\] Sparse Experts for Translation:", prompt).group(1)
        SlowLLM.requests += 1
        self.release.wait(timeout=120)
        stream_words(self, body["model"], f"Routing each token to two experts keeps the compute per token constant [{n}].")

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_llm():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), SlowLLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SlowLLM.release.clear()
    SlowLLM.requests = 0
    yield f"http://127.0.0.1:{server.server_port}/v1"
    SlowLLM.release.set()
    server.shutdown()


def test_source_cards_show_before_the_first_answer_token(ui_index, page, slow_llm, tmp_path):
    process, url = start_app(ui_index, RAG_LLM="openai", RAG_OPENAI_BASE_URL=slow_llm, RAG_OPENAI_MODEL="slow")
    try:
        page.goto(url)
        box = page.get_by_label("Question")
        box.fill("How does the mixture-of-experts translation model keep compute per token constant?")
        box.press("Enter")
        page.locator("#sources .source-card").first.wait_for(timeout=60_000)
        # the model has not written a word yet: the cards came from the evidence
        assert page.locator('[data-testid="bot"]').last.inner_text().replace("▌", "").strip() == ""
        assert not SlowLLM.release.is_set()
        sources = page.locator("#sources")
        assert "Sparse Experts for Translation" in sources.inner_text() and sources.locator("mark").count() >= 1
        page.screenshot(path=str(tmp_path / "evidence.png"), full_page=True)
        SlowLLM.release.set()
        wait_for_answer(page, 1)
        number = page.locator("a.cite").first.inner_text().strip("[]")
        card = page.locator(f"#sources #source-{number}")
        assert "Sparse Experts for Translation" in card.inner_text() and card.locator("mark").count() == 1
        assert page.locator("#sources .source-card").count() == 1  # now only the cited source
        assert SlowLLM.requests == 1
    finally:
        stop(process)


def test_html_in_the_corpus_shows_as_text_and_runs_nothing(app_url, page):
    page.goto(app_url)
    ask_in_page(page, "How many attention heads does robust attention route every token through?", 1)
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
    assert page.locator("#sources img").count() == 0 and page.locator("#sources script").count() == 0
    sources_text = page.locator("#sources").inner_text()
    if "Robust Attention" in sources_text:
        assert "<img" in sources_text  # the title's markup is shown as text


def test_a_broken_backend_shows_a_readable_error_and_the_app_keeps_serving(ui_index, page):
    process, url = start_app(ui_index, RAG_LLM="openai", RAG_OPENAI_BASE_URL="")
    try:
        page.goto(url)
        ask_in_page(page, "How does the mixture-of-experts translation model keep compute constant?", 1)
        reply = page.locator('[data-testid="bot"]').last.inner_text()
        assert "RAG_OPENAI_BASE_URL" in reply and "Traceback" not in reply
        ask_in_page(page, "What does the KV cache paper quantize?", 2)  # still serving
        assert "RAG_OPENAI_BASE_URL" in page.locator('[data-testid="bot"]').last.inner_text()
    finally:
        stop(process)


def test_rag_auth_puts_the_chat_behind_a_login(ui_index, page):
    process, url = start_app(ui_index, RAG_LLM="local-fast", RAG_AUTH="reader:s3cret")
    try:
        page.goto(url)
        page.get_by_label("username").fill("reader")
        page.get_by_label("password").fill("wrong")
        page.get_by_role("button", name="Login").click()
        page.get_by_text("Incorrect").wait_for(timeout=30_000)
        assert page.get_by_label("Question").count() == 0
        page.goto(url)
        page.get_by_label("username").fill("reader")
        page.get_by_label("password").fill("s3cret")
        page.get_by_role("button", name="Login").click()
        page.get_by_label("Question").wait_for(timeout=60_000)
    finally:
        stop(process)
