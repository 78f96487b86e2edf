"""The ONNX Runtime backends against the torch model: exported once from the packaged weights, same vectors (fp32) or close (int8)."""
from __future__ import annotations

import numpy as np
import pytest

from rag.embed import get_embedder, onnx_dir

pytestmark = pytest.mark.integration
TEXTS = ["Sparse attention lets transformers read long documents.",
         "We quantize the key-value cache to 2 bits, cutting memory by 8 times. " * 12,  # past max_seq_length
         "GRPO", ""]


def cosines(first: list[list[float]], second: list[list[float]]) -> np.ndarray:
    return (np.asarray(first) * np.asarray(second)).sum(axis=1)


def test_onnx_vectors_match_torch_and_the_graphs_are_exported_once(tmp_path, capsys):
    reference = get_embedder("all-MiniLM-L6-v2", 64, "torch").embed_documents(TEXTS)
    fp32 = get_embedder("all-MiniLM-L6-v2", 64, "onnx", tmp_path).embed_documents(TEXTS)
    int8 = get_embedder("all-MiniLM-L6-v2", 2, "onnx-int8", tmp_path).embed_documents(TEXTS)  # batches of 2
    assert cosines(fp32, reference).min() > 0.99999 and np.abs(np.subtract(fp32, reference)).max() < 1e-4
    assert 0.97 < cosines(int8, reference).min() < 0.99999
    assert np.linalg.norm(int8, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert "exporting all-MiniLM-L6-v2 to ONNX once" in capsys.readouterr().err
    graphs = sorted(p.name for p in onnx_dir("all-MiniLM-L6-v2", tmp_path).iterdir())
    assert graphs == ["model-int8-per-channel.onnx", "model.onnx"]  # no partial file left behind
