from .keypoint_graph import (build_keypoint_graphs, edge_visibility_labels,
                             fully_connected_edge_index, node_visibility_from_edges)
from .peak_set_naming import PeakSetNamer, PeakSetNaming
from .viewpoint_naming import ViewpointNaming

__all__ = ['build_keypoint_graphs', 'edge_visibility_labels', 'fully_connected_edge_index',
           'node_visibility_from_edges', 'PeakSetNamer', 'PeakSetNaming', 'ViewpointNaming']
