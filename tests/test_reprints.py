"""Reprint detection (issue "Reprint detection"): paraphrases caught, independent reports kept apart."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from bench.eval_dedup import load_documents, pair_scores, run_newsbeam
from pipeline.cli import main
from pipeline.siteserver import SiteServer
from tests.builders import article
from tests.conftest import PROJECT
from tests.pipeline_run import read_outputs
from tests.seedpages import TRIBUNE_HOST, page, rss, seed_paragraphs, write_site
from transforms.lib.fingerprints import anchor_terms, article_features
from transforms.lib.sentences import split_sentences
from transforms.lib.similarity import credits, monotone_alignment
from transforms.lib.urls import record_id

BBC_HOST = "www.bbc.example"


def test_sentences_split_at_a_danda_and_not_before_lower_case():
    assert split_sentences("ताइवान में भूकंप आया और लोग डरे। यह बहुत बड़ा भूकंप था और लोग डरे हुए थे।") == [
        "ताइवान में भूकंप आया और लोग डरे।", "यह बहुत बड़ा भूकंप था और लोग डरे हुए थे।"]
    assert len(split_sentences("The quake struck at 8 a.m. on Wednesday near the coast of Hualien.")) == 1


def test_sentences_are_statements_not_list_items():
    text = ("Dr. Ana Ruiz said on Monday that the U.S. plan would fail. Critics disagreed!\n"
            "June 9 - West Palm Beach, FL @ Coral Sky Amphitheatre\n"
            "Short one.\n\u201cWe will not accept this,\u201d she said.")
    assert split_sentences(text) == ["Dr. Ana Ruiz said on Monday that the U.S. plan would fail.",
                                     "\u201cWe will not accept this,\u201d she said."]


def test_anchors_are_names_and_numbers():
    anchors = anchor_terms(["The mayor, Ana Ruiz, said on Monday that 61,240 people in Ashcombe waited.",
                            "Officials of the NHS agreed."])
    assert {"ana", "ruiz", "61240", "ashcombe", "nhs"} <= set(anchors)
    assert not {"the", "monday", "officials"} & set(anchors)


def test_monotone_alignment_keeps_order():
    similarity = np.array([[0.9, 0.1, 0.1], [0.1, 0.1, 0.8], [0.1, 0.85, 0.1]])
    pairs = monotone_alignment(similarity, gap=0.55)
    assert pairs in ([(0, 0), (1, 2)], [(0, 0), (2, 1)])  # never both crossing pairs


def test_credit_lines_name_the_other_outlet():
    herald = article_features(article("h", "Text.", "2026-11-18T08:00:00Z", "http://www.dailyherald.example/a"))
    herald = herald._replace(site_name="The Daily Herald")
    copy = article_features(article("c", "Text.\n\n(Daily Herald)", "2026-11-18T12:00:00Z", "http://m.example/b"))
    other = article_features(article("o", "Text.\n\n(Reuters)", "2026-11-18T12:00:00Z", "http://m.example/c"))
    sibling = article_features(article("s", "Other text.\n\n(Reuters)", "2026-11-18T13:00:00Z", "http://n.example/"))
    assert credits(copy, herald) and not credits(other, herald) and credits(sibling, other)


@pytest.fixture(scope="module")
def labelled_scores():
    documents = load_documents()
    return pair_scores(documents, run_newsbeam(documents))


def test_labelled_set_keeps_its_precision(labelled_scores):
    """The project's own (fictional) set: thresholds are now chosen on real pages, so its paraphrase recall
    fell (1.00 -> 0.40, measured); its precision must not."""
    overall = labelled_scores["overall"]
    assert overall["precision"] >= 0.98 and overall["recall"] >= 0.65, labelled_scores
    assert labelled_scores["per_kind"]["verbatim"]["recall"] == 1.0
    assert labelled_scores["per_kind"]["edited"]["recall"] == 1.0
    assert labelled_scores["false_merges_of_hard_negatives"] == 0
    assert labelled_scores["hard_negative_pairs"] >= 100


def test_real_reprints_are_found_without_merging_independent_reports(shared_dir):
    """``../shared/corpora/reprints-dev``: real page excerpts with their boilerplate. Before the prose filter
    and narrative evidence the pipeline found 0.211 of the true pairs; measured now 0.447 at precision 1.000
    (``make eval-dedup`` prints the held-out fold figures)."""
    from bench import reprints_dev

    documents = reprints_dev.load(shared_dir / "corpora" / "reprints-dev")
    scores = pair_scores(documents, run_newsbeam(documents))
    assert scores["overall"]["precision"] >= 0.95, scores
    assert scores["overall"]["recall"] >= 0.40, scores
    assert scores["per_kind"]["edited"]["recall"] >= 0.70, scores
    assert scores["false_merges_of_hard_negatives"] <= 1, scores


def test_verdicts_do_not_depend_on_order_or_workers(tmp_path):
    lines = (PROJECT / "tests" / "data" / "dedup_eval.jsonl").read_text().splitlines()
    random.Random(11).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("\n".join(lines) + "\n")
    runs = {}
    for name, extra in (("one", []), ("two", ["--direct_num_workers=2", "--direct_running_mode=multi_processing"])):
        source = PROJECT / "tests" / "data" / "dedup_eval.jsonl" if name == "one" else shuffled
        output = tmp_path / f"{name}.jsonl"
        assert main(["dedup", "--input", str(source), "--output", str(output), *extra]) == 0
        runs[name] = sorted(json.loads(line)["id"] + json.dumps(json.loads(line), sort_keys=True)
                            for line in output.read_text().splitlines())
    assert runs["one"] == runs["two"] and len(runs["one"]) == len(lines)


def test_real_articles_from_different_outlets_are_not_merged(shared_dir, tmp_path):
    """181 real news pages (the extraction benchmark): all independent, including two outlets' reports
    of one band's tour announcement that share its statement and tour dates."""
    truth = json.loads((shared_dir / "corpora" / "article-extraction-benchmark" / "ground-truth.json").read_text())
    source = tmp_path / "real.jsonl"
    source.write_text("".join(json.dumps({"id": k, "url": v.get("url") or "", "text": v["articleBody"],
                                          "published": "2024-01-01T00:00:00Z"}) + "\n"
                              for k, v in sorted(truth.items())))
    output = tmp_path / "verdicts.jsonl"
    assert main(["dedup", "--input", str(source), "--output", str(output)]) == 0
    verdicts = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(verdicts) == len(truth)
    assert [v for v in verdicts if v["duplicate_of"]] == []


