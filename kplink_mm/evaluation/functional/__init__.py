from .identification import identify_keypoints, oracle_identify, pck_hits

__all__ = ['identify_keypoints', 'oracle_identify', 'pck_hits']
