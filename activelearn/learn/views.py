"""Random views of a batch of images, for self-supervised pretraining and the strong
augmentation of semi-supervised rounds: batched (one affine resample for the whole
batch), so a view costs about as much as a forward pass of a small CNN, not a Python
loop per image.

Grayscale-aware: brightness and contrast jitter only (no hue or saturation on one
channel); left-right mirroring only where training.hflip says it is right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ViewRecipe:
    """How far a view may stray from its image.

    crop: [min, max] share of the image's area a random resized crop keeps
    ratio: [min, max] aspect ratio of the crop
    hflip: mirror left-right half of the time
    brightness, contrast: the jitter's reach (an offset of up to brightness standard
        deviations; a factor in [1 - contrast, 1 + contrast])
    erase: the chance that a random rectangle (2-20% of the area) is blanked
    """

    crop: tuple[float, float] = (0.25, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: bool = False
    brightness: float = 0.4
    contrast: float = 0.4
    erase: float = 0.0


def random_views(x: torch.Tensor, recipe: ViewRecipe, gen: torch.Generator) -> torch.Tensor:
    """x: [batch, channels, h, w] normalised -> a random view of each image, same shape.
    Draws from gen (a CPU generator), so a seed gives the same views on any device."""
    b = len(x)
    area = _uniform(b, *recipe.crop, gen)
    log_ratio = _uniform(b, math.log(recipe.ratio[0]), math.log(recipe.ratio[1]), gen)
    ratio = log_ratio.exp()
    width = (area * ratio).sqrt().clamp(max=1.0)
    height = (area / ratio).sqrt().clamp(max=1.0)
    # the crop's centre, anywhere that keeps it inside the image (grid units: -1..1)
    cx = (2 * torch.rand(b, generator=gen) - 1) * (1 - width)
    cy = (2 * torch.rand(b, generator=gen) - 1) * (1 - height)
    sign = torch.ones(b)
    if recipe.hflip:
        sign = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = width * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = height, cy
    theta = theta.to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x.contiguous(), grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    shift = _uniform(b, -recipe.brightness, recipe.brightness, gen)
    scale = _uniform(b, 1 - recipe.contrast, 1 + recipe.contrast, gen)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * scale.view(-1, 1, 1, 1).to(x.device) + mean \
        + shift.view(-1, 1, 1, 1).to(x.device)
    if recipe.erase > 0:
        out = _erase(out, recipe.erase, gen)
    return out.contiguous(memory_format=torch.channels_last)


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def _erase(x: torch.Tensor, chance: float, gen: torch.Generator) -> torch.Tensor:
    """Blank a random rectangle (2-20% of the area, set to the image's mean) in a
    `chance` share of the images (random erasing, Zhong et al. 2020)."""
    b, _, h, w = x.shape
    area = _uniform(b, 0.02, 0.2, gen)
    ratio = _uniform(b, math.log(0.3), math.log(3.3), gen).exp()
    eh = (area * ratio).sqrt().mul(h).clamp(1, h)
    ew = (area / ratio).sqrt().mul(w).clamp(1, w)
    top = torch.rand(b, generator=gen) * (h - eh)
    left = torch.rand(b, generator=gen) * (w - ew)
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    inside = (rows >= top.view(-1, 1, 1)) & (rows < (top + eh).view(-1, 1, 1)) \
        & (cols >= left.view(-1, 1, 1)) & (cols < (left + ew).view(-1, 1, 1))
    inside &= (torch.rand(b, generator=gen) < chance).view(-1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return torch.where(inside.unsqueeze(1).to(x.device), mean, x)
