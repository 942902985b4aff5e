"""A conversation's ``mapping`` tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memshift.context import Context


class Tree:
    """A conversation's ``mapping``: parent links are authoritative (the UI walks them up from
    ``current_node``); children are ordered by each parent's ``children`` list."""

    __slots__ = ("_children", "bad_nodes", "keys", "nodes", "parent")

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self.nodes: dict[str, Mapping[str, Any]] = {}
        self.bad_nodes: list[str] = []
        for key, node in mapping.items():
            if isinstance(node, dict):
                self.nodes[key] = node
            else:
                self.bad_nodes.append(key)
        self.keys = list(self.nodes)
        self.parent: dict[str, str | None] = {}
        kids: dict[str | None, list[str]] = {}
        for key, node in self.nodes.items():
            p = node.get("parent")
            p = p if isinstance(p, str) and p in self.nodes and p != key else None
            self.parent[key] = p
            kids.setdefault(p, []).append(key)
        for p, children in kids.items():
            if p is None or len(children) < 2:
                continue
            declared = self.nodes[p].get("children")
            if isinstance(declared, list):
                pos = {c: i for i, c in enumerate(declared) if isinstance(c, str)}
                children.sort(key=lambda c: pos.get(c, len(pos)))
        self._children = kids

    def children(self, key: str | None) -> list[str]:
        return self._children.get(key, [])

    def message(self, key: str) -> Any:
        return self.nodes[key].get("message")

    def active_path(self, current: Any, ctx: Context) -> list[str]:
        """Root-to-leaf keys of the path shown in the UI. A missing or unknown ``current_node``
        falls back to the leaf with the newest ``create_time``."""
        if not self.nodes:
            return []
        if not (isinstance(current, str) and current in self.nodes):
            ctx.warn(
                "conversation(s) with a missing or unknown current_node: "
                "the newest leaf was taken as the active branch",
                key="openai-current-node",
            )
            current = self._newest_leaf()
        path: list[str] = []
        seen: set[str] = set()
        node: str | None = current
        while node is not None:
            if node in seen:
                ctx.warn("a cycle in a conversation tree was cut", key="openai-cycle")
                break
            seen.add(node)
            path.append(node)
            node = self.parent.get(node)
        path.reverse()
        return path

    def _newest_leaf(self) -> str:
        best, best_time = self.keys[-1], float("-inf")
        for key in self.keys:
            if self._children.get(key):
                continue
            msg = self.message(key)
            t = msg.get("create_time") if isinstance(msg, dict) else None
            value = float(t) if isinstance(t, (int, float)) else float("-inf")
            if value >= best_time:
                best, best_time = key, value
        return best
