"""DPAD: the Deep Path Aggregation Detector neck of KLPNet (paper §3.1).

FPN levels C3..C7 (a top-down FPN over the backbone levels plus extra levels),
C8, C9 made by further stride-2 down-sampling of C7, and a bottom-up augmented
path N3 -> N9 over *all* levels (mmdet's ``PAFPN`` only aggregates over the
backbone levels and appends the extra levels afterwards).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.registry import MODELS

_EXTRA_SOURCES = ('on_input', 'on_lateral', 'on_output')
_EXTRA_BY = ('conv', 'maxpool')


@MODELS.register_module()
class DPAD(BaseModule):
    """Deep Path Aggregation neck.

    With a ResNet/ResNeXt and ``out_indices=(1, 2, 3)`` (C3..C5, strides 8..32)
    and ``num_outs=7`` the outputs are N3..N9 with strides 8..512::

        C_i   = FPN top-down outputs of the used backbone levels   (3x3 conv each)
        C_i   = extra levels, each a stride-2 down-sampling of the previous one
        N_s   = C_s                                       (s: lowest level)
        N_i+1 = conv3x3(C_i+1 + conv3x3_stride2(N_i))

    The keys mirror mmdet's ``FPN``/``PAFPN`` so a config can swap
    ``type='FPN'``/``'PAFPN'``/``'DPAD'`` without other changes.

    Args:
        in_channels (list[int]): channels of each backbone level given to the neck.
        out_channels (int): channels of every output level.
        num_outs (int): number of output levels. Default 7 (N3..N9).
        start_level (int): index of the first backbone level used. Default 0.
        end_level (int): index (inclusive) of the last backbone level used;
            -1 means the last one. When it is not the last one, no extra level
            may be made (as in mmdet's FPN).
        add_extra_convs (bool | str): source of the first extra level when the
            extra levels are made by convs: ``'on_input'`` (last used backbone
            feature), ``'on_lateral'`` or ``'on_output'`` (last FPN output).
            ``True`` means ``'on_input'``; ``False`` means extra levels by max
            pooling (mmdet FPN semantics). Default ``'on_input'``.
        extra_levels_by (str, optional): ``'conv'`` (stride-2 3x3 conv) or
            ``'maxpool'`` (parameter-free stride-2 sub-sampling of the last
            level). Default None: ``'maxpool'`` if ``add_extra_convs`` is False,
            else ``'conv'``.
        relu_before_extra_convs (bool): ReLU before each extra conv after the
            first one. Default False.
        no_norm_on_lateral (bool): no norm on the 1x1 lateral convs.
        conv_cfg, norm_cfg, act_cfg (dict, optional): for every ConvModule.
        upsample_cfg (dict): ``F.interpolate`` kwargs for the top-down path.
        init_cfg (dict | list[dict], optional): initialisation config.
    """

    def __init__(self,
                 in_channels: List[int],
                 out_channels: int,
                 num_outs: int = 7,
                 start_level: int = 0,
                 end_level: int = -1,
                 add_extra_convs: Union[bool, str] = 'on_input',
                 extra_levels_by: Optional[str] = None,
                 relu_before_extra_convs: bool = False,
                 no_norm_on_lateral: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 upsample_cfg: dict = dict(mode='nearest'),
                 init_cfg=dict(type='Xavier', layer='Conv2d', distribution='uniform')):
        super().__init__(init_cfg=init_cfg)
        # ---- argument validation -------------------------------------------------
        if isinstance(in_channels, tuple):
            in_channels = list(in_channels)
        if not isinstance(in_channels, list) or not in_channels:
            raise TypeError(f'DPAD: in_channels must be a non-empty list of ints, '
                            f'got {in_channels!r}')
        if not all(isinstance(c, int) and c > 0 for c in in_channels):
            raise ValueError(f'DPAD: in_channels must be positive ints, got {in_channels}')
        if not isinstance(out_channels, int) or out_channels <= 0:
            raise ValueError(f'DPAD: out_channels must be a positive int, got {out_channels!r}')
        num_ins = len(in_channels)
        if not isinstance(num_outs, int) or num_outs < 1:
            raise ValueError(f'DPAD: num_outs must be a positive int, got {num_outs!r}')
        if not 0 <= start_level < num_ins:
            raise ValueError(f'DPAD: start_level={start_level} is out of range for '
                             f'{num_ins} input levels (in_channels={in_channels})')
        if end_level == -1 or end_level == num_ins - 1:
            backbone_end_level = num_ins
        else:
            if not start_level <= end_level < num_ins:
                raise ValueError(f'DPAD: end_level={end_level} must be -1 or in '
                                 f'[start_level={start_level}, {num_ins - 1}]')
            backbone_end_level = end_level + 1
        used = backbone_end_level - start_level
        if num_outs < used:
            raise ValueError(
                f'DPAD: num_outs={num_outs} is smaller than the number of backbone '
                f'levels used ({used}: start_level={start_level} .. '
                f'end_level={backbone_end_level - 1} of in_channels={in_channels})')
        if backbone_end_level != num_ins and num_outs != used:
            raise ValueError(
                f'DPAD: with end_level={end_level} (not the last input level) no extra '
                f'level can be made, so num_outs must be {used}, got {num_outs}')
        if isinstance(add_extra_convs, bool):
            extra_source = 'on_input' if add_extra_convs else None
        elif add_extra_convs in _EXTRA_SOURCES:
            extra_source = add_extra_convs
        else:
            raise ValueError(f'DPAD: add_extra_convs must be a bool or one of '
                             f'{_EXTRA_SOURCES}, got {add_extra_convs!r}')
        if extra_levels_by is None:
            extra_levels_by = 'conv' if extra_source else 'maxpool'
        if extra_levels_by not in _EXTRA_BY:
            raise ValueError(f'DPAD: extra_levels_by must be one of {_EXTRA_BY}, '
                             f'got {extra_levels_by!r}')
        if extra_levels_by == 'conv' and extra_source is None:
            raise ValueError("DPAD: extra_levels_by='conv' needs add_extra_convs to be "
                             f"True or one of {_EXTRA_SOURCES}, got False")

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_ins = num_ins
        self.num_outs = num_outs
        self.start_level = start_level
        self.end_level = end_level
        self.backbone_end_level = backbone_end_level
        self.add_extra_convs = extra_source or False
        self.extra_levels_by = extra_levels_by
        self.relu_before_extra_convs = relu_before_extra_convs
        self.no_norm_on_lateral = no_norm_on_lateral
        self.upsample_cfg = dict(upsample_cfg)

        def conv(cin, k, stride=1, norm=norm_cfg):
            return ConvModule(cin, out_channels, k, stride=stride, padding=k // 2,
                              conv_cfg=conv_cfg, norm_cfg=norm, act_cfg=act_cfg,
                              inplace=False)

        # ---- top-down FPN over the used backbone levels ------------------------
        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for i in range(start_level, backbone_end_level):
            self.lateral_convs.append(
                conv(in_channels[i], 1, norm=None if no_norm_on_lateral else norm_cfg))
            self.fpn_convs.append(conv(out_channels, 3))

        # ---- extra levels (C6, C7, then C8, C9 by down-sampling C7) ------------
        self.num_extra = num_outs - used
        self.extra_convs = nn.ModuleList()
        if extra_levels_by == 'conv':
            for i in range(self.num_extra):
                cin = (in_channels[backbone_end_level - 1]
                       if i == 0 and extra_source == 'on_input' else out_channels)
                self.extra_convs.append(conv(cin, 3, stride=2))

        # ---- bottom-up augmented path N_s .. N_{s+num_outs-1} -------------------
        self.downsample_convs = nn.ModuleList(
            [conv(out_channels, 3, stride=2) for _ in range(num_outs - 1)])
        self.pa_convs = nn.ModuleList([conv(out_channels, 3) for _ in range(num_outs - 1)])

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Return the ``num_outs`` maps N_s.. (highest resolution first)."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(
                f'DPAD: got {len(inputs)} input feature maps but in_channels has '
                f'{len(self.in_channels)} entries ({self.in_channels}); check the '
                f"backbone's out_indices against the neck's in_channels")
        for i, (x, c) in enumerate(zip(inputs, self.in_channels)):
            if x.dim() != 4 or x.shape[1] != c:
                raise ValueError(f'DPAD: input level {i} has shape {tuple(x.shape)} but '
                                 f'in_channels[{i}]={c} (expected N x {c} x H x W)')

        # C levels: top-down FPN
        laterals = [
            lateral_conv(inputs[i + self.start_level])
            for i, lateral_conv in enumerate(self.lateral_convs)
        ]
        for i in range(len(laterals) - 1, 0, -1):
            if 'scale_factor' in self.upsample_cfg:
                up = F.interpolate(laterals[i], **self.upsample_cfg)
            else:
                up = F.interpolate(laterals[i], size=laterals[i - 1].shape[2:],
                                   **self.upsample_cfg)
            laterals[i - 1] = laterals[i - 1] + up
        cs = [fpn_conv(lat) for fpn_conv, lat in zip(self.fpn_convs, laterals)]

        # C levels: extra ones
        for i in range(self.num_extra):
            if self.extra_levels_by == 'maxpool':
                cs.append(F.max_pool2d(cs[-1], 1, stride=2))
                continue
            if i == 0:
                if self.add_extra_convs == 'on_input':
                    src = inputs[self.backbone_end_level - 1]
                elif self.add_extra_convs == 'on_lateral':
                    src = laterals[-1]
                else:  # 'on_output'
                    src = cs[-1]
            else:
                src = F.relu(cs[-1]) if self.relu_before_extra_convs else cs[-1]
            cs.append(self.extra_convs[i](src))

        # N levels: bottom-up augmented path, N_s = C_s
        outs = [cs[0]]
        for i in range(self.num_outs - 1):
            down = self.downsample_convs[i](outs[-1])
            if down.shape[2:] != cs[i + 1].shape[2:]:
                # Backbones that floor instead of ceil odd sizes; keep C's grid.
                down = F.interpolate(down, size=cs[i + 1].shape[2:], mode='nearest')
            outs.append(self.pa_convs[i](cs[i + 1] + down))
        return tuple(outs)
