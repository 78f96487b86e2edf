"""Streaming ingest of an arXiv-snapshot-style file: filters, flat memory, a kill part way and a re-run.

    python bench/snapshot.py [--records 200000] [--category cs.CL] [--since 2023-01-01]
                             [--backend onnx-int8] [--kill-at 0.25] [--no-filter]

Writes (once, cached in model_cache_dir/bench) a JSONL file of --records records shaped like
arXiv's metadata snapshot (id, authors, title, categories, abstract, versions, update_date,
authors_parsed): titles and abstracts are the bundled corpus's with a fifth of their words
replaced, categories and dates drawn at random (cs.CL in about 1 record in 8, dates 2007-2025).
Then, in child processes, into a fresh local index:
1. `ingest(file, --category, --since)` is killed (SIGKILL) once --kill-at of the expected
   chunks are written;
2. the same ingest is run again to the end: its seconds, papers/s and peak RSS.
Both runs' RSS is sampled as they read the file: flat memory means it does not grow with
the bytes read once the embedding model is loaded (at the first paper to embed);
3. Chroma's and the lexical index's chunk ids are checked against the file's: no duplicate,
   none missing, none extra.
--no-filter ingests every record (the full size: hours on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.chunk import chunk_paper, make_splitter  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.lexical import open_lexical  # noqa: E402
from rag.load import PaperFilter, load_papers, read_files  # noqa: E402
from rag.store import Store  # noqa: E402

from scale import perturb  # noqa: E402  (bench/scale.py: a fifth of the words replaced)

OTHER_CATEGORIES = ["cs.LG", "cs.CV", "cs.AI", "stat.ML", "math.OC", "cs.IR", "quant-ph", "hep-th", "cs.RO",
                    "physics.optics", "math.PR", "cs.CR", "eess.SP", "q-bio.NC"]
CS_CL_SHARE = 0.125
FIRST_DAY, LAST_DAY = date(2007, 4, 1), date(2025, 6, 30)
CHILD = """import json, resource, sys
from datetime import date
from pathlib import Path
from rag.ingest import ingest
from rag.load import PaperFilter
categories, since = json.loads(sys.argv[2]), sys.argv[3]
wanted = PaperFilter(tuple(categories), date.fromisoformat(since) if since else None)
report = ingest([Path(sys.argv[1])], show_progress=True, wanted=wanted)
print(json.dumps({"seconds": report.seconds, "entries_read": report.entries_read, "filtered": report.filtered,
                  "papers": report.papers, "chunks_added": report.chunks_added,
                  "chunks_unchanged": report.chunks_unchanged, "skipped": len(report.skipped),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def snapshot_record(n: int, paper, vocabulary: list[str], rng: random.Random) -> dict:
    first = FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days))
    updated = min(LAST_DAY, first + timedelta(days=rng.choice([0, 0, 30, 200])))
    categories = (["cs.CL"] if rng.random() < CS_CL_SHARE else []) + rng.sample(OTHER_CATEGORIES, rng.randint(1, 2))
    rng.shuffle(categories)
    created = datetime(first.year, first.month, first.day, rng.randrange(24), rng.randrange(60))
    return {"id": f"{first:%y%m}.{n:06d}", "submitter": "Synthetic Author", "authors": "A. Author, B. Author",
            "title": perturb(paper.title, vocabulary, rng), "comments": None, "journal-ref": None, "doi": None,
            "report-no": None, "categories": " ".join(categories), "license": None,
            "abstract": "  " + perturb(paper.abstract, vocabulary, rng),
            "versions": [{"version": "v1", "created": created.strftime("%a, %-d %b %Y %H:%M:%S GMT")}],
            "update_date": updated.isoformat(), "authors_parsed": [["Author", "A.", ""], ["Author", "B.", ""]]}


def write_snapshot(path: Path, records: int, settings: Settings) -> None:
    papers, _ = load_papers([settings.corpus_dir])
    vocabulary = sorted({w for p in papers for w in p.abstract.split()})
    rng = random.Random(15)
    partial = path.with_suffix(".partial")
    with partial.open("w") as out:
        for n in range(records):
            out.write(json.dumps(snapshot_record(n, papers[n % len(papers)], vocabulary, rng)) + "\n")
    partial.replace(path)


def expected_chunk_ids(path: Path, wanted: PaperFilter, settings: Settings) -> set[str]:
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    return {c.chunk_id for p in read_files([path]) if wanted.accepts(p) for c in chunk_paper(p, splitter)}


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else None


def start_child(path: Path, wanted: PaperFilter, env: dict) -> subprocess.Popen:
    args = [json.dumps(list(wanted.categories)), wanted.since.isoformat() if wanted.since else ""]
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), *args], env=env, text=True, bufsize=1,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def progress_lines(process: subprocess.Popen):
    """tqdm's redraws (split at carriage returns) as they come."""
    line = ""
    while (char := process.stderr.read(1)) != "":
        if char in "\r\n":
            yield line
            line = ""
        else:
            line += char


