"""Ingest against real processes: a `chroma run` server, and an ingest killed part way."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from rag.chunk import chunk_paper, make_splitter
from rag.config import Settings
from rag.lexical import open_lexical
from rag.load import load_papers
from rag.ingest import ingest
from rag.store import Store

from .helpers import VENV_BIN, free_port, stop, wait_for_http

pytestmark = pytest.mark.integration
CORPUS = Settings().corpus_dir


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    process = subprocess.Popen([str(VENV_BIN / "chroma"), "run", "--path", str(tmp_path / "server-data"),
                                "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", process, timeout=60)
        yield port
    finally:
        stop(process)


def test_ingest_and_query_through_a_chroma_server(chroma_server, tmp_path):
    settings = Settings(chroma_host="127.0.0.1", chroma_port=chroma_server, index_dir=tmp_path / "unused",
                        lexical_dir=tmp_path / "lexical")
    report = ingest([CORPUS / "004_0245eb3260a63d8e.txt"], settings=settings)
    assert report.papers == 44 and report.chunks_added > report.papers
    assert ingest([CORPUS / "004_0245eb3260a63d8e.txt"], settings=settings).chunks_added == 0
    assert not (tmp_path / "unused").exists()
    store = Store(settings)
    assert open_lexical(settings, store).ids() == set(store.ids())
    assert [p.parent for p in (tmp_path / "lexical").glob("*.sqlite3")] == [tmp_path / "lexical"]
    from rag.embed import get_embedder
    hits = Store(settings, get_embedder()).vectors().similarity_search("scaling laws for hyperparameters", k=3)
    assert any("Predictable Scale" in h.metadata["title"] for h in hits)


def test_unreachable_chroma_server_is_a_clear_error(tmp_path):
    settings = Settings(chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(Exception, match="Chroma server"):
        ingest([CORPUS / "004_0245eb3260a63d8e.txt"], settings=settings)


def expected_chunk_count(settings: Settings) -> int:
    papers, _ = load_papers([settings.corpus_dir])
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    return sum(len(chunk_paper(p, splitter)) for p in {p.paper_id: p for p in papers}.values())


INGEST_SCRIPT = "from rag.ingest import ingest; ingest(show_progress=True)"


def test_ingest_killed_part_way_is_completed_by_a_rerun(tmp_path):
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "index"), "RAG_EMBED_BATCH_SIZE": "16"}
    process = subprocess.Popen([sys.executable, "-c", INGEST_SCRIPT], env=env,
                               stderr=subprocess.PIPE, text=True, bufsize=1)
    progress = ""
    # tqdm redraws with carriage returns: read characters until some chunks are written
    while process.poll() is None:
        progress += process.stderr.read(1)
        written = re.findall(r"chunks=(\d+)", progress[-200:])
        if written and int(written[-1]) >= 160:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL, "ingest finished before it could be killed"

    settings = Settings(index_dir=tmp_path / "index")
    expected = expected_chunk_count(settings)
    partial = Store(settings).count()
    assert 0 < partial < expected
    report = ingest(settings=settings)
    assert report.papers == 686
    assert report.chunks_added + report.chunks_unchanged == expected
    store = Store(settings)
    ids = store.all_metadata()["ids"]
    assert len(ids) == len(set(ids)) == expected
    assert open_lexical(settings, store).ids() == set(ids)


SERVER_PAPERS = [
    {"id": "bitnet", "title": "Ternary Language Models", "abstract": "Every weight of our language model is ternary, "
     "-1, 0 or 1, and it matches full-precision models of the same size in perplexity."},
    {"id": "kv", "title": "Compressing the KV Cache", "abstract": "We quantize the key-value cache of transformer "
     "language models to 2 bits, which cuts the memory of long-context inference by 8 times."},
    {"id": "moe", "title": "Sparse Experts for Translation", "abstract": "A mixture-of-experts model with 64 experts "
     "for machine translation improves BLEU by 2.1 points over a dense baseline."},
]
SEARCH_SCRIPT = """import json, sys
from rag import ingest, search
if len(sys.argv) > 2:
    ingest([sys.argv[2]], show_progress=False)
print(json.dumps([h.chunk_id for h in search(sys.argv[1], k=3)]))
"""


def test_a_second_process_sharing_the_server_finds_what_the_first_ingested(chroma_server, tmp_path):
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in SERVER_PAPERS))
    query = "How can language models be trained with ternary weights?"

    def run(name: str, *args: str) -> list[str]:
        env = {**os.environ, "RAG_CHROMA_HOST": "127.0.0.1", "RAG_CHROMA_PORT": str(chroma_server),
               "RAG_LEXICAL_DIR": str(tmp_path / name), "RAG_INDEX_DIR": str(tmp_path / "unused")}
        done = subprocess.run([sys.executable, "-c", SEARCH_SCRIPT, query, *args], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run("a", str(corpus))
    second = run("b")
    assert first[0] == "bitnet:0" and second == first
    assert len(list((tmp_path / "b").glob("*.sqlite3"))) == 1 and not (tmp_path / "unused").exists()
