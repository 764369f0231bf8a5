"""Branching conversations given as parent links: which branch is the displayed one, and in what order to keep all.

Exports that allow edits and regenerations (ChatGPT `mapping`, DeepSeek `mapping`, Claude `parent_message_uuid`,
Grok `parent_response_id`) store every attempt; only one path from a root to a leaf is what the person saw last.
The helpers take plain ids so every parser can use them:

    parents: {node id: parent id or None}, in source order (the order breaks ties between equal times)
    times:   {node id: epoch seconds or None}

A parent id that is not a key is treated as a root (truncated exports); a cycle never loops forever.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Times = dict[str, float | None]


@dataclass
class Branches:
    order: list[str]  # every node once: depth-first from the roots, siblings oldest first
    canonical: set[str]  # the displayed branch
    warnings: list[str] = field(default_factory=list)


def resolve(parents: dict[str, str | None], leaf: str | None = None, times: Times | None = None) -> Branches:
    """Display order and canonical branch of a conversation.

    Without any parent link among the nodes the conversation is a flat list: ordered by time (source order on
    ties and for missing times) and all of it canonical — legacy exports flatten their branches this way.
    """
    times = times or {}
    warnings: list[str] = []
    dangling = sum(1 for p in parents.values() if p is not None and p not in parents)
    if dangling:
        warnings.append(f"{dangling} message(s) point to a parent missing from the export; kept as separate roots")
    if not any(p is not None and p in parents and p != n for n, p in parents.items()):
        return Branches(_chronological(list(parents), times), set(parents), warnings)
    order = _depth_first(parents, times, warnings)
    path, path_warnings = canonical_path(parents, leaf, times)
    warnings.extend(w for w in path_warnings if w not in warnings)
    return Branches(order, set(path), warnings)


def canonical_path(
    parents: dict[str, str | None], leaf: str | None = None, times: Times | None = None
) -> tuple[list[str], list[str]]:
    """Ids root → leaf of the displayed branch, and warnings.

    `leaf` is the export's pointer to the displayed message (current_node, current_leaf_message_uuid, ...).
    When it is absent or unknown, the newest leaf stands in for it (on equal times the later one in the source).
    """
    times = times or {}
    warnings: list[str] = []
    if leaf is not None and leaf not in parents:
        warnings.append(f"the displayed message {leaf!r} is missing; the newest branch was taken instead")
        leaf = None
    if leaf is None:
        leaves = _leaves(parents)
        if len(leaves) > 1 and not warnings:
            warnings.append("the export does not say which branch was displayed; the newest one was taken")
        leaf = _newest(leaves or list(parents), times)
    path: list[str] = []
    seen: set[str] = set()
    node = leaf
    while node is not None and node in parents:
        if node in seen:
            warnings.append(f"cycle in the message tree at {node!r}; the displayed branch starts there")
            break
        seen.add(node)
        path.append(node)
        node = parents[node]
    path.reverse()
    return path, warnings


def _leaves(parents: dict[str, str | None]) -> list[str]:
    has_child = {p for n, p in parents.items() if p is not None and p != n}
    return [n for n in parents if n not in has_child]


def _newest(nodes: list[str], times: Times) -> str | None:
    if not nodes:
        return None
    # Nodes with a time beat those without; among equals the later in source order wins.
    return max(enumerate(nodes), key=lambda it: (times.get(it[1]) is not None, times.get(it[1]) or 0.0, it[0]))[1]


def _sort_key(index: dict[str, int], times: Times):
    return lambda n: (times.get(n) is None, times.get(n) or 0.0, index[n])


def _chronological(nodes: list[str], times: Times) -> list[str]:
    """Stable sort by time; a node without a time keeps the time of the node before it, so it stays in place."""
    carried: dict[str, float] = {}
    last = float("-inf")
    for n in nodes:
        t = times.get(n)
        if t is not None:
            last = t
        carried[n] = last
    return sorted(nodes, key=lambda n: carried[n])  # sorted() is stable: source order breaks ties


def _depth_first(parents: dict[str, str | None], times: Times, warnings: list[str]) -> list[str]:
    index = {n: i for i, n in enumerate(parents)}
    key = _sort_key(index, times)
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for n, p in parents.items():
        if p is None or p not in parents:
            roots.append(n)
        elif p != n:  # a node that is its own parent is a cycle: no root reaches it
            children.setdefault(p, []).append(n)
    order: list[str] = []
    seen: set[str] = set()
    stack = sorted(roots, key=key, reverse=True)  # iterative: chains can be thousands of messages deep
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        order.append(n)
        stack.extend(sorted(children.get(n, []), key=key, reverse=True))
    rest = [n for n in parents if n not in seen]
    if rest:
        warnings.append(f"{len(rest)} message(s) sit in a cycle of parent links; kept at the end")
        order.extend(sorted(rest, key=key))
    return order
