"""Recurrent graphs (networkx) and their statistics: degree, clustering, path length."""
from __future__ import annotations

import numpy as np


def recurrent_graph(n: int, p: float, topology: str, rng: np.random.Generator, rewire: float = 0.1,
                    length_scale: float = 0.1):
    """Directed E->E graph (networkx ``DiGraph``) without self-loops."""
    import networkx as nx

    seed = int(rng.integers(2**31))
    if topology == "random":
        return nx.fast_gnp_random_graph(n, p, seed=seed, directed=True)
    if topology == "small_world":
        k = max(2, int(round(p * (n - 1))))
        k += k % 2
        k = min(k, n - 1 - ((n - 1) % 2))
        und = nx.watts_strogatz_graph(n, k, rewire, seed=seed)
        return und.to_directed()
    if topology == "distance":
        pos = np.arange(n) / n
        d = np.abs(pos[:, None] - pos[None, :])
        d = np.minimum(d, 1 - d)
        prob = np.exp(-d / length_scale)
        np.fill_diagonal(prob, 0.0)
        prob *= p * n * (n - 1) / prob.sum()
        adj = rng.random((n, n)) < np.clip(prob, 0, 1)
        np.fill_diagonal(adj, False)
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from(zip(*np.nonzero(adj)))
        return g
    raise ValueError(f"unknown topology {topology!r}")


def graph_statistics(pre: np.ndarray, post: np.ndarray, n: int, rng: np.random.Generator,
                     max_sources: int = 200) -> dict:
    """Degree histogram, clustering and mean shortest path of a directed graph.

    Clustering is the average local clustering of the undirected graph
    (triangles / possible triangles, as ``networkx.average_clustering``),
    computed with sparse matrices; the mean shortest path is taken over the
    largest strongly connected component from up to ``max_sources`` sources.
    """
    import networkx as nx
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components, shortest_path

    adj = csr_matrix((np.ones(len(pre)), (pre, post)), shape=(n, n))
    in_deg = np.asarray(adj.sum(axis=0)).ravel().astype(int)
    out_deg = np.asarray(adj.sum(axis=1)).ravel().astype(int)
    und = ((adj + adj.T) > 0).astype(float)
    deg = np.asarray(und.sum(axis=1)).ravel()
    tri = np.asarray((und @ und).multiply(und).sum(axis=1)).ravel() / 2
    possible = deg * (deg - 1) / 2
    clustering = float(np.mean(np.where(possible > 0, tri / np.where(possible > 0, possible, 1), 0.0)))
    n_comp, labels = connected_components(adj, directed=True, connection="strong")
    largest = np.flatnonzero(labels == np.bincount(labels).argmax())
    sub = adj[largest][:, largest]
    sources = largest if len(largest) <= max_sources else rng.choice(len(largest), max_sources, replace=False)
    src_local = np.arange(len(largest)) if len(largest) <= max_sources else sources
    dist = shortest_path(sub, directed=True, unweighted=True, indices=src_local)
    finite = dist[np.isfinite(dist) & (dist > 0)]
    edges_max = int(max(in_deg.max(initial=0), out_deg.max(initial=0)))
    hist_edges = np.arange(edges_max + 2)
    # a small networkx graph on a subsample gives the reference clustering of the same construction
    sample = min(n, 150)
    g = nx.DiGraph()
    g.add_nodes_from(range(sample))
    mask = (pre < sample) & (post < sample)
    g.add_edges_from(zip(pre[mask].tolist(), post[mask].tolist()))
    return {
        "in_degree": in_deg, "out_degree": out_deg,
        "degree_hist_in": np.histogram(in_deg, bins=hist_edges)[0],
        "degree_hist_out": np.histogram(out_deg, bins=hist_edges)[0],
        "clustering": clustering,
        "mean_shortest_path": float(finite.mean()) if finite.size else float("nan"),
        "largest_component": int(len(largest)),
        "n_components": int(n_comp),
        "density": float(len(pre) / (n * (n - 1))),
        "subgraph_density_nx": float(nx.density(g)),
    }
