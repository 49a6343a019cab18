"""Random DAG configs of `noop` tools, shared by the benchmarks."""

from __future__ import annotations

import random
from pathlib import Path

import yaml


def layered_dag(n: int, depth: int, seed: int = 7) -> dict[str, list[str]]:
    """n instance ids in exactly `depth` layers; each tool past the first layer depends on 1-3 of the layer before."""
    rng = random.Random(seed)
    depth = max(1, min(depth, n))
    layers: list[list[str]] = [[] for _ in range(depth)]
    for i in range(n):
        layers[i * depth // n].append(f"t{i:05d}")
    deps: dict[str, list[str]] = {}
    for li, layer in enumerate(layers):
        for node in layer:
            deps[node] = [] if li == 0 else sorted(rng.sample(layers[li - 1], min(len(layers[li - 1]),
                                                                                   rng.randint(1, 3))))
    return deps


def write_config(folder: Path, n: int, depth: int, latency_ms: int, seed: int = 7) -> Path:
    deps = layered_dag(n, depth, seed)
    tools = [{"name": "noop", "instanceID": node, "dependsOn": [f"noop.{d}" for d in ds],
              "options": {"latency_ms": latency_ms, "outputs": {"id": node}}} for node, ds in deps.items()]
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump({"config": {"state": {"backend": "local", "options": {"stateFile": "bench.state"}}},
                                    "tools": tools}, sort_keys=False))
    return path