def test_the_tribune_rewrite_is_a_paraphrase_of_the_bbc_report(shared_dir, tmp_path):
    """The seed pair through the whole pipeline over loopback: the project's BBC-style wording of the
    report (published first) and the Tribune's rewrite of it, which credits "(BBC)"."""
    paragraphs, trailer = seed_paragraphs(shared_dir)
    bbc_text = (PROJECT / "tests" / "data" / "seed_bbc_style.txt").read_text().split("\n\n")
    write_site(tmp_path / "site", BBC_HOST, {
        "/news/world-us-canada-mines.html": page("Biden approves anti-personnel mines for Ukraine", bbc_text,
                                                 "BBC", ["Ukraine war latest"]),
        "/rss.xml": rss(BBC_HOST, [("Biden approves anti-personnel mines for Ukraine",
                                    "/news/world-us-canada-mines.html", "Wed, 20 Nov 2024 06:00:00 GMT")]),
    })
    write_site(tmp_path / "site", TRIBUNE_HOST, {
        "/news/mines.html": page("US approves anti-personnel mines for Ukraine", paragraphs, "Tribune Online",
                                 trailer),
        "/rss.xml": rss(TRIBUNE_HOST, [("US approves anti-personnel mines for Ukraine", "/news/mines.html",
                                        "Wed, 20 Nov 2024 14:00:00 GMT")]),
    })
    output = tmp_path / "out"
    with SiteServer(tmp_path / "site") as server:
        assert main(["run", "--feeds", f"http://{BBC_HOST}/rss.xml", "--feeds", f"http://{TRIBUNE_HOST}/rss.xml",
                     "--output", str(output), "--allow_private_networks", "--per_host_delay", "0",
                     *server.connect_to_args()]) == 0
    out = read_outputs(output)
    bbc_id = record_id(f"http://{BBC_HOST}/news/world-us-canada-mines.html")
    assert [r["id"] for r in out["records"]] == [bbc_id]
    [tribune] = out["duplicates"]
    assert tribune["duplicate_of"] == bbc_id
    assert tribune["dedup"]["kind"] == "paraphrase"
    assert tribune["dedup"]["attributed_source"] == "BBC"
    assert any(e.startswith("credits=BBC") for e in tribune["dedup"]["evidence"])


def test_dedup_harness_dead_letters_bad_lines_and_keeps_ids(tmp_path):
    good = {"id": "caller-1", "url": "http://a.example/1", "title": "T", "text": "Some text about Carrow. " * 10,
            "published": "2026-11-18T08:00:00+02:00", "source": "A"}
    lines = [json.dumps(good), "{not json", json.dumps({"text": "no id"}), json.dumps({"id": "x", "text": " "}),
             json.dumps({**good, "id": "bad-date", "published": "yesterday"}), json.dumps(good), ""]
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(lines) + "\n")
    output = tmp_path / "verdicts.jsonl"
    assert main(["dedup", "--input", str(source), "--output", str(output)]) == 0
    verdicts = [json.loads(line) for line in output.read_text().splitlines()]
    assert verdicts == [{"id": "caller-1", "duplicate_of": None, "cluster_id": "caller-1", "kind": "canonical",
                         "score": 0.0}]
    dead = [json.loads(line) for line in (tmp_path / "verdicts.jsonl.dead_letters.jsonl").read_text().splitlines()]
    assert sorted(d["reason"] for d in dead) == ["bad_json", "bad_published", "duplicate_id", "no_id", "no_text"]
    assert main(["dedup", "--input", str(tmp_path / "missing.jsonl"), "--output", str(output)]) == 2
