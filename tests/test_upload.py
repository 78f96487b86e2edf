"""Uploads into a real Chroma index (hash embedder): saved inside the uploads folder, size-limited,
zips unpacked without escaping it; listing the indexed papers and removing a source file's papers."""
from __future__ import annotations

import json
import zipfile

import pytest

from rag import index_stats, ingest_uploads, list_papers, remove_source, remove_upload
from rag.upload import safe_name


def jsonl(path, *papers):
    path.write_text("".join(json.dumps(p) + "\n" for p in papers))
    return path


A = {"id": "2401.12345", "title": "Ternary Weights", "date": "2024-01-22", "abstract": "Weights take the values -1, 0 and 1."}
B = {"id": "10.1000/xyz123", "title": "A DOI Paper", "abstract": "Dropout rates above one half hurt small models."}
C = {"id": "c", "title": "Another Paper", "abstract": "Caching keys and values speeds up decoding."}


@pytest.fixture
def settings(settings, tmp_path):
    return settings.model_copy(update={"upload_max_mb": 0.01})  # 10 kB


def test_an_upload_is_copied_into_the_uploads_folder_and_listed(settings, hash_embedder, tmp_path):
    report = ingest_uploads([jsonl(tmp_path / "mine.jsonl", A, B)], settings=settings)
    assert report.papers == 2 and report.chunks_added == 2 and not report.skipped
    assert (settings.uploads_folder / "mine.jsonl").is_file()
    rows = list_papers(settings)
    assert [(r.paper_id, r.title, r.date) for r in rows] == [("10.1000/xyz123", "A DOI Paper", ""),
                                                             ("2401.12345", "Ternary Weights", "2024-01-22")]
    assert {r.source for r in rows} == {str(settings.uploads_folder / "mine.jsonl")}
    again = ingest_uploads([tmp_path / "mine.jsonl"], settings=settings)
    assert again.chunks_added == 0 and again.chunks_unchanged == 2


def test_a_broken_file_is_reported_by_line_and_leaves_the_index_intact(settings, hash_embedder, tmp_path):
    ingest_uploads([jsonl(tmp_path / "good.jsonl", A)], settings=settings)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "x", "title": "X"\n{"id": "y", "title": "Y", "abstract": ""}\n')
    report = ingest_uploads([broken, jsonl(tmp_path / "more.jsonl", C)], settings=settings)
    reasons = [str(s) for s in report.skipped]
    assert any(r.startswith(f"{settings.uploads_folder / 'broken.jsonl'}:1: malformed JSON") for r in reasons)
    assert any("broken.jsonl:2: empty abstract" in r for r in reasons)
    assert report.papers == 2 and {r.paper_id for r in list_papers(settings)} == {"2401.12345", "c"}


def test_unsupported_and_oversized_files_are_refused_by_name(settings, hash_embedder, tmp_path):
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.4")
    big = jsonl(tmp_path / "big.jsonl", *[{**C, "id": f"c{i}"} for i in range(200)])
    report = ingest_uploads([tmp_path / "paper.pdf", big], settings=settings)
    assert [str(s) for s in report.skipped] == [
        "paper.pdf: unsupported file type '.pdf'; use .txt, .jsonl, .csv or a .zip of them",
        "big.jsonl: larger than the upload limit of 0.01 MB (RAG_UPLOAD_MAX_MB)"]
    assert report.papers == 0 and index_stats(settings)["chunks"] == 0
    assert not any(settings.uploads_folder.glob("*.*"))


def make_zip(path, members: dict[str, str]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_a_zipped_folder_is_unpacked_inside_the_uploads_folder(settings, hash_embedder, tmp_path):
    archive = make_zip(tmp_path / "folder.zip", {"papers/a.jsonl": json.dumps(A) + "\n",
                                                 "papers/b.csv": f"id,title,abstract\nc,{C['title']},{C['abstract']}\n",
                                                 "papers/notes.md": "# notes"})
    report = ingest_uploads([archive], settings=settings)
    assert report.papers == 2
    assert [str(s) for s in report.skipped] == ["folder.zip/papers/notes.md: unsupported file type; use .txt, .jsonl or .csv"]
    assert (settings.uploads_folder / "folder" / "papers" / "b.csv").is_file()


@pytest.mark.parametrize("member", ["../escaped.jsonl", "/tmp/absolute.jsonl", "a/../../escaped.jsonl"])
def test_a_zip_with_a_path_leaving_the_folder_is_refused_whole(settings, hash_embedder, tmp_path, member):
    archive = make_zip(tmp_path / "evil.zip", {"ok.jsonl": json.dumps(A) + "\n", member: json.dumps(C) + "\n"})
    report = ingest_uploads([archive], settings=settings)
    assert len(report.skipped) == 1 and "points outside the upload folder" in report.skipped[0].reason
    assert report.papers == 0
    assert not (tmp_path / "escaped.jsonl").exists() and not list(settings.uploads_folder.rglob("*.jsonl"))


def test_a_zip_bomb_is_refused_by_its_unpacked_size(settings, hash_embedder, tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {"a.jsonl": json.dumps({**A, "abstract": "x" * 50_000}) + "\n"})
    assert archive.stat().st_size < 10_000
    report = ingest_uploads([archive], settings=settings)
    assert [str(s) for s in report.skipped] == ["bomb.zip: unpacked, larger than the upload limit of 0.01 MB (RAG_UPLOAD_MAX_MB)"]
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    assert str(ingest_uploads([tmp_path / "broken.zip"], settings=settings).skipped[0]) == "broken.zip: not a valid zip archive"


def test_file_names_lose_their_folders_and_odd_characters():
    assert safe_name("../../etc/passwd.jsonl") == "passwd.jsonl"
    assert safe_name("my papers (v2).csv") == "my_papers__v2_.csv"
    assert safe_name("..") == "upload"


def test_removing_a_source_deletes_only_its_papers(settings, hash_embedder, tmp_path):
    ingest_uploads([jsonl(tmp_path / "one.jsonl", A, B), jsonl(tmp_path / "two.jsonl", C)], settings=settings)
    uploaded = settings.uploads_folder / "one.jsonl"
    assert remove_upload(str(uploaded), settings) == 2
    assert [r.paper_id for r in list_papers(settings)] == ["c"] and not uploaded.exists()
    assert index_stats(settings)["chunks"] == 1
    outside = jsonl(tmp_path / "outside.jsonl", A)
    from rag import ingest
    ingest([outside], settings=settings)
    assert remove_upload(str(outside), settings) == 1
    assert outside.exists()  # a file outside the uploads folder is never deleted
    assert remove_source("no/such/file.jsonl", settings) == 0
