"""Streaming ingest of an arXiv-snapshot-style JSONL file: filters, bad lines, bounded batches, a kill and a re-run."""
from __future__ import annotations

import json
import sys
from datetime import date

import pytest

from rag.chunk import chunk_paper, make_splitter
from rag.cli import main
from rag.ingest import ingest, write_batch
from rag.lexical import open_lexical
from rag.load import PaperFilter, load_papers, parse_date, read_files
from rag.store import IndexMismatchError, Store

CATEGORIES = ["cs.CL cs.LG", "cs.LG", "math.OC cs.CL", "stat.ML", "cs.CV cs.AI"]  # 2 in 5 hold cs.CL
VERSION_DATES = ["Mon, 2 Apr 2007 19:18:42 GMT", "Tue, 10 Jan 2023 08:00:00 GMT"]
N_RECORDS = 300


def snapshot_record(i: int) -> dict:
    """Like a line of arXiv's metadata snapshot; every third record has update_date, the rest only versions."""
    record = {"id": f"23{i:02d}.{i:05d}", "submitter": "A. Author", "authors": "A. Author, B. Author",
              "title": f"Paper {i} on topic {i % 7}", "categories": CATEGORIES[i % 5],
              "abstract": f"  Abstract of paper {i}. " + "We study sparse attention for long inputs. " * (1 + i % 4),
              "versions": [{"version": "v1", "created": VERSION_DATES[i % 2]}],
              "authors_parsed": [["Author", "A.", ""]]}
    if i % 3 == 0:
        record["update_date"] = "2024-05-01" if i % 2 else "2019-03-04"
    return record


def expected_since_2023(i: int) -> bool:
    return i % 2 == 1  # odd records: update_date 2024 or a 2023 first version; even ones: 2019 or 2007


@pytest.fixture
def snapshot(tmp_path):
    path = tmp_path / "arxiv-metadata-oai-snapshot.jsonl"
    path.write_text("".join(json.dumps(snapshot_record(i)) + "\n" for i in range(N_RECORDS)))
    return path


def kept_ids(wanted: PaperFilter) -> set[str]:
    return {snapshot_record(i)["id"] for i in range(N_RECORDS)
            if (not wanted.categories or "cs.CL" in CATEGORIES[i % 5].split())
            and (wanted.since is None or expected_since_2023(i))}


def expected_chunk_ids(path, wanted: PaperFilter, settings) -> set[str]:
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    papers = [p for p in read_files([path]) if wanted.accepts(p)]
    return {c.chunk_id for p in papers for c in chunk_paper(p, splitter)}


def test_dates_of_every_form_the_loaders_meet():
    assert parse_date("2023-01-31") == date(2023, 1, 31)
    assert parse_date("Mon, 2 Apr 2007 19:18:42 GMT") == date(2007, 4, 2)
    assert parse_date("Oct 28, 2024") == date(2024, 10, 28)
    assert parse_date("Sept 3, 2024") == date(2024, 9, 3)
    assert parse_date("Oct 28") is None and parse_date("") is None and parse_date("2023-02-30") is None


def test_category_matches_any_listed_category_or_its_archive(snapshot):
    papers = list(read_files([snapshot]))
    for wanted, expected in [("cs.CL", 120), ("cs", 300 - 60), ("stat.ML", 60), ("cs.C", 0)]:
        assert sum(PaperFilter(categories=(wanted,)).accepts(p) for p in papers) == expected, wanted
    assert sum(PaperFilter(categories=("stat.ML", "cs.CV")).accepts(p) for p in papers) == 120


def test_since_reads_update_date_else_the_first_version(snapshot):
    papers = {p.paper_id: p for p in read_files([snapshot])}
    assert papers["2300.00000"].date == "2019-03-04"                        # update_date wins
    assert papers["2301.00001"].date == "Tue, 10 Jan 2023 08:00:00 GMT"      # else versions[0].created
    accepted = {i for i, p in papers.items() if PaperFilter(since=date(2023, 1, 1)).accepts(p)}
    assert accepted == kept_ids(PaperFilter(since=date(2023, 1, 1)))


def test_a_json_file_of_lines_is_read_and_a_json_array_refused(tmp_path):
    lines = tmp_path / "arxiv-metadata-oai-snapshot.json"
    lines.write_text(json.dumps(snapshot_record(1)) + "\n")
    array = tmp_path / "array.json"
    array.write_text(json.dumps([snapshot_record(1)]))
    papers, skipped = load_papers([lines, array])
    assert [p.paper_id for p in papers] == ["2301.00001"]
    assert [(s.file, s.line) for s in skipped] == [(str(array), 1)] and "JSON array" in skipped[0].reason


