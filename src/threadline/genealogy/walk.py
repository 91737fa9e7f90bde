"""Breadth-first walks over genealogy edges that respect when containers held what.

A walk carries, for each object it reaches, the time interval during which that object carried
material of interest. Packing-type edges (packed_in, installed_in, associated_with) narrow the
interval to the time the child was inside; point edges (consumed_into, shipped_to) are followed
only if they happened inside the interval. So a box taken off a pallet before the pallet shipped
does not reach the pallet's customer, while everything the box itself did still traces.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from threadline.store.base import EdgeRow, Reader

CONTAINMENT = frozenset({"packed_in", "installed_in", "associated_with"})
LO, HI = "", "\uffff"  # before and after every stored timestamp

Interval = tuple[str, str]


@dataclass
class Walk:
    """The result of a walk: objects with their first depth, and every edge followed."""

    depth: dict[int, int] = field(default_factory=dict)
    first_edge: dict[int, EdgeRow] = field(default_factory=dict)
    edges: dict[int, tuple[EdgeRow, int]] = field(default_factory=dict)


def _earlier(a: EdgeRow, b: EdgeRow) -> bool:
    return (a.valid_from, a.src, a.dst, a.relation) < (b.valid_from, b.src, b.dst, b.relation)


def _covered(seen: list[Interval], new: Interval) -> bool:
    return any(lo <= new[0] and new[1] <= hi for lo, hi in seen)


def _step_forward(edge: EdgeRow, span: Interval) -> Interval | None:
    lo, hi = span
    if edge.relation in CONTAINMENT:
        start = max(lo, edge.valid_from)
        end = min(hi, edge.valid_to or HI)
        return (start, end) if start < end else None
    if lo <= edge.valid_from < hi:
        return (edge.valid_from, HI)
    return None


def _step_backward(edge: EdgeRow, span: Interval) -> Interval | None:
    lo, hi = span
    if edge.relation in CONTAINMENT:
        start = max(lo, edge.valid_from)
        end = min(hi, edge.valid_to or HI)
        return (start, end) if start < end else None
    if edge.valid_from < hi:
        # The input mattered up to and including the moment it was consumed or shipped.
        return (LO, edge.valid_from + "\uffff")
    return None


def walk(
    reader: Reader,
    roots: Iterable[int],
    *,
    forward: bool,
    max_depth: int | None = None,
) -> Walk:
    """Walk downstream (``forward``) or upstream from ``roots``."""
    result = Walk()
    seen: dict[int, list[Interval]] = {}
    frontier: dict[int, list[Interval]] = {}
    for root in roots:
        result.depth[root] = 0
        seen[root] = [(LO, HI)]
        frontier[root] = [(LO, HI)]
    step = _step_forward if forward else _step_backward
    depth = 0
    while frontier and (max_depth is None or depth < max_depth):
        depth += 1
        ids = list(frontier)
        edges = reader.edges_from(ids) if forward else reader.edges_to(ids)
        following: dict[int, list[Interval]] = {}
        for edge in edges:
            here, there = (edge.src, edge.dst) if forward else (edge.dst, edge.src)
            for span in frontier.get(here, ()):
                new = step(edge, span)
                if new is None:
                    continue
                if edge.id not in result.edges:
                    result.edges[edge.id] = (edge, depth)
                if result.depth.get(there) == depth and _earlier(edge, result.first_edge[there]):
                    # Several links reach it at this depth: name the earliest, so the answer does
                    # not depend on the order the database returns rows in.
                    result.first_edge[there] = edge
                known = seen.setdefault(there, [])
                if _covered(known, new):
                    continue
                known.append(new)
                following.setdefault(there, []).append(new)
                if there not in result.depth:
                    result.depth[there] = depth
                    result.first_edge[there] = edge
        frontier = following
    return result