def follow(process: subprocess.Popen, kill_at_chunks: int | None = None) -> tuple[list[tuple[float, float]], int]:
    """(share of the file read, RSS MB) samples from the progress bar; SIGKILL once kill_at_chunks are written.
    Returns the samples and the chunks written when it stopped."""
    samples: list[tuple[float, float]] = []
    written = 0
    for line in progress_lines(process):
        share, chunks, rss = re.search(r"ingesting:\s+(\d+)%", line), re.search(r"chunks=(\d+)", line), rss_mb(process.pid)
        written = int(chunks.group(1)) if chunks else written
        if share and rss:
            samples.append((int(share.group(1)) / 100, rss))
        if kill_at_chunks is not None and written >= kill_at_chunks:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    return samples, written


def kill_part_way(path: Path, wanted: PaperFilter, env: dict, kill_at_chunks: int) -> tuple[list, int]:
    samples, written = follow(start_child(path, wanted, env), kill_at_chunks)
    if written < kill_at_chunks:
        raise SystemExit(f"the ingest ended before {kill_at_chunks} chunks were written")
    return samples, written


def run_to_the_end(path: Path, wanted: PaperFilter, env: dict) -> tuple[dict, list[tuple[float, float]]]:
    """The child's report, and (share of the file read, RSS MB) sampled as it went."""
    process = start_child(path, wanted, env)
    samples, _ = follow(process)  # the child writes its one stdout line at the end
    if process.returncode:
        raise SystemExit(f"the re-run failed (code {process.returncode})")
    return json.loads(process.stdout.read().strip().splitlines()[-1]), samples


def rss_along_the_file(samples: list[tuple[float, float]]) -> str:
    marks = []
    for target in (0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.99):
        reached = [rss for share, rss in samples if share >= target]
        if reached:
            marks.append(f"{target:.0%}: {reached[0]:.0f} MB")
    return ", ".join(marks)


def check_ids(settings: Settings, expected: set[str]) -> str:
    store = Store(settings)
    ids = store.ids()
    lexical_ids = open_lexical(settings, store).ids()
    duplicates, missing, extra = len(ids) - len(set(ids)), len(expected - set(ids)), len(set(ids) - expected)
    verdict = "OK" if not (duplicates or missing or extra) and lexical_ids == set(ids) else "FAILED"
    return (f"{verdict}: Chroma {len(ids)} chunk ids ({duplicates} duplicate, {missing} missing, {extra} extra); "
            f"lexical index {len(lexical_ids)} ids, {'the same set' if lexical_ids == set(ids) else 'a DIFFERENT set'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--category", action="append", default=None, help="default: cs.CL")
    parser.add_argument("--since", default="2023-01-01")
    parser.add_argument("--no-filter", action="store_true", help="ingest every record (the full size)")
    parser.add_argument("--backend", default="onnx-int8", choices=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--kill-at", type=float, default=0.25, help="share of the expected chunks written before the kill")
    args = parser.parse_args()
    settings = Settings(embedding_backend=args.backend)
    wanted = (PaperFilter() if args.no_filter else
              PaperFilter(tuple(args.category or ["cs.CL"]), date.fromisoformat(args.since)))
    path = settings.model_cache_dir / "bench" / f"arxiv-snapshot-{args.records}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        write_snapshot(path, args.records, settings)
        print(f"wrote {path} in {time.perf_counter() - started:.0f} s", flush=True)
    expected = expected_chunk_ids(path, wanted, settings)
    print(f"{args.records} records, {path.stat().st_size / 1e6:.0f} MB; filter {wanted}: {len(expected)} chunks expected; "
          f"backend {args.backend}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rag-snapshot-") as folder:
        index_settings = settings.model_copy(update={"index_dir": Path(folder)})
        env = {**os.environ, "RAG_INDEX_DIR": folder, "RAG_EMBEDDING_BACKEND": args.backend}
        started = time.perf_counter()
        killed_samples, killed_at = kill_part_way(path, wanted, env, int(args.kill_at * len(expected)))
        print(f"killed after {killed_at} chunks ({time.perf_counter() - started:.0f} s); "
              f"Chroma holds {Store(index_settings).count()}; RSS as the file was read: "
              f"{rss_along_the_file(killed_samples)}", flush=True)
        report, samples = run_to_the_end(path, wanted, env)
        kept = report["entries_read"] - report["filtered"]
        print(f"re-run: {report['seconds']:.0f} s, {report['entries_read']} records read "
              f"({report['entries_read'] / report['seconds']:.0f}/s), {kept} kept, {report['papers']} papers in the index "
              f"({kept / report['seconds']:.1f} papers/s), chunks added {report['chunks_added']}, "
              f"unchanged {report['chunks_unchanged']}, skipped {report['skipped']}")
        print(f"peak RSS of the re-run: {report['peak_rss_mb']:.0f} MB; RSS as the file was read: {rss_along_the_file(samples)}")
        print(check_ids(index_settings, expected))


if __name__ == "__main__":
    main()
