"""Prose lines and quoted speech (transforms/lib/prose.py), and the evidence built on them."""

from __future__ import annotations

from tests.builders import features
from transforms.lib.fingerprints import comparable_paragraphs
from transforms.lib.prose import is_prose, prose_paragraphs, quoted_flags
from transforms.lib.similarity import score_pair

WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
STORY = [
    "Emergency teams pulled three bodies from the rubble of the landslide on Sunday, the agency said.",
    "Media in the Pacific nation have said the landslide buried more than 300 people and 1,100 houses.",
    "More than six villages have been affected by the landslide in the province, the department said.",
    "The province's governor said the government was sending helicopters and food to the stricken valley.",
    "Rescuers have been hampered by the remote location and by fresh falls of earth on the only road in.",
]


def test_page_furniture_is_not_prose():
    furniture = [
        "Home | World | Business | Sport | Culture",
        "Also read: Floods kill dozens in the north as rivers burst their banks overnight",
        "Passengers line up for check in at Don Mueang International Airport in Bangkok, Thailand, July 19, 2024.",
        "We use cookies to give you the best experience on our website and to show you relevant adverts.",
        "AGL 40.00 Decreased By -0.03 (-0.07%) AIRLINK 128.10 Increased By 0.40 (0.31%) BOP 6.70",
        "Subscribe to our newsletter for the day's top stories delivered straight to your inbox.",
        "(BBC)",
    ]
    assert [line for line in furniture if is_prose(line)] == []
    assert all(is_prose(line) for line in STORY)


def test_prose_paragraphs_keep_order_and_drop_repeats():
    text = "\n".join(["Landslide buries village", STORY[0], "Share this article", STORY[1], STORY[0]])
    assert prose_paragraphs(text) == [STORY[0], STORY[1]]
    assert comparable_paragraphs("Just a headline") == ["Just a headline"]  # nothing reads as prose: kept


def test_quoted_words_are_flagged_including_quotes_carried_over_a_paragraph():
    flags = quoted_flags('The minister said "we will rebuild every house" on Monday.')
    assert [w for w, quoted in flags if quoted] == ["we", "will", "rebuild", "every", "house"]
    carried = quoted_flags("and nobody will be left behind,\u201d she said.")
    assert [w for w, quoted in carried if not quoted] == ["she", "said"]


def _features(key: str, paragraphs: list[str]):
    return features(key, "\n\n".join(paragraphs))


def test_a_copied_passage_inside_different_furniture_is_a_copy():
    """Copies are found by what was copied, not by its share of the page (menus, captions, related lines)."""
    original = _features("a", STORY + ["The agency will update its figures on Monday, officials said."])
    furniture = [f"Related story number {i} about something else entirely in another province today." for i in
                 range(12)]
    copy = _features("b", ["Home | News | Pacific", *furniture[:6], *STORY, *furniture[6:],
                           "Reporters from our own desk visited the capital to talk to relatives on Saturday."])
    scored = score_pair(copy, original)
    assert scored is not None and scored.kind in ("edited", "near_verbatim")


def test_a_shared_quotation_is_not_a_copied_passage():
    quote = ('"We will not rest until every family in the valley has a roof over its head and food on the '
             'table, and until every missing person has been found, however long that takes," the governor said.')
    one = _features("x", ["Reporter one describes queues of lorries on the ring road and talks to a haulier.",
                          "Reporter one also visited the market where traders counted their losses on Friday.",
                          quote])
    two = _features("y", ["Reporter two explains the history of the valley since the 2019 floods hit it.",
                          "Reporter two also spoke to engineers about how the road could be rebuilt next year.",
                          quote])
    assert score_pair(one, two) is None


def test_a_passage_two_pages_of_one_site_share_is_its_furniture_not_a_copy():
    """Two press releases of one company share its "About" paragraph: not a reprint (a real case in the
    extraction benchmark); the same passage on another outlet's page is."""
    about = STORY
    one = features("m", "\n\n".join([f"Release one, paragraph {w}, names a new chief strategy officer from mobile "
                                      f"marketing and lists his {w} earlier roles in detail." for w in WORDS] + about))
    two = features("n", "\n\n".join([f"Release two, paragraph {w}, reports which native ad units earned publishers "
                                      f"the most in the {w} half of the year." for w in WORDS] + about))
    assert one.source_domain == two.source_domain and score_pair(one, two) is None
    elsewhere = features("o", "\n\n".join(["Another outlet ran the same text on its own site this morning.",
                                           *about]))._replace(source_domain="other.example")
    assert score_pair(elsewhere, one) is not None
