"""Pool-scoring throughput of a model on this machine, against its matrix-multiply peak.

    .venv/bin/python benchmarks/score_throughput.py [--model small_cnn] [--threads 2]

Prints images/s for scoring the 60,000-image Fashion-MNIST pool in the default and
channels_last layouts, the model's FLOPs per image, this machine's measured sgemm
GFLOP/s, and the images/s that peak would allow for this model.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from activelearn.config import FASHION_MNIST_CLASSES, DataConfig
from activelearn.data.sources import load_source
from activelearn.learn.inference import Normalizer, predict
from activelearn.learn.models import build_model
from activelearn.learn.networks import InputSpec


def sgemm_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def flops_per_image(model: nn.Module, spec: InputSpec) -> float:
    """Multiply-adds x 2 of the conv and linear layers for one image."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels
            total += 2 * output.numel() * k // module.groups
        elif isinstance(module, nn.Linear):
            total += 2 * module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros(1, spec.channels, spec.height, spec.width))
    for h in handles:
        h.remove()
    return float(total)


def time_eager(model, images, norm, batch_size: int, layout: torch.memory_format) -> float:
    """The plain eager model (no folding, no TorchScript) in the given memory layout."""
    model.eval().to(memory_format=layout)
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = (images[i:i + batch_size].float() - norm.mean[0]) / norm.std[0]
            torch.softmax(model(x.contiguous(memory_format=layout)), dim=1)
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small_cnn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--root", default="data")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pool = load_source(DataConfig(source="fashion-mnist", root=args.root),
                       list(FASHION_MNIST_CLASSES))
    images = pool.images[torch.from_numpy(~pool.is_test)]
    spec = InputSpec(1, 28, 28, 10)
    model = build_model(args.model, spec)
    norm = Normalizer.fit(images)
    device = torch.device("cpu")
    predict(model, images[:2048], norm, device, 256)  # warm-up
    print(f"model {args.model}, {len(images)} images, {args.threads} threads")
    for bs in (128, 256, 512, 1024):
        start = time.perf_counter()
        predict(model, images, norm, device, bs)
        rate = len(images) / (time.perf_counter() - start)
        print(f"  activelearn predict, batch {bs:>5}: {rate:>8.0f} images/s")
    for name, layout in (("default layout", torch.contiguous_format),
                         ("channels_last", torch.channels_last)):
        rate = time_eager(model, images, norm, 256, layout)
        print(f"  plain eager, {name:<14} batch 256: {rate:>8.0f} images/s")
    flops = flops_per_image(model, spec)
    peak = sgemm_gflops()
    print(f"model FLOPs/image: {flops / 1e6:.2f} M; sgemm peak here: {peak:.1f} GFLOP/s; "
          f"peak allows {peak * 1e9 / flops:.0f} images/s")


if __name__ == "__main__":
    main()
