"""The Collection tab and the answers people take away, in a real browser (Debian's Chromium driven by
Playwright) against `python app.py` on a small real index, with a scripted OpenAI-compatible model server.

RAG_SCREENSHOTS=docs/screenshots saves the screenshots there (default: the test's temp folder)."""
from __future__ import annotations

import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .helpers import free_port, stop, stream_words
from .test_ui_browser import CHROMIUM, CHROMIUM_ARGS, ask_in_page, start_app, ui_index  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration
UPLOADED = [
    {"id": "2403.01234", "title": "Photonic Accelerators for Sparse Attention", "date": "2024-03-04",
     "abstract": "We build a photonic chip that computes sparse attention with light. "
                 "The chip runs attention 12 times faster than a GPU at the same power. "
                 "It supports sequences of up to 8192 tokens."},
    {"id": "10.5555/soil.2024.7", "title": "Soil Moisture Forecasting with Graph Networks", "date": "2024-02-11",
     "abstract": "We forecast soil moisture with a graph network over 1,200 sensor stations. "
                 "The forecasts cut irrigation water use by 18 percent on test farms."},
]
ANSWERS = {"Photonic Accelerators for Sparse Attention": "The chip runs attention 12 times faster than a GPU at the same power"}
TIMEOUT = 120_000


class ScriptedLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint: answers with a known paper's sentence, cited by the number
    the prompt gives that paper."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        reply = "The available abstracts do not answer this question."
        for title, sentence in ANSWERS.items():
            if found := re.search(rf"\[(\d+)\] {re.escape(title)}:", prompt):
                reply = f"{sentence} [{found.group(1)}]."
        stream_words(self, body["model"], reply)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def app(ui_index):
    """The app with the scripted model; yields (url, index folder)."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), ScriptedLLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    process, url = start_app(ui_index, RAG_LLM="openai", RAG_OPENAI_BASE_URL=f"http://127.0.0.1:{server.server_port}/v1",
                             RAG_OPENAI_MODEL="scripted")
    yield url, ui_index
    stop(process)
    server.shutdown()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      permissions=["clipboard-read", "clipboard-write"])
        yield context.new_page()
        browser.close()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("RAG_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_collection(page, url: str) -> int:
    """Opens the Collection tab; returns the number of papers it says are indexed."""
    page.goto(url)
    page.get_by_role("tab", name="Collection").click()
    count = page.locator("#paper-count")
    expect(count).to_contain_text("papers indexed", timeout=TIMEOUT)
    return int(re.search(r"(\d+) papers indexed", count.inner_text()).group(1))


def upload(page, path: Path) -> str:
    """Uploads one file; returns the ingest summary once it is shown."""
    summary = page.locator("#ingest-summary textarea")
    previous = summary.input_value()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.wait_for_function("""(previous) => { const box = document.querySelector('#ingest-summary textarea');
                                              return box.value !== previous && box.value.includes('papers in index'); }""",
                           arg=previous, timeout=TIMEOUT)
    return summary.input_value()


def wait_for_line(path: Path, page) -> str:
    """The last complete line of path, waiting while the app creates and writes it."""
    for _ in range(40):
        text = path.read_text() if path.exists() else ""
        if text.endswith("\n"):
            return text.splitlines()[-1]
        page.wait_for_timeout(250)
    raise AssertionError(f"{path} was not written")


def test_uploaded_papers_are_listed_asked_about_cited_with_links_and_copied(app, page, tmp_path, screenshots):
    url, folder = app
    before = open_collection(page, url)
    papers = tmp_path / "my-papers.jsonl"
    papers.write_text("".join(json.dumps(p) + "\n" for p in UPLOADED))
    summary = upload(page, papers)
    assert f"papers in index: {before + 2}" in summary and "chunks added: 2" in summary and "skipped: 0" in summary
    expect(page.locator("#paper-count")).to_contain_text(f"{before + 2} papers indexed")
    search = page.locator("#paper-search input, #paper-search textarea").first
    search.fill("my-papers")
    expect(page.locator("#paper-count")).to_contain_text("2 match 'my-papers'")
    table = page.locator("#papers")
    for paper in UPLOADED:
        assert paper["title"] in table.inner_text() and paper["id"] in table.inner_text()
    assert table.inner_text().count("my-papers.jsonl") == 2 and "2024-03-04" in table.inner_text()
    search.fill("photonic")
    expect(page.locator("#paper-count")).to_contain_text("1 match 'photonic'")
    assert "Soil Moisture" not in table.inner_text()
    search.fill("my-papers")
    expect(page.locator("#paper-count")).to_contain_text("2 match")
    page.screenshot(path=str(screenshots / "collection.png"), full_page=True)

    page.get_by_role("tab", name="Chat").click()
    ask_in_page(page, "How much faster than a GPU does the photonic chip run attention?", 1)
    number = page.locator("a.cite").first.inner_text().strip("[]")
    card = page.locator(f"#sources #source-{number}")
    assert "Photonic Accelerators for Sparse Attention" in card.inner_text()
    assert card.locator('a[href="https://arxiv.org/abs/2403.01234"]').count() == 1
    page.screenshot(path=str(screenshots / "answer-with-linked-sources.png"), full_page=True)

    page.get_by_role("button", name="Copy as Markdown").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("The chip runs attention 12 times faster than a GPU at the same power [1].")
    assert "- [1] Photonic Accelerators for Sparse Attention (https://arxiv.org/abs/2403.01234)" in copied

    page.locator('[data-testid="bot"]').last.hover()
    page.get_by_role("button", name=re.compile("^like$", re.I)).last.click()
    vote = json.loads(wait_for_line(folder / "index" / "feedback.jsonl", page))
    assert vote["vote"] == "up" and vote["citations"] == ["2403.01234"] and "photonic chip" in vote["question"]


def test_a_broken_upload_shows_its_error_and_removing_a_file_drops_its_papers(app, page, tmp_path):
    url, folder = app
    before = open_collection(page, url)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "b1", "title": "Half a record"\n')
    summary = upload(page, broken)
    assert re.search(r"broken\.jsonl:1: malformed JSON", summary) and f"papers in index: {before}" in summary
    expect(page.locator("#paper-count")).to_contain_text(f"{before} papers indexed")

    extra = tmp_path / "extra.csv"
    extra.write_text("id,title,abstract\nx1,Removable Paper,This abstract exists only to be removed from the index again.\n")
    assert f"papers in index: {before + 1}" in upload(page, extra)
    page.locator("#source-file input").click()
    page.get_by_role("option", name="extra.csv").click()
    page.get_by_role("button", name="Remove this file's papers").click()
    expect(page.locator("#ingest-summary textarea")).to_have_value("Removed 1 papers of extra.csv.", timeout=TIMEOUT)
    expect(page.locator("#paper-count")).to_contain_text(f"{before} papers indexed")
    assert not (folder / "index" / "uploads" / "extra.csv").exists()
    assert list((folder / "index" / "gradio-cache").rglob("broken.jsonl"))  # Gradio's copy stayed in the data folder
