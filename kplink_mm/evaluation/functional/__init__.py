from .identification import (KEYPOINT_CHOICES, check_keypoint_choice, identify_keypoints,
                             identify_keypoints_by_probability, oracle_identify, pck_hits,
                             slot_name_scores)
from .links import (OCCLUSION_LEVELS, average_precision, link_endpoints,
                    link_scores_per_pair,
                    match_nodes_to_keypoints, occlusion_level, position_link_labels,
                    precision_recall_f1)
from .occlusion import (group_by_num_invisible, normalized_errors, pck_curve, roc_auc,
                        roc_curve)
from .renaming import rename_record

__all__ = ['KEYPOINT_CHOICES', 'check_keypoint_choice', 'identify_keypoints', 'identify_keypoints_by_probability', 'oracle_identify', 'pck_hits', 'group_by_num_invisible',
           'normalized_errors', 'pck_curve', 'roc_auc', 'roc_curve', 'OCCLUSION_LEVELS',
           'average_precision', 'link_endpoints', 'link_scores_per_pair', 'match_nodes_to_keypoints',
           'occlusion_level', 'position_link_labels', 'precision_recall_f1',
           'rename_record', 'slot_name_scores']
