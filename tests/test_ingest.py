"""Ingest into a real local Chroma store: idempotent, incremental, and safe with bad input."""
from __future__ import annotations

import json

import pytest

from rag.config import Settings
from rag.ingest import index_stats, ingest
from rag.store import IndexMismatchError, Store

CORPUS = Settings().corpus_dir


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_bundled_corpus_indexes_686_papers_and_rerun_adds_nothing(settings, hash_embedder):
    first = ingest(settings=settings)
    assert first.papers == 686 and first.entries_read == 714 and first.duplicates == 28
    assert first.chunks_added > 686 and first.skipped == []
    second = ingest(settings=settings)
    assert second.chunks_added == 0 and second.chunks_removed == 0
    assert second.chunks_unchanged == first.chunks_added and second.papers == 686
    assert Store(settings).count() == first.chunks_added


def test_every_chunk_carries_its_paper_metadata(settings, hash_embedder):
    ingest([CORPUS / "004_0245eb3260a63d8e.txt"], settings=settings)
    found = Store(settings).all_metadata(include_documents=True)
    for chunk_id, meta, text in zip(found["ids"], found["metadatas"], found["documents"]):
        assert chunk_id == f"{meta['paper_id']}:{meta['chunk_index']}"
        assert meta["title"] and text.startswith(meta["title"])
        assert meta["source"].endswith("004_0245eb3260a63d8e.txt")
        assert "date" in meta
    assert any(m.get("year") == 2024 for m in found["metadatas"])


def test_changed_abstract_replaces_its_old_chunks(settings, hash_embedder, tmp_path):
    long_abstract = " ".join(f"Sentence number {i} says something about sparse attention." for i in range(60))
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "p1", "title": "Long", "abstract": long_abstract},
                                              {"id": "p2", "title": "Other", "abstract": "Stays the same."}])
    first = ingest([path], settings=settings)
    assert first.chunks_added > 2
    write_jsonl(path, [{"id": "p1", "title": "Long", "abstract": "Now a short abstract about dense attention."},
                       {"id": "p2", "title": "Other", "abstract": "Stays the same."}])
    second = ingest([path], settings=settings)
    assert second.chunks_added == 1 and second.chunks_unchanged == 1
    assert second.chunks_removed == first.chunks_added - 2
    found = Store(settings).all_metadata(include_documents=True)
    assert sorted(found["ids"]) == ["p1:0", "p2:0"]
    assert any("dense attention" in d for d in found["documents"])


def test_other_settings_on_an_existing_index_is_a_clear_error(settings, hash_embedder, tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "p1", "title": "T", "abstract": "An abstract."}])
    ingest([path], settings=settings)
    changed = settings.model_copy(update={"chunk_size": settings.chunk_size + 100})
    with pytest.raises(IndexMismatchError, match="rag ingest --rebuild"):
        ingest([path], settings=changed)
    rebuilt = ingest([path], settings=changed, rebuild=True)
    assert rebuilt.chunks_added == 1 and rebuilt.papers == 1


def test_bad_files_are_reported_and_the_index_stays_intact(settings, hash_embedder, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": "g1", "title": "Good", "abstract": "A good abstract."}])
    ingest([good], settings=settings)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.jsonl").write_text("")
    (bad / "binary.csv").write_bytes(b"\x00\x01\x02" * 50)
    (bad / "latin1.jsonl").write_bytes(b'{"id": "x", "abstract": "caf\xe9"}\n')
    (bad / "noabstract.csv").write_text("id,title\n1,t\n")
    write_jsonl(bad / "mixed.jsonl", [{"id": "m1", "title": "Mixed", "abstract": "Still ingested."},
                                      {"id": "m2", "title": "Empty", "abstract": ""}])
    report = ingest([bad, tmp_path / "nowhere.jsonl"], settings=settings)
    files = sorted(s.file.rsplit("/", 1)[-1] for s in report.skipped)
    assert files == ["binary.csv", "empty.jsonl", "latin1.jsonl", "mixed.jsonl", "noabstract.csv", "nowhere.jsonl"]
    assert next(s for s in report.skipped if s.file.endswith("mixed.jsonl")).line == 2
    assert report.chunks_added == 1 and report.papers == 2
    assert sorted(Store(settings).all_metadata()["ids"]) == ["g1:0", "m1:0"]
    assert "skipped: 6" in report.summary() and "mixed.jsonl:2: empty abstract" in report.summary()


def test_stats_describe_the_index(settings, hash_embedder):
    ingest([CORPUS / "001_b10fc8792198d442.txt"], settings=settings)
    stats = index_stats(settings)
    assert stats["papers"] == sum(stats["papers_per_source"].values()) == 100
    assert stats["embedding_model"] == "all-MiniLM-L6-v2"
