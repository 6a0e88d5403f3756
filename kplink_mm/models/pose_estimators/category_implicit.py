"""Top-down estimator whose predictions also carry unnamed peaks (CKLM)."""
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS


@MODELS.register_module()
class CategoryImplicitPoseEstimator(TopdownPoseEstimator):
    """TopdownPoseEstimator that maps `pred_instances.peaks` to image space too.

    Category-implicit heads predict a set of peaks per target before naming them;
    metrics such as OracleId PCK and offline re-evaluation need those peaks in the
    same (original image) coordinates as the named keypoints.
    """

    def add_pred_to_datasample(self, batch_pred_instances, batch_pred_fields,
                               batch_data_samples):
        for pred, sample in zip(batch_pred_instances, batch_data_samples):
            if 'peaks' in pred:
                center = sample.metainfo['input_center']
                scale = sample.metainfo['input_scale']
                size = sample.metainfo['input_size']
                pred.peaks = pred.peaks / size * scale + center - 0.5 * scale
        return super().add_pred_to_datasample(batch_pred_instances, batch_pred_fields,
                                              batch_data_samples)
