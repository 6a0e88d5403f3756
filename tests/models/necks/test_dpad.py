"""DPAD neck: level shapes/strides, gradient flow, options, argument validation."""
import pytest
import torch
from mmengine.registry import init_default_scope

import kplink_mm  # noqa: F401
from kplink_mm.models.necks import DPAD

R18_CHANNELS = [128, 256, 512]           # ResNet-18 out_indices (1, 2, 3): C3..C5
X101_CHANNELS = [256, 512, 1024, 2048]   # ResNeXt out_indices (0, 1, 2, 3): C2..C5


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmdet')
    torch.manual_seed(0)


def _feats(channels, size, first_stride, batch=1):
    return [
        torch.rand(batch, c, -(-size // (first_stride * 2**i)), -(-size // (first_stride * 2**i)))
        for i, c in enumerate(channels)
    ]


def test_registered_in_mmdet_and_not_clashing():
    from mmdet.registry import MODELS
    assert MODELS.get('DPAD') is DPAD
    assert MODELS.get('PAFPN') is not DPAD and MODELS.get('FPN') is not DPAD
    neck = MODELS.build(dict(type='DPAD', in_channels=R18_CHANNELS, out_channels=16))
    assert isinstance(neck, DPAD) and neck.num_outs == 7


@pytest.mark.parametrize('extra', ['on_input', 'on_lateral', 'on_output'])
def test_resnet18_seven_levels_strides_8_to_512(extra):
    size = 256
    neck = DPAD(R18_CHANNELS, 32, num_outs=7, add_extra_convs=extra)
    outs = neck(_feats(R18_CHANNELS, size, first_stride=8, batch=2))
    assert len(outs) == 7
    for i, out in enumerate(outs):
        stride = 8 * 2**i
        side = -(-size // stride)  # stride-2 convs pad: ceil
        assert out.shape == (2, 32, side, side), (i, stride, out.shape)
    assert [-(-size // o.shape[-1]) for o in outs] == [8, 16, 32, 64, 128, 256, 256]
    # 256 px: strides 256 and 512 are both one cell; the strides themselves:
    big = 1024
    outs = neck(_feats(R18_CHANNELS, big, first_stride=8))
    assert [big // o.shape[-1] for o in outs] == [8, 16, 32, 64, 128, 256, 512]


def test_resnext_features_with_start_level_non_square():
    # ResNeXt-101 C2..C5 with start_level=1 as in the paper-sized config.
    h, w = 320, 192
    feats = [torch.rand(1, c, h // s, w // s) for c, s in zip(X101_CHANNELS, [4, 8, 16, 32])]
    neck = DPAD(X101_CHANNELS, 24, num_outs=7, start_level=1, add_extra_convs='on_output')
    outs = neck(feats)
    expect = [(-(-h // s), -(-w // s)) for s in [8, 16, 32, 64, 128, 256, 512]]
    assert [tuple(o.shape[2:]) for o in outs] == expect
    assert all(o.shape[:2] == (1, 24) for o in outs)
    # Only the used levels get laterals.
    assert len(neck.lateral_convs) == 3 and len(neck.extra_convs) == 4


def test_configurable_levels_and_maxpool_extras():
    neck = DPAD(R18_CHANNELS, 16, num_outs=5, extra_levels_by='maxpool')
    assert len(neck.extra_convs) == 0
    outs = neck(_feats(R18_CHANNELS, 512, 8))
    assert [o.shape[-1] for o in outs] == [64, 32, 16, 8, 4]
    # FPN semantics: add_extra_convs=False means max-pool extra levels.
    neck = DPAD(R18_CHANNELS, 16, num_outs=6, add_extra_convs=False)
    assert neck.extra_levels_by == 'maxpool'
    assert [o.shape[-1] for o in neck(_feats(R18_CHANNELS, 512, 8))] == [64, 32, 16, 8, 4, 2]
    # No extra level at all: num_outs == used levels.
    neck = DPAD(R18_CHANNELS, 16, num_outs=3)
    assert len(neck(_feats(R18_CHANNELS, 128, 8))) == 3
    # end_level < last input: only the chosen levels, no extras.
    neck = DPAD(X101_CHANNELS, 16, num_outs=2, start_level=1, end_level=2)
    outs = neck(_feats(X101_CHANNELS, 128, 4))
    assert [o.shape[-1] for o in outs] == [16, 8]


def test_gradients_reach_every_level_and_every_conv():
    neck = DPAD(R18_CHANNELS, 16, num_outs=7, add_extra_convs='on_output',
                relu_before_extra_convs=True)
    neck.init_weights()
    feats = [f.requires_grad_() for f in _feats(R18_CHANNELS, 256, 8)]
    outs = neck(feats)
    sum(o.sum() for o in outs).backward()
    convs = [(n, m) for n, m in neck.named_modules() if isinstance(m, torch.nn.Conv2d)]
    # 3 laterals + 3 fpn + 4 extra + 6 down-sampling + 6 aggregation convs.
    assert len(convs) == 22
    for name, conv in convs:
        assert conv.weight.grad is not None, name
        assert conv.weight.grad.abs().sum() > 0, name
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in feats)


def test_bottom_up_path_feeds_the_top_level():
    """N9 depends on C3 through the augmented path (not only through the FPN)."""
    neck = DPAD(R18_CHANNELS, 8, num_outs=7, add_extra_convs='on_input')
    feats = _feats(R18_CHANNELS, 256, 8)
    # Perturbing C3 (not used by FPN top-down for higher levels, nor by the extra
    # convs 'on_input') must still change N9.
    base = neck(feats)[-1]
    feats[0] = feats[0] + 1.0
    assert not torch.allclose(neck(feats)[-1], base)


def test_norm_and_act_cfg_are_used():
    neck = DPAD(R18_CHANNELS, 16, norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'),
                no_norm_on_lateral=True)
    assert not neck.lateral_convs[0].with_norm and neck.fpn_convs[0].with_norm
    assert neck.pa_convs[0].with_norm and neck.pa_convs[0].with_activation
    outs = neck(_feats(R18_CHANNELS, 128, 8, batch=2))
    assert all((o >= 0).all() for o in outs)  # ReLU after the aggregation convs


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=R18_CHANNELS, out_channels=16, num_outs=2),
     r'num_outs=2 is smaller than the number of backbone levels used \(3'),
    (dict(in_channels=X101_CHANNELS, out_channels=16, num_outs=2, start_level=1),
     r'num_outs=2 is smaller than the number of backbone levels used \(3'),
    (dict(in_channels=R18_CHANNELS, out_channels=16, start_level=3), r'start_level=3'),
    (dict(in_channels=R18_CHANNELS, out_channels=16, end_level=1, num_outs=7),
     r'num_outs must be 2, got 7'),
    (dict(in_channels=R18_CHANNELS, out_channels=16, add_extra_convs='on_top'),
     r'add_extra_convs must be'),
    (dict(in_channels=R18_CHANNELS, out_channels=16, extra_levels_by='bilinear'),
     r'extra_levels_by must be'),
    (dict(in_channels=R18_CHANNELS, out_channels=16, add_extra_convs=False,
          extra_levels_by='conv'), r"extra_levels_by='conv' needs add_extra_convs"),
    (dict(in_channels=[], out_channels=16), r'non-empty list'),
    (dict(in_channels=[128, 0], out_channels=16), r'positive ints'),
    (dict(in_channels=R18_CHANNELS, out_channels=0), r'out_channels'),
])
def test_argument_validation(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        DPAD(**kwargs)


def test_forward_input_count_mismatch_names_both_lengths():
    neck = DPAD(X101_CHANNELS, 16, start_level=1)
    with pytest.raises(ValueError, match=r'got 3 input feature maps but in_channels has 4'):
        neck(_feats(X101_CHANNELS[1:], 128, 8))
    neck = DPAD(R18_CHANNELS, 16)
    feats = _feats(R18_CHANNELS, 128, 8)
    feats[1] = torch.rand(1, 99, 8, 8)
    with pytest.raises(ValueError, match=r'input level 1 .* in_channels\[1\]=256'):
        neck(feats)
