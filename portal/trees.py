"""Walks over trees loaded as ``{parent: [children]}`` maps (the chain of command, a campaign's parts).

Iterative, so a deep organisation never hits Python's recursion limit.
"""

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def children_map(pairs: Iterable[tuple[K, K | None]]) -> dict[K | None, list[K]]:
    """``{parent: [children]}`` from ``(node, parent)`` pairs; roots are under ``None``."""
    children: dict[K | None, list[K]] = defaultdict(list)
    for node, parent in pairs:
        children[parent].append(node)
    return children


def subtree(children: Mapping[K | None, Iterable[K]], root: K) -> list[K]:
    """``root`` and every node below it."""
    found, stack = [], [root]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, ()))
    return found


def descendant_counts(children: Mapping[K | None, Iterable[K]], roots: Iterable[K]) -> dict[K, int]:
    """How many nodes are below each node of the trees under ``roots`` (the node itself not counted)."""
    counts: dict[K, int] = {}
    stack = [(root, False) for root in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            counts[node] = sum(1 + counts[child] for child in children.get(node, ()))
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in children.get(node, ()))
    return counts
