"""From pairwise matches to one verdict per article.

Articles are visited in publication order (ties by record id, then entry
key), the order a streaming index would meet them. An article with no match
to an earlier one is canonical. Otherwise it is a duplicate of the canonical
root of its best match (strongest kind, then highest score, then earliest),
so chains of copies (an edit of an edit) point at the first publication.
The result depends only on the set of matches, never on their order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from schemas.records import DedupInfo, DedupNode, DedupVerdict, Match
from transforms.lib.similarity import KIND_RANK


def order_key(node: DedupNode) -> tuple[str, str, str]:
    """The canonical copy is the earliest published; ties broken by id, then entry key."""
    return (node.published, node.id, node.entry_key)


def oriented(match: Match) -> Match:
    """The match with ``earlier`` really the earlier of the two."""
    if order_key(match.later) < order_key(match.earlier):
        return match._replace(later=match.earlier, earlier=match.later)
    return match


def _preference(match: Match) -> tuple:
    return (KIND_RANK.get(match.kind, len(KIND_RANK)), -match.score, order_key(match.earlier))


def best_match(candidates: list[Match]) -> Match:
    """The strongest kind, then the highest score, then the earliest."""
    return min(candidates, key=_preference)


def resolve(matches: Iterable[Match]) -> list[DedupVerdict]:
    """One verdict per article named in ``matches``, in publication order."""
    nodes: dict[str, DedupNode] = {}
    incoming: dict[str, list[Match]] = defaultdict(list)
    for match in map(oriented, matches):
        if match.later.entry_key == match.earlier.entry_key:
            continue
        nodes[match.later.entry_key] = match.later
        nodes[match.earlier.entry_key] = match.earlier
        incoming[match.later.entry_key].append(match)

    root_of: dict[str, DedupNode] = {}
    duplicates_of: dict[str, int] = defaultdict(int)
    verdicts: list[DedupVerdict] = []
    for node in sorted(nodes.values(), key=order_key):
        candidates = incoming.get(node.entry_key)
        if not candidates:
            root_of[node.entry_key] = node
            verdicts.append(DedupVerdict(node.entry_key, None, DedupInfo(
                "canonical", 0.0, None, [], None)))
            continue
        best = best_match(candidates)
        root = root_of[best.earlier.entry_key]
        root_of[node.entry_key] = root
        duplicates_of[root.entry_key] += 1
        evidence = list(best.evidence) + [f"matched_entry={best.earlier.entry_key}", f"candidates={len(candidates)}"]
        verdicts.append(DedupVerdict(node.entry_key, root.id, DedupInfo(
            best.kind, best.score, best.earlier.id, evidence, None)))
    return [
        v._replace(info=v.info._replace(evidence=[f"duplicates={duplicates_of[v.entry_key]}"]))
        if v.duplicate_of is None else v
        for v in verdicts
    ]