def test_filtered_ingest_keeps_only_matching_papers_and_counts_the_rest(snapshot, settings, hash_embedder):
    wanted = PaperFilter(("cs.CL",), date(2023, 1, 1))
    report = ingest([snapshot], settings=settings, wanted=wanted)
    ids = {m["paper_id"] for m in Store(settings).all_metadata()["metadatas"]}
    assert ids == kept_ids(wanted) and len(ids) == 60
    assert report.entries_read == N_RECORDS and report.filtered == N_RECORDS - 60 and report.papers == 60
    assert "240 filtered out" in report.summary()


def test_bad_lines_mid_stream_are_named_and_the_rest_is_read(snapshot, settings, hash_embedder):
    lines = snapshot.read_bytes().splitlines(keepends=True)
    lines[10] = b'{"id": "broken", "abstract": \n'
    lines[20] = b'{"id": "latin", "title": "x", "abstract": "caf\xe9"}\n'
    lines[30] = json.dumps({"id": "empty", "title": "Empty", "abstract": ""}).encode() + b"\n"
    snapshot.write_bytes(b"".join(lines))
    report = ingest([snapshot], settings=settings)
    reasons = {s.line: s.reason for s in report.skipped}
    assert set(reasons) == {11, 21, 31} and all(s.file == str(snapshot) for s in report.skipped)
    assert "malformed JSON" in reasons[11] and "UTF-8" in reasons[21] and "empty abstract" in reasons[31]
    assert report.papers == N_RECORDS - 3


def test_papers_are_handled_in_bounded_batches(snapshot, settings, hash_embedder, monkeypatch):
    asked = []
    original = Store.paper_states
    monkeypatch.setattr(Store, "paper_states", lambda self, ids=None: asked.append(ids) or original(self, ids))
    report = ingest([snapshot], settings=settings.model_copy(update={"ingest_batch_papers": 40}))
    assert [len(ids) for ids in asked] == [40] * 7 + [20]
    assert report.papers == N_RECORDS


def test_an_ingest_killed_part_way_is_completed_by_a_rerun(snapshot, settings, hash_embedder, monkeypatch):
    settings = settings.model_copy(update={"ingest_batch_papers": 50, "embed_batch_size": 16})
    wanted = PaperFilter(("cs",), date(2023, 1, 1))
    writes = []

    def killed_after_five_writes(*args):
        if len(writes) == 5:
            raise KeyboardInterrupt("killed")
        writes.append(1)
        write_batch(*args)

    with monkeypatch.context() as patch:
        patch.setattr(sys.modules["rag.ingest"], "write_batch", killed_after_five_writes)
        with pytest.raises(KeyboardInterrupt):
            ingest([snapshot], settings=settings, wanted=wanted)
    expected = expected_chunk_ids(snapshot, wanted, settings)
    assert 0 < Store(settings).count() < len(expected)
    report = ingest([snapshot], settings=settings, wanted=wanted)
    store = Store(settings)
    ids = store.all_metadata()["ids"]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert open_lexical(settings, store).ids() == expected
    assert report.chunks_added + report.chunks_unchanged == len(expected) and report.chunks_unchanged > 0


def test_an_index_of_int8_vectors_refuses_the_torch_backend(snapshot, settings, hash_embedder):
    ingest([snapshot], settings=settings.model_copy(update={"embedding_backend": "onnx-int8"}),
           wanted=PaperFilter(("stat.ML",)))
    with pytest.raises(IndexMismatchError, match="embedding_vectors.*rag ingest --rebuild"):
        Store(settings)
    fp32_index = settings.model_copy(update={"index_dir": settings.index_dir.parent / "fp32"})
    ingest([snapshot], settings=fp32_index, wanted=PaperFilter(("stat.ML",)))
    assert Store(fp32_index.model_copy(update={"embedding_backend": "onnx"})).count() > 0  # fp32 ONNX agrees with torch


def test_cli_filters_and_a_bad_since(snapshot, settings, hash_embedder, monkeypatch, capsys):
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    assert main(["ingest", str(snapshot), "--category", "stat.ML", "--category", "cs.CV", "--since", "2023-01-01"]) == 0
    assert "papers in index: 60" in capsys.readouterr().out
    assert main(["ingest", str(snapshot), "--since", "1st of May"]) == 1
    assert "--since '1st of May' is not a date" in capsys.readouterr().err
