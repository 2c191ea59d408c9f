"""From pairwise matches to one verdict per article.

Articles are visited in publication order (ties by record id, then entry
key), the order a streaming index would meet them; each is settled against
the articles before it:

- a **wording** match (same URL, GUID or text, near-verbatim, edited) is
  evidence of copying strong enough to join clusters: the article and every
  cluster it matches by wording become one, under the earliest canonical copy
  (two versions of one wire story that share little with each other are one
  cluster once a third copy carries both);
- failing that, its best **meaning** match (paraphrase, translated) attaches
  it to that match's cluster, and joins nothing else: a rewrite is weaker
  evidence, and must not chain two clusters together;
- with no match to an earlier article it is canonical.

A duplicate points at the canonical root of its cluster, so chains of copies
(an edit of an edit) point at the first publication. The result depends only
on the set of matches, never on their order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from schemas.records import DedupInfo, DedupNode, DedupVerdict, Match
from transforms.lib.similarity import KIND_RANK


def order_key(node: DedupNode) -> tuple[str, str, str]:
    """The canonical copy is the earliest published; ties broken by id, then entry key."""
    return (node.published, node.id, node.entry_key)


# Matches made from the feeds before fetching: their direction (which entry is the record) is chosen there.
EXACT_KINDS = frozenset({"same_url", "same_guid"})


def oriented(match: Match) -> Match:
    """The match with ``earlier`` really the earlier of the two (exact matches keep their direction)."""
    if match.kind not in EXACT_KINDS and order_key(match.later) < order_key(match.earlier):
        return match._replace(later=match.earlier, earlier=match.later)
    return match


def _preference(match: Match) -> tuple:
    return (KIND_RANK.get(match.kind, len(KIND_RANK)), -match.score, order_key(match.earlier))


def best_match(candidates: list[Match]) -> Match:
    """The strongest kind, then the highest score, then the earliest."""
    return min(candidates, key=_preference)


MERGING_KINDS = frozenset({"same_url", "same_guid", "same_text", "near_verbatim", "edited"})


def resolve(matches: Iterable[Match]) -> list[DedupVerdict]:
    """One verdict per article named in ``matches``, in publication order."""
    nodes: dict[str, DedupNode] = {}
    incoming: dict[str, list[Match]] = defaultdict(list)
    outgoing: dict[str, list[Match]] = defaultdict(list)  # matches with later articles
    for match in map(oriented, matches):
        if match.later.entry_key == match.earlier.entry_key:
            continue
        nodes[match.later.entry_key] = match.later
        nodes[match.earlier.entry_key] = match.earlier
        incoming[match.later.entry_key].append(match)
        outgoing[match.earlier.entry_key].append(match)

    clusters = Clusters()
    for node in nodes.values():
        clusters.add(node)
    best_of: dict[str, Match] = {}
    for node in sorted(nodes.values(), key=order_key):
        candidates = incoming.get(node.entry_key)
        if not candidates:
            continue
        best_of[node.entry_key] = best_match(candidates)
        merging = [m for m in candidates if m.kind in MERGING_KINDS]
        for match in merging or [best_of[node.entry_key]]:
            # An exact match's earlier side is the fetched entry: its cluster's root stays the root.
            clusters.join(node.entry_key, match.earlier.entry_key, keep=match.kind in EXACT_KINDS)

    verdicts: list[DedupVerdict] = []
    duplicates_of: dict[str, int] = defaultdict(int)
    for node in sorted(nodes.values(), key=order_key):
        root = clusters.root(node.entry_key)
        if root.entry_key == node.entry_key:
            verdicts.append(DedupVerdict(node.entry_key, None, DedupInfo("canonical", 0.0, None, [], None)))
            continue
        duplicates_of[root.entry_key] += 1
        if node.entry_key in best_of:
            best, other = best_of[node.entry_key], best_of[node.entry_key].earlier
        else:  # no earlier match of its own: a later article's wording joined its cluster to an earlier one
            best = best_match(outgoing[node.entry_key])
            other = best.later
        candidates = incoming.get(node.entry_key, []) or outgoing[node.entry_key]
        evidence = list(best.evidence) + [f"matched_entry={other.entry_key}", f"candidates={len(candidates)}"]
        verdicts.append(DedupVerdict(node.entry_key, root.id, DedupInfo(
            best.kind, best.score, other.id, evidence, None)))
    return [
        v._replace(info=v.info._replace(evidence=[f"duplicates={duplicates_of[v.entry_key]}"]))
        if v.duplicate_of is None else v
        for v in verdicts
    ]


class Clusters:
    """Union-find over articles; a cluster's root is its earliest member (``order_key``)."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self._node: dict[str, DedupNode] = {}

    def add(self, node: DedupNode) -> None:
        self._parent.setdefault(node.entry_key, node.entry_key)
        self._node.setdefault(node.entry_key, node)

    def find(self, entry_key: str) -> str:
        parent = self._parent
        while parent[entry_key] != entry_key:
            parent[entry_key] = parent[parent[entry_key]]
            entry_key = parent[entry_key]
        return entry_key

    def join(self, a: str, b: str, keep: bool = False) -> None:
        """One cluster of ``a``'s and ``b``'s; its root is the earlier root, or ``b``'s with ``keep``."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return
        if keep or order_key(self._node[root_b]) < order_key(self._node[root_a]):
            root_a, root_b = root_b, root_a
        self._parent[root_b] = root_a

    def root(self, entry_key: str) -> DedupNode:
        return self._node[self.find(entry_key)]
