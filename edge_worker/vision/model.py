"""A small MobileNetV2 (Sandler et al. 2018) for grayscale defect classification, written out here
because torchvision is not available. Imports torch: training and the torch backend only."""

from __future__ import annotations

import torch
from torch import nn

# (expansion t, output channels c, repeats n, first stride s), as in the paper's Table 2, narrowed.
# The first block strides too (input 128 -> 32x32 after two layers): on 2 CPU cores this trains ~4x
# faster than the paper's stride-1 first block, and thin scratches still register in 3x3 receptive fields.
DEFAULT_CONFIG: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 2),
    (4, 24, 2, 2),
    (4, 32, 2, 2),
    (6, 64, 2, 2),
    (6, 96, 1, 1),
)


def _conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expansion -> 3x3 depthwise -> 1x1 linear projection; identity shortcut when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn(cin, hidden, 1, 1))
        layers.append(_conv_bn(hidden, hidden, 3, stride, groups=hidden))
        layers.append(_conv_bn(hidden, cout, 1, 1, act=False))
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out


class DefectNet(nn.Module):
    """MobileNetV2-style classifier. ``forward`` returns logits; ``ProbabilityHead`` adds softmax."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        stem: int = 16,
        last: int = 192,
        config: tuple[tuple[int, int, int, int], ...] = DEFAULT_CONFIG,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(in_channels, stem, 3, 2)]
        cin = stem
        for t, c, n, s in config:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_conv_bn(cin, last, 1, 1))
        self.features = nn.Sequential(*layers)
        # Average and max pooling side by side: a defect is small and local, and averaging alone dilutes
        # one hot cell of the final 4x4 map into the whole part.
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * last, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        return self.classifier(torch.cat([torch.flatten(self.avg_pool(f), 1), torch.flatten(self.max_pool(f), 1)], 1))


class ProbabilityHead(nn.Module):
    """Wraps the net so the exported graph outputs class probabilities (softmax)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)
