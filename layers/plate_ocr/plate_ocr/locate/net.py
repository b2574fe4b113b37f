"""The plate detector's network: a MobileNetV3-Small backbone with a small FPN and a keypoint head.

CenterNet-style: at every cell of a stride-4 grid the head predicts how likely the cell is a plate's
centre (``heat``, one logit) and, from there, the plate's 4 corners: ``log(size / SIZE_UNIT)`` and
the corners' offsets from the cell centre in units of that size (``size`` is the square root of
the plate's area, so small and large plates weigh alike). Peaks of the heat map are plates; no
anchors and no box non-maximum suppression are needed.

The backbone is torchvision's ``MobileNetV3`` class built from its public
``InvertedResidualConfig`` (the MobileNetV3-Small recipe without its classifier), trained from
scratch: no weights are downloaded. Training (``training/detector.py``) and inference
(:mod:`plate_ocr.locate.detector`) both build the network here, from ``models/platedet.yaml``.

torch and torchvision are imported when a network is built, not when this module is imported.
"""

from __future__ import annotations

from typing import Any

#: Corner offsets and sizes are expressed in this many input pixels.
SIZE_UNIT = 32.0
#: Channels of the head's output: heat, log size, then x and y of the 4 corners.
OUTPUTS = 10


def build(width_mult: float = 1.0, fpn: int = 48, stride: int = 4) -> Any:
    """The detector network: input (N, 3, H, W) in [-1, 1] with H, W multiples of 32; output
    (N, 10, H / stride, W / stride)."""
    import torch
    from torch import nn
    from torchvision.models.mobilenetv3 import InvertedResidualConfig, MobileNetV3

    if stride not in (4, 8):
        raise ValueError(f"stride must be 4 or 8, not {stride}")

    def cfg(*args: Any) -> InvertedResidualConfig:
        return InvertedResidualConfig(*args, width_mult=width_mult)

    # MobileNetV3-Small (Howard et al. 2019, table 2), as torchvision builds it.
    blocks = [
        cfg(16, 3, 16, 16, True, "RE", 2, 1),  # stride 4
        cfg(16, 3, 72, 24, False, "RE", 2, 1),  # stride 8
        cfg(24, 3, 88, 24, False, "RE", 1, 1),
        cfg(24, 5, 96, 40, True, "HS", 2, 1),  # stride 16
        cfg(40, 5, 240, 40, True, "HS", 1, 1),
        cfg(40, 5, 240, 40, True, "HS", 1, 1),
        cfg(40, 5, 120, 48, True, "HS", 1, 1),
        cfg(48, 5, 144, 48, True, "HS", 1, 1),
        cfg(48, 5, 288, 96, True, "HS", 2, 1),  # stride 32
        cfg(96, 5, 576, 96, True, "HS", 1, 1),
        cfg(96, 5, 576, 96, True, "HS", 1, 1),
    ]
    # The classifier's last 1x1 convolution is not needed for detection.
    features = MobileNetV3(blocks, last_channel=1024).features[:-1]
    # Feature maps the FPN taps, by index in ``features`` (0 is the stem): strides 4, 8, 16, 32.
    taps = {3: blocks[2].out_channels, 8: blocks[7].out_channels, 11: blocks[10].out_channels}
    if stride == 4:
        taps[1] = blocks[0].out_channels

    def conv_bn(cin: int, cout: int, k: int = 1, groups: int = 1) -> list[nn.Module]:
        return [
            nn.Conv2d(cin, cout, k, 1, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]

    def smooth(ch: int) -> nn.Sequential:
        # Depthwise 3x3 then pointwise: mixes the upsampled coarse map with the lateral one.
        return nn.Sequential(*conv_bn(ch, ch, 3, groups=ch), *conv_bn(ch, ch, 1))

    class PlateNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = features
            self.tap_ids = sorted(taps)
            self.lateral = nn.ModuleList(
                [nn.Sequential(*conv_bn(taps[i], fpn)) for i in self.tap_ids]
            )
            self.smooth = nn.ModuleList([smooth(fpn) for _ in self.tap_ids[1:]])
            self.head = nn.Sequential(
                *conv_bn(fpn, fpn, 3, groups=fpn), *conv_bn(fpn, fpn, 1), nn.Conv2d(fpn, OUTPUTS, 1)
            )
            last = self.head[-1]
            assert isinstance(last, nn.Conv2d) and last.bias is not None
            with torch.no_grad():
                last.bias.zero_()
                last.bias[0] = -2.19  # a prior of 0.1 on the heat map, as in CenterNet

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            maps = []
            for i, layer in enumerate(self.features):
                x = layer(x)
                if i in taps:
                    maps.append(x)
            laterals = [lat(m) for lat, m in zip(self.lateral, maps, strict=True)]
            # Top-down: the coarsest map is upsampled and added level by level.
            top = laterals[-1]
            for level, sm in zip(range(len(laterals) - 2, -1, -1), self.smooth, strict=True):
                lat = laterals[level]
                top = nn.functional.interpolate(top, size=lat.shape[-2:], mode="nearest")
                top = sm(top + lat)
            out: torch.Tensor = self.head(top)
            return out

    return PlateNet()
