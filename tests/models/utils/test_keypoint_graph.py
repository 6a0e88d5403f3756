import torch

from kplink_mm.datasets.metainfo import category_slices
from kplink_mm.models.utils import (build_keypoint_graphs, edge_visibility_labels,
                                    fully_connected_edge_index, node_visibility_from_edges)


def _instance(name, seed=0):
    start, n = category_slices()[name]
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 2, generator=g) * 2 - 1, torch.rand(n, generator=g),
            torch.arange(start, start + n))


def test_mixed_sizes_edge_counts_and_fields():
    bottle, car = _instance('bottle'), _instance('car', 1)   # 7 and 12 keypoints
    assert len(bottle[0]) == 7 and len(car[0]) == 12
    graph = build_keypoint_graphs(*zip(bottle, car))
    assert graph.num_graphs == 2
    assert graph.num_keypoints.tolist() == [7, 12]
    assert graph.ptr.tolist() == [0, 7, 19]
    assert graph.edge_index.shape == (2, 7 * 6 + 12 * 11)
    assert torch.equal(graph.pos, torch.cat([bottle[0], car[0]]))
    assert torch.equal(graph.score, torch.cat([bottle[1], car[1]]))
    assert torch.equal(graph.slot, torch.cat([bottle[2], car[2]]))   # not offset
    src, dst = graph.edge_index
    # no self loops, no edge across graphs, every ordered pair exactly once
    assert (src != dst).all()
    assert torch.equal(graph.batch[src], graph.batch[dst])
    pairs = set(zip(src.tolist(), dst.tolist()))
    assert len(pairs) == graph.edge_index.shape[1]
    for lo, hi in ((0, 7), (7, 19)):
        n = hi - lo
        inside = (src >= lo) & (src < hi)
        assert int(inside.sum()) == n * (n - 1)
        # every node sends and receives n - 1 edges
        assert torch.bincount(src[inside] - lo, minlength=n).tolist() == [n - 1] * n
        assert torch.bincount(dst[inside] - lo, minlength=n).tolist() == [n - 1] * n


def test_numpy_inputs_and_extra_node_fields():
    kp, sc, sl = _instance('tvmonitor')
    visible = torch.tensor([1, 0, 1, 1, 0, 1, 1, 1], dtype=torch.bool)
    graph = build_keypoint_graphs([kp.numpy()], [sc.numpy()], [sl.numpy()],
                                  visible=[visible])
    assert graph.pos.dtype == torch.float32 and graph.slot.dtype == torch.long
    assert torch.equal(graph.visible, visible)


def test_edge_labels_by_hand():
    # 4 nodes, node 2 occluded: only edges among {0, 1, 3} are visible
    edge_index = fully_connected_edge_index(4)
    visible = torch.tensor([True, True, False, True])
    labels = edge_visibility_labels(visible, edge_index)
    expected = [int(i != 2 and j != 2) for i, j in edge_index.t().tolist()]
    assert labels.tolist() == expected
    assert labels.sum() == 3 * 2
    # the documented edge order: edge (i, j) at i * (N - 1) + (j if j < i else j - 1)
    for e, (i, j) in enumerate(edge_index.t().tolist()):
        assert e == i * 3 + (j if j < i else j - 1)


def test_node_visibility_from_edges_by_hand():
    # 3 nodes; edges (sender, receiver) in order (0,1) (0,2) (1,0) (1,2) (2,0) (2,1)
    edge_index = fully_connected_edge_index(3)
    assert edge_index.t().tolist() == [[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]]
    prob = torch.tensor([0.9, 0.2, 0.7, 0.1, 0.3, 0.4])
    soft = node_visibility_from_edges(prob, edge_index, 4, soft=True)
    # outgoing max: node 0 -> 0.9, node 1 -> 0.7, node 2 -> 0.4, isolated node 3 -> 0
    assert torch.allclose(soft, torch.tensor([0.9, 0.7, 0.4, 0.0]))
    hard = node_visibility_from_edges(prob, edge_index, 4)
    assert hard.tolist() == [True, True, False, False]
    both = node_visibility_from_edges(prob, edge_index, 4, soft=True, direction='both')
    assert torch.allclose(both, torch.tensor([0.9, 0.9, 0.4, 0.0]))
    incoming = node_visibility_from_edges(prob, edge_index, 4, soft=True,
                                          direction='incoming')
    assert torch.allclose(incoming, torch.tensor([0.7, 0.9, 0.2, 0.0]))


def test_visibility_round_trip_from_true_labels():
    # perfect edge predictions recover the node labels (when >= 2 nodes are visible)
    graph = build_keypoint_graphs(*zip(_instance('bottle'), _instance('chair', 2)))
    visible = torch.rand(graph.num_nodes, generator=torch.Generator().manual_seed(3)) > 0.4
    visible[:2] = True
    visible[7:9] = True
    labels = edge_visibility_labels(visible, graph.edge_index).float()
    assert torch.equal(node_visibility_from_edges(labels, graph.edge_index,
                                                  graph.num_nodes), visible)
