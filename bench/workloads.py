"""Workloads of the benchmark suite: chains, architecture variants, random DAGs,
and graphs of a given size, each in the forms the implementations read.

rfa_fast reads packed arrays (built here with numpy, as a search loop that
generates arrays would); the plain-Python reference and rfa-toolbox read
:class:`~rfa_fast.Graph` objects, built here for the samples they analyze.
Both forms of one workload are the same networks, so results can be compared.
"""

from __future__ import annotations

import numpy as np

import rfa_fast
from rfa_fast import Graph, GraphBatch, GraphBuilder, Kind, Node

# -- chains --------------------------------------------------------------------


def chain_params(rng: np.random.Generator, B: int, L: int) -> tuple[np.ndarray, np.ndarray]:
    """Kernels (1, 3, 5, 7) and strides (2 with probability 1/4) of B chains of L convs, int32 [B, L]."""
    k = rng.choice(np.array([1, 3, 5, 7], np.int32), size=(B, L))
    s = rng.choice(np.array([1, 1, 1, 2], np.int32), size=(B, L))
    return k, s


def chain_graphs(k: np.ndarray, s: np.ndarray) -> list[Graph]:
    """The chains as :class:`Graph` objects ("same" padding: (k-1)//2 before, the rest after)."""
    graphs = []
    for b in range(k.shape[0]):
        g = GraphBuilder(f"chain{b}")
        x = g.input()
        for kk, ss in zip(k[b], s[b]):
            kk, ss = int(kk), int(ss)
            x = g.conv(x, kk, ss, pad_begin=(kk - 1) // 2, pad_end=kk - 1 - (kk - 1) // 2)
        graphs.append(g.build())
    return graphs


def chain_specs(k: np.ndarray, s: np.ndarray) -> list[list[dict[str, object]]]:
    """The chains as JSON-able specs (what a search loop written in Python hands to ``GraphBatch.from_specs``)."""
    specs = []
    for kr, sr in zip(k.tolist(), s.tolist()):
        layers: list[dict[str, object]] = [{"op": "input"}]
        for kk, ss in zip(kr, sr):
            pb = (kk - 1) // 2
            layers.append({"op": "conv", "kernel": kk, "stride": ss, "pad_begin": pb, "pad_end": kk - 1 - pb})
        specs.append(layers)
    return specs


def chain_batch_arrays(k: np.ndarray, s: np.ndarray) -> GraphBatch:
    """Pack the chains into the core's arrays with numpy (no Python object per node)."""
    B, L = k.shape
    n = B * (L + 1)
    op = np.ones(n, np.uint8)
    op[:: L + 1] = 0
    win = op == 1
    kk = np.ones((n, 2), np.int32)
    ss = np.ones((n, 2), np.int32)
    kk[win] = k.reshape(-1, 1)
    ss[win] = s.reshape(-1, 1)
    pb = ((kk - 1) // 2).astype(np.int32)
    pred_ptr = np.zeros(n + 1, np.int64)
    pred_ptr[1:] = np.cumsum(win)
    return GraphBatch.from_arrays(
        graph_ptr=np.arange(B + 1) * (L + 1),
        op=op,
        kernel=kk,
        stride=ss,
        dilation=np.ones((n, 2)),
        pad_begin=pb,
        pad_end=kk - 1 - pb,
        pad_mode=np.zeros(n),
        ceil_mode=np.zeros(n),
        scale=np.ones((n, 2)),
        mode=np.zeros(n),
        weighted=np.zeros(n),
        c_in=np.zeros(n),
        c_out=np.zeros(n),
        groups=np.ones(n),
        pred_ptr=pred_ptr,
        pred=np.nonzero(win)[0] - 1,
    )


def batch_bytes(batch: GraphBatch) -> int:
    """Bytes of a batch's arrays: what one copy of the batch would cost."""
    return int(sum(a.nbytes for a in batch.arrays.values()))


# -- architecture variants ---------------------------------------------------


def variant_slots(graph: Graph) -> np.ndarray:
    """Indices of the convolutions whose kernel a variant may change (weighted windows with kernel > 1)."""
    slots = [i for i, n in enumerate(graph.nodes) if n.kind == Kind.WINDOW and n.weighted and max(n.kernel) > 1]
    return np.array(slots, np.int64)


def kernel_variants(graph: Graph, rng: np.random.Generator, n: int, changes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """n variants of a model: ``changes`` of its convolutions get a kernel drawn from 1, 3, 5, 7.

    Padding stays "same" ((k-1)/2 on both sides), so every variant is a valid
    network with the same feature-map sizes; only receptive fields change,
    which is what an architecture search over kernel sizes screens.
    Returns node indices and new kernels, both int64 [n, changes].
    """
    slots = variant_slots(graph)
    idx = np.stack([rng.choice(slots, size=changes, replace=False) for _ in range(n)])
    kernels = rng.choice(np.array([1, 3, 5, 7]), size=(n, changes))
    return idx, kernels


def variant_graph(graph: Graph, idx: np.ndarray, kernels: np.ndarray) -> Graph:
    """One variant as a :class:`Graph` (for the reference and rfa-toolbox)."""
    g = graph
    for i, k in zip(idx.tolist(), kernels.tolist()):
        p = (k - 1) // 2
        g = g.replace_node(i, kernel=(k,) * g.dims, pad_begin=(p,) * g.dims, pad_end=(p,) * g.dims)
    return g


def tile_arrays(graph: Graph, copies: int) -> dict[str, np.ndarray]:
    """One graph's arrays repeated ``copies`` times, edges shifted to each copy (numpy, no Python per node)."""
    a = graph.to_arrays()
    n, e = len(graph.nodes), len(a["pred"])
    out = {}
    for key, v in a.items():
        if key == "graph_ptr":
            out[key] = np.arange(copies + 1, dtype=np.int64) * n
        elif key == "pred_ptr":
            shifted = v[1:][None, :] + e * np.arange(copies, dtype=np.int64)[:, None]
            out[key] = np.concatenate([np.zeros(1, np.int64), shifted.ravel()])
        elif key == "pred":
            out[key] = (v[None, :] + n * np.arange(copies, dtype=np.int32)[:, None]).ravel().astype(np.int32)
        else:
            out[key] = np.tile(v, (copies,) + (1,) * (v.ndim - 1))
    return out


def variant_batch(graph: Graph, idx: np.ndarray, kernels: np.ndarray) -> GraphBatch:
    """All variants as one batch: tile the model, then set the changed kernels and pads with numpy."""
    B = len(idx)
    arrays = tile_arrays(graph, B)
    rows = (np.arange(B)[:, None] * len(graph.nodes) + idx).ravel()
    k = kernels.ravel().astype(np.int32)
    arrays["kernel"][rows] = k[:, None]
    arrays["pad_begin"][rows] = ((k - 1) // 2)[:, None]
    arrays["pad_end"][rows] = ((k - 1) // 2)[:, None]
    return GraphBatch(arrays)


# -- random DAGs -----------------------------------------------------------------


def random_dag_batch(rng: np.random.Generator, B: int, n: int) -> GraphBatch:
    """B random DAGs of n nodes, generated as arrays.

    Node 0 is the input; then windows (3 in 4: kernel 1/3/5/7, stride 2 with
    probability 0.08, dilation 2 with probability 0.15, centred explicit pads)
    reading the previous node, and merges (1 in 4) of the previous node and a
    random one of the 8 before it: residual-style skips, with misaligned merges
    where the two sides have different strides (a flag, never an error).
    """
    kind = np.where(rng.random((B, n)) < 0.75, Kind.WINDOW, Kind.MERGE).astype(np.uint8)
    kind[:, 0] = Kind.INPUT
    kind[:, 1:3] = Kind.WINDOW  # a merge needs two distinct earlier nodes
    win = kind == Kind.WINDOW
    k = np.where(win, rng.choice(np.array([1, 3, 5, 7], np.int32), size=(B, n)), 1)
    s = np.where(win & (rng.random((B, n)) < 0.08), 2, 1)
    d = np.where(win & (rng.random((B, n)) < 0.15) & (k > 1), 2, 1)
    ext = d * (k - 1) + 1
    pb = (ext - 1) // 2
    pe = ext - 1 - pb
    pos = np.arange(n)[None, :]
    # the merge's second input: uniform among the (up to) 8 nodes before the previous one
    back = 2 + (rng.random((B, n)) * np.minimum(8, np.maximum(pos - 1, 1))).astype(np.int64)
    second = np.maximum(pos - back, 0)
    n_in = np.where(kind == Kind.INPUT, 0, np.where(kind == Kind.MERGE, 2, 1)).ravel()
    base = (np.arange(B, dtype=np.int64) * n)[:, None]
    first_g = (base + pos - 1).ravel()
    second_g = (base + second).ravel()
    pred_ptr = np.zeros(B * n + 1, np.int64)
    pred_ptr[1:] = np.cumsum(n_in)
    pred = np.empty(int(pred_ptr[-1]), np.int32)
    has1 = n_in >= 1
    pred[pred_ptr[:-1][has1]] = first_g[has1]
    has2 = n_in == 2
    pred[pred_ptr[:-1][has2] + 1] = second_g[has2]

    def two(x: np.ndarray) -> np.ndarray:
        return np.repeat(x.reshape(-1, 1), 2, axis=1)

    N = B * n
    return GraphBatch.from_arrays(
        graph_ptr=np.arange(B + 1) * n,
        op=kind.ravel(),
        kernel=two(k),
        stride=two(s),
        dilation=two(d),
        pad_begin=two(pb),
        pad_end=two(pe),
        pad_mode=np.zeros(N),
        ceil_mode=np.zeros(N),
        scale=np.ones((N, 2)),
        mode=np.zeros(N),
        weighted=win.ravel(),
        c_in=np.zeros(N),
        c_out=np.zeros(N),
        groups=np.ones(N),
        pred_ptr=pred_ptr,
        pred=pred,
    )


def graph_from_batch(batch: GraphBatch, b: int) -> Graph:
    """Graph b of a packed batch as a :class:`Graph` (for the reference), node for node."""
    a = batch.arrays
    lo, hi = int(a["graph_ptr"][b]), int(a["graph_ptr"][b + 1])
    nodes = []
    for v in range(lo, hi):
        kind = Kind(int(a["op"][v]))
        inputs = tuple(int(p) - lo for p in a["pred"][a["pred_ptr"][v] : a["pred_ptr"][v + 1]])
        nodes.append(
            Node(
                name=f"n{v - lo}",
                op=kind.name.lower(),
                kind=kind,
                inputs=inputs,
                kernel=tuple(int(x) for x in a["kernel"][v]),
                stride=tuple(int(x) for x in a["stride"][v]),
                dilation=tuple(int(x) for x in a["dilation"][v]),
                pad_begin=tuple(int(x) for x in a["pad_begin"][v]),
                pad_end=tuple(int(x) for x in a["pad_end"][v]),
                weighted=bool(a["weighted"][v]),
            )
        )
    return Graph(nodes, name=f"graph{b}", dims=batch.dims)


# -- graphs of a given size ------------------------------------------------------


def residual_chain(layers: int) -> Graph:
    """``layers`` 3x3 convs in residual pairs (conv, conv, add the block's input): E ~ 1.5 N."""
    b = GraphBuilder(f"residual{layers}")
    x = b.input()
    for i in range(layers // 2):
        stride = 2 if i in (1, 3, 5) else 1  # a few downsamplings, as in a real network
        y = b.conv(x, 3, stride, pad=1)
        y = b.conv(y, 3, pad=1)
        x = b.add(y, b.pool(x, stride, stride) if stride > 1 else x)
    if layers % 2:
        b.conv(x, 3, pad=1)
    return b.build()


def dense_dag(layers: int, fan_in: int = 8) -> Graph:
    """``layers`` 3x3 convs, each reading the concatenation of the last ``fan_in`` outputs (DenseNet-style)."""
    b = GraphBuilder(f"dense{layers}")
    outs = [b.input()]
    for _ in range(layers):
        last = outs[-fan_in:]
        x = last[0] if len(last) == 1 else b.concat(*last)
        outs.append(b.conv(x, 3, pad=1))
    return b.build()


def n_edges(graph: Graph) -> int:
    """Edges of a graph (inputs over all nodes)."""
    return sum(len(n.inputs) for n in graph.nodes)


def unproductive_names(graph: Graph, resolution: int) -> set[str]:
    """Names of the layers rfa_fast rates unproductive at ``resolution`` (for comparisons by name)."""
    rep = rfa_fast.analyze(graph, resolution)
    status = rep.raw["status"][0]
    return {graph.nodes[i].name for i in np.flatnonzero(status & rfa_fast.Status.UNPRODUCTIVE)}
