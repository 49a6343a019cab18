"""The dependency graph of the tools: `dependsOn` plus the implicit edges of output references."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from devstream.config.models import ToolSpec
from devstream.errors import DependencyCycleError, Issue, UnknownDependencyError
from devstream.outputs import find_references

__all__ = ["Graph"]


class Graph:
    """A DAG over tool keys (`name.instanceID`); `deps[k]` are the keys k must wait for.

    Orders are stable: among tools that are ready at once, config order wins, so plans read the way the
    config is written.
    """

    def __init__(self, nodes: Iterable[str], deps: Mapping[str, Iterable[str]]):
        self.nodes: list[str] = list(dict.fromkeys(nodes))
        self.deps: dict[str, set[str]] = {n: set(deps.get(n, ())) for n in self.nodes}
        self.dependents: dict[str, set[str]] = {n: set() for n in self.nodes}
        for n, ds in self.deps.items():
            for d in ds:
                self.dependents.setdefault(d, set()).add(n)

    @classmethod
    def from_tools(cls, tools: Iterable[ToolSpec], *, strict: bool = True) -> Graph:
        """Edges from each tool's dependsOn and from the output references in its options.

        With `strict`, a dependency on a tool that is not in `tools` is an UnknownDependencyError.
        """
        tools = list(tools)
        keys = [t.key for t in tools]
        known = set(keys)
        deps: dict[str, set[str]] = {}
        issues: list[Issue] = []
        for t in tools:
            wanted = {d: f"dependsOn {d!r}" for d in t.dependsOn}
            for ref in find_references(t.options, "options"):
                wanted.setdefault(ref.tool_key, f"{ref.path} references {ref}")
            for dep, why in wanted.items():
                if dep not in known:
                    issues.append(Issue(f"{t.key}: {why}, but no tool {dep!r} is defined; "
                                        f"check the spelling (name.instanceID) or add the tool", field=t.key))
            deps[t.key] = {d for d in wanted if d in known}
        if strict and issues:
            raise UnknownDependencyError(issues)
        graph = cls(keys, deps)
        if strict:
            cycle = graph.find_cycle()
            if cycle:
                raise DependencyCycleError(cycle)
        return graph

    def find_cycle(self) -> list[str] | None:
        """One cycle as [a, b, ..., a], or None. Iterative DFS: deep graphs must not hit the recursion limit."""
        WHITE, GREY, BLACK = 0, 1, 2
        colour = dict.fromkeys(self.nodes, WHITE)
        position = {n: i for i, n in enumerate(self.nodes)}
        for start in self.nodes:
            if colour[start] != WHITE:
                continue
            stack: list[tuple[str, list[str]]] = [(start, sorted(self.deps[start], key=position.__getitem__))]
            path = [start]
            colour[start] = GREY
            while stack:
                node, todo = stack[-1]
                if not todo:
                    colour[node] = BLACK
                    stack.pop()
                    path.pop()
                    continue
                nxt = todo.pop(0)
                if colour.get(nxt) == GREY:
                    return path[path.index(nxt):] + [nxt]
                if colour.get(nxt) == WHITE:
                    colour[nxt] = GREY
                    path.append(nxt)
                    stack.append((nxt, sorted(self.deps[nxt], key=position.__getitem__)))
        return None

    def order(self) -> list[str]:
        """Dependencies before dependents; config order among equals."""
        return [n for layer in self.layers() for n in layer]

    def layers(self) -> list[list[str]]:
        """Kahn layers: every tool in a layer depends only on tools of earlier layers."""
        position = {n: i for i, n in enumerate(self.nodes)}
        waiting = {n: len(self.deps[n]) for n in self.nodes}
        layer = [n for n in self.nodes if waiting[n] == 0]
        out: list[list[str]] = []
        while layer:
            out.append(layer)
            nxt: list[str] = []
            for n in layer:
                for d in self.dependents.get(n, ()):
                    waiting[d] -= 1
                    if waiting[d] == 0:
                        nxt.append(d)
            layer = sorted(nxt, key=position.__getitem__)
        if sum(map(len, out)) != len(self.nodes):
            raise DependencyCycleError(self.find_cycle() or ["?"])
        return out

    def depth(self) -> int:
        return len(self.layers())

    def ancestors(self, keys: Iterable[str]) -> set[str]:
        """Every key that `keys` depend on, transitively (not including `keys`)."""
        return self._closure(keys, self.deps)

    def descendants(self, keys: Iterable[str]) -> set[str]:
        """Every key that depends on `keys`, transitively (not including `keys`)."""
        return self._closure(keys, self.dependents)

    @staticmethod
    def _closure(keys: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
        start = set(keys)
        seen: set[str] = set()
        todo = [d for k in start for d in edges.get(k, ())]
        while todo:
            k = todo.pop()
            if k not in seen:
                seen.add(k)
                todo.extend(edges.get(k, ()))
        return seen - start
