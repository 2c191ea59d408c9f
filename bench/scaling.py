"""What bounds ``scaling_2_workers`` on this machine, measured beside it.

* ``ner_scaling_2_processes``: the heaviest stage alone (spaCy NER over the
  same article bodies), one process vs two processes at once. Near 2 means
  the machine and the stage scale; the pipeline's gap is elsewhere.
* ``minilm_scaling_2_processes``: the sentence vectors alone (MiniLM over
  the same bodies), one process with torch's default threads (every core,
  as in the 1-worker run) vs two processes of one thread each at once (as
  a worker process runs them, ``transforms.lib.embeddings.model_threads``).
  Torch already spreads one process over both cores, so this part of the
  1-worker run has little left to gain from a second worker.
* ``worker_start_s``: what every FnApiRunner worker process pays before its
  first element: importing Beam and the pipeline's modules (Beam 2.77's
  RunInference module imports torch when it is installed), loading spaCy,
  loading MiniLM. Each worker pays it, in parallel, on the critical path.
* ``scaling_2_workers_bound``: Amdahl's bound from those. The 1-worker run
  is the launcher's start-up (its imports are the ones a worker needs), the
  models loaded once in process, and the rest; with 2 workers the launcher
  starts, then each worker imports and loads again, and the rest is halved.
  It still ignores the runner process's work between stages, which in
  multi-process mode shares the same two cores with the workers.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent

_START_UP = """
import json, time
started = time.perf_counter()
import apache_beam, pipeline.graph  # what a worker imports when it unpickles the stages
imported = time.perf_counter()
from transforms.lib.ner import load_spacy_model
load_spacy_model()
spacy_loaded = time.perf_counter()
from transforms.lib.embeddings import load_sentence_model
load_sentence_model()
done = time.perf_counter()
print(json.dumps({"imports": imported - started, "spacy": spacy_loaded - imported, "minilm": done - spacy_loaded}))
"""


def worker_start_seconds() -> dict[str, float]:
    result = subprocess.run([sys.executable, "-c", _START_UP], cwd=PROJECT, capture_output=True, text=True,
                            check=True)
    parts = json.loads(result.stdout.strip().splitlines()[-1])
    return {**parts, "total": sum(parts.values())}


def _ner_seconds(texts: list[str], barrier: Any = None) -> float:
    from transforms.lib.ner import load_spacy_model

    nlp = load_spacy_model()
    list(nlp.pipe(texts[:8]))  # warm up outside the timing
    if barrier is not None:
        barrier.wait()  # both processes start timing together, so they really overlap
    started = time.perf_counter()
    for _doc in nlp.pipe(texts, batch_size=32):
        pass
    return time.perf_counter() - started


def _two_processes_scaling(seconds: Any, alone: tuple, together: tuple) -> float:
    """Work a second of two processes running ``seconds(*together, barrier)`` at once over one running
    ``seconds(*alone)`` alone (the same work each)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        alone_s = pool.starmap(seconds, [alone])[0]
    with context.Manager() as manager, context.Pool(2) as pool:
        barrier = manager.Barrier(2)
        together_s = pool.starmap(seconds, [(*together, barrier), (*together, barrier)])
    return 2 * alone_s / max(together_s)


def ner_scaling(texts: list[str]) -> float:
    """Articles/s of two NER processes running at once over one process alone (same texts each)."""
    return _two_processes_scaling(_ner_seconds, (texts,), (texts,))


def _minilm_seconds(texts: list[str], threads: int | None = None, barrier: Any = None) -> float:
    import torch

    from transforms.lib.embeddings import encode_documents, load_sentence_model
    from transforms.lib.sentences import split_sentences

    if threads is not None:
        torch.set_num_threads(threads)
    model = load_sentence_model()
    documents = [split_sentences(text, max_sentences=8) or [text[:500]] for text in texts]
    encode_documents(model, documents[:4])  # warm up outside the timing
    if barrier is not None:
        barrier.wait()
    started = time.perf_counter()
    for i in range(0, len(documents), 16):
        encode_documents(model, documents[i:i + 16])
    return time.perf_counter() - started


def minilm_scaling(texts: list[str]) -> float:
    """Documents/s of two 1-thread MiniLM processes at once over one process on every core (same texts each)."""
    return _two_processes_scaling(_minilm_seconds, (texts,), (texts, 1))


def measure(texts: list[str], one_worker_seconds: float, one_worker_pipeline_seconds: float) -> dict[str, float]:
    """``one_worker_seconds``: the 1-worker command's wall time; ``..._pipeline_seconds``: the part its summary
    counts (graph built, run, written), the rest being the launcher's start-up."""
    start = worker_start_seconds()
    launcher = max(0.0, one_worker_seconds - one_worker_pipeline_seconds)
    models = start["spacy"] + start["minilm"]
    parallel = max(0.0, one_worker_seconds - launcher - models)
    return {
        "launcher_start_s": launcher,
        "ner_scaling_2_processes": ner_scaling(texts),
        "minilm_scaling_2_processes": minilm_scaling(texts[:120]),
        "worker_start_s": start["total"],
        "worker_start_imports_s": start["imports"],
        "worker_start_spacy_s": start["spacy"],
        "worker_start_minilm_s": start["minilm"],
        "scaling_2_workers_bound": one_worker_seconds / (launcher + start["total"] + parallel / 2),
    }
