"""PyTorch module paths from ONNX node names (the rule of ../shared/validation/README.md)."""

from __future__ import annotations

import math

import rfa_fast


def module_of(node_name: str) -> str | None:
    """The PyTorch module path of an ONNX node name, None without a scope.

    A scope part ``p.i`` right after part ``p`` names child ``i`` of ``p``;
    the last part names the op.

    >>> module_of("/layer2/layer2.1/conv1/Conv"), module_of("/features/features.0/features.0.0/Conv")
    ('layer2.1.conv1', 'features.0.0')
    """
    parts = [p for p in node_name.split("/") if p][:-1]
    if not parts:
        return None
    module, prev = "", None
    for part in parts:
        if prev is not None and part.startswith(prev + "."):
            module += part[len(prev) :]
        else:
            module = f"{module}.{part}" if module else part
        prev = part
    return module


def stage_layer(graph: rfa_fast.Graph, report: rfa_fast.Report, stage: str) -> rfa_fast.report.Layer:
    """The layer standing for a stage: the largest finite rf_max among the stage's layers.

    Ties go to the last in topological order (the stage's output side);
    ``<output>`` is the node of the graph's first output.
    """
    if stage == "<output>":
        return report.layers[graph.outputs[0]]
    inside = []
    for i, node in enumerate(graph.nodes):
        m = module_of(node.name)
        if (
            m is not None
            and (m == stage or m.startswith(stage + "."))
            and all(map(math.isfinite, report.layers[i].rf_max))
        ):
            inside.append(i)
    assert inside, f"no layer of {stage!r} in the loaded graph"
    return report.layers[max(inside, key=lambda i: (report.layers[i].rf_max, i))]
