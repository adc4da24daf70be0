"""Embedding throughput of resnet18 on this machine, against its matrix-multiply peak.

    .venv/bin/python benchmarks/embed_throughput.py [--size 224] [--batch 32 64]
        [--seconds 10] [--repeats 3] [--threads N] [--out FILE.json]

Times torchvision's resnet18 (random weights: same speed as trained ones; the classifier
replaced by Identity, so the output is the 512-d embedding) on random normalised
--size x --size float32 batches, model time only (no decoding or normalising), in:

- eager: the plain eval-mode model, channels_last;
- fast: activelearn's CPU path, learn.inference.fast_features (batch norm folded,
  TorchScript traced, frozen and optimize_for_inference'd), on a SplitModel of the net;
- eager bf16 autocast (and fast bf16 autocast, the trace recorded under autocast), marked
  separately: lower precision, reported for its speed.

Each configuration is measured --repeats times for --seconds each, the repeats taken in
turn across configurations so that load from other processes spreads over all of them;
best and median images/s are printed. The script also measures the matrix-multiply peak
(torch.mm of square --mm-sizes matrices, float32 and bfloat16, same thread count, best of
several), counts resnet18's FLOPs per image with forward hooks (2 per multiply-add of the
Conv2d and Linear layers), and prints the fraction of the peak each configuration reaches:
images/s x GFLOP/image / peak GFLOP/s (bf16 runs against the bf16 peak). With CUDA, the
same runs on the GPU (eager float32, fused, float16 and bfloat16 autocast). Writes the
figures as JSON to --out [default: runs/bench/embed_throughput.json].
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

from activelearn.learn.inference import fast_features
from activelearn.learn.networks import SplitModel, fuse_for_inference

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "runs" / "bench" / "embed_throughput.json"
NOTE = ("figures from a shared machine: other processes ran on the same cores, so "
        "the best of the repeats is the closer estimate of what the hardware can do")


def resnet18_embedder() -> nn.Module:
    """resnet18 with random weights and fc replaced by Identity: [b, 3, h, w] -> [b, 512]."""
    net = torchvision.models.resnet18(weights=None)
    net.fc = nn.Identity()
    return net.eval()


def flops_per_image(model: nn.Module, size: int) -> float:
    """Multiply-adds x 2 of the Conv2d and Linear layers for one size x size image."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels
            total += 2 * output.numel() * k // module.groups
        elif isinstance(module, nn.Linear):
            total += 2 * output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.inference_mode():
            model.eval()(torch.zeros(1, 3, size, size))
    finally:
        for h in handles:
            h.remove()
    return float(total)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def mm_peak(n: int, dtype: torch.dtype, device: torch.device, repeats: int = 5,
            min_seconds: float = 0.5) -> list[float]:
    """GFLOP/s of torch.mm on n x n matrices, one figure per repeat (each >= min_seconds)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    for _ in range(2):
        torch.mm(a, b, out=out)
    _sync(device)
    start = time.perf_counter()
    torch.mm(a, b, out=out)
    _sync(device)
    one = max(time.perf_counter() - start, 1e-6)
    iters = max(1, int(min_seconds / one))
    rates = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        for _ in range(iters):
            torch.mm(a, b, out=out)
        _sync(device)
        rates.append(2 * n**3 * iters / (time.perf_counter() - start) / 1e9)
    return rates


def images_per_second(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                      seconds: float, device: torch.device) -> float:
    """Runs fn on x for at least `seconds` (whole batches) and returns images/s."""
    done = 0
    _sync(device)
    start = time.perf_counter()
    while True:
        fn(x)
        done += len(x)
        if device.type == "cuda" and done // len(x) % 8:
            continue  # check the clock (and synchronise) every 8 batches only
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def _runner(fn: Callable[[torch.Tensor], torch.Tensor], device: torch.device,
            dtype: torch.dtype | None) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), _autocast(device, dtype):
            return fn(x)
    return run


def _traced_under_autocast(fused: nn.Module, example: torch.Tensor, dtype: torch.dtype):
    """The fused features traced while autocast is on (the casts become graph ops), frozen;
    None when TorchScript refuses."""
    try:
        with warnings.catch_warnings(), torch.no_grad(), torch.autocast("cpu", dtype=dtype):
            warnings.simplefilter("ignore", FutureWarning)
            traced = torch.jit.trace(fused, example, check_trace=False)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    except Exception as exc:  # noqa: BLE001 - report and go on without it
        print(f"  (fast bf16 autocast unavailable: {type(exc).__name__}: {exc})")
        return None


def configurations(net: nn.Module, batch: int, size: int, device: torch.device):
    """[(name, precision, callable, input)] for one batch size on one device."""
    x = torch.randn(batch, 3, size, size, device=device).contiguous(
        memory_format=torch.channels_last)
    eager = net.to(device).to(memory_format=torch.channels_last).eval()
    split = SplitModel(features=eager, embedding_dim=512, classes=10, dropout=0.0).eval()
    with torch.no_grad():
        fast = fast_features(split, x, device)
    low = [torch.bfloat16] if device.type == "cpu" else [torch.float16, torch.bfloat16]
    configs = [("eager channels_last", "float32", _runner(eager, device, None), x),
               ("fast (fast_features)", "float32", _runner(fast, device, None), x)]
    for dtype in low:
        tag = str(dtype).removeprefix("torch.")
        configs.append(("eager channels_last", f"{tag} autocast",
                        _runner(eager, device, dtype), x))
        if device.type == "cpu":
            fused = fuse_for_inference(eager).to(memory_format=torch.channels_last)
            traced = _traced_under_autocast(fused, x, dtype)
            if traced is not None:
                configs.append(("fast (traced under autocast)", f"{tag} autocast",
                                _runner(traced, device, None), x))
        else:
            configs.append(("fast (fast_features)", f"{tag} autocast",
                            _runner(fast, device, dtype), x))
    with torch.inference_mode():
        ref = eager(x).float()
        for name, precision, fn, inp in configs[1:]:
            diff = (fn(inp).float() - ref).abs().max().item()
            scale = ref.abs().max().item()
            print(f"  check {name}, {precision}: max |diff| vs eager float32 "
                  f"{diff:.2e} (max |embedding| {scale:.2e})")
    return configs


def measure_device(device: torch.device, args, gflop: float) -> dict:
    """Peak and embedding throughput on one device; prints and returns the figures."""
    print(f"\n== {device.type}: "
          + (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"{platform.processor() or platform.machine()}, "
                  f"{torch.get_num_threads()} torch threads"))
    peak_dtypes = ([torch.float32, torch.bfloat16] if device.type == "cpu"
                   else [torch.float32, torch.float16, torch.bfloat16])
    peaks: dict[str, dict] = {}
    for dtype in peak_dtypes:
        tag = str(dtype).removeprefix("torch.")
        by_size = {n: mm_peak(n, dtype, device) for n in args.mm_sizes}
        best = max(max(r) for r in by_size.values())
        peaks[tag] = {"best_gflops": best,
                      "by_size": {str(n): {"best": max(r), "median": statistics.median(r),
                                           "samples": r} for n, r in by_size.items()}}
        sizes = ", ".join(f"{n}: best {max(r):.0f} median {statistics.median(r):.0f}"
                          for n, r in by_size.items())
        print(f"  mm peak {tag:<8} {best:>9.1f} GFLOP/s  ({sizes})")
    if device.type == "cuda":
        print(f"  (TF32: mm {torch.backends.cuda.matmul.allow_tf32}, cudnn convolutions "
              f"{torch.backends.cudnn.allow_tf32}: float32 convolutions may pass 100% of "
              "the float32 mm peak)")

    runs = []
    for batch in args.batch:
        print(f"  batch {batch}: building")
        for name, precision, fn, x in configurations(resnet18_embedder(), batch, args.size,
                                                     device):
            for _ in range(2):
                fn(x)  # warm-up (oneDNN primitives, cudnn autotune)
            runs.append({"batch": batch, "config": name, "precision": precision,
                         "fn": fn, "x": x, "samples": []})
    for rep in range(args.repeats):
        print(f"  repeat {rep + 1}/{args.repeats} ({len(runs)} x {args.seconds:g} s)")
        for run in runs:
            run["samples"].append(images_per_second(run["fn"], run["x"], args.seconds,
                                                    device))

    print(f"  {'batch':>5}  {'configuration':<29} {'precision':<17} {'images/s':>17}  "
          f"{'of peak':>7}")
    print(f"  {'':>5}  {'':<29} {'':<17} {'best':>8} {'median':>8}  {'(best)':>7}")
    results = []
    fp32_best = {b: max(max(r["samples"]) for r in runs
                        if r["batch"] == b and r["precision"] == "float32")
                 for b in args.batch}
    for run in runs:
        best, median = max(run["samples"]), statistics.median(run["samples"])
        dtype = run["precision"].split()[0]
        peak = peaks.get(dtype, peaks["float32"])["best_gflops"]
        fraction = best * gflop / peak
        faster = best > fp32_best[run["batch"]]
        mark = "" if dtype == "float32" else (" *faster" if faster else " *slower")
        print(f"  {run['batch']:>5}  {run['config']:<29} {run['precision']:<17} "
              f"{best:>8.1f} {median:>8.1f}  {100 * fraction:>6.1f}%  vs {dtype} mm{mark}")
        results.append({"batch": run["batch"], "config": run["config"],
                        "precision": run["precision"], "best_images_per_s": best,
                        "median_images_per_s": median, "samples": run["samples"],
                        "achieved_gflops": best * gflop,
                        "fraction_of_peak": fraction, "peak_dtype": dtype,
                        "faster_than_float32": faster if dtype != "float32" else None})
    print("  * lower precision than float32, reported separately: faster/slower than the "
          "best float32 configuration at that batch")
    return {"device": str(device), "peaks": peaks, "runs": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="image side in pixels")
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per config")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch threads [default: os.cpu_count()]")
    parser.add_argument("--mm-sizes", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--no-cuda", action="store_true", help="skip the GPU even if present")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON results [default: benchmarks/results/embed_throughput.json]")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = True

    gflop = flops_per_image(resnet18_embedder(), args.size) / 1e9
    print(f"resnet18 embedder (fc = Identity, 512-d) at {args.size}x{args.size}: "
          f"{gflop:.3f} GFLOP/image (counted: Conv2d + Linear multiply-adds x 2)")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"{os.cpu_count()} CPUs, {args.threads} torch threads, {args.seconds:g} s per "
          f"measurement x {args.repeats}")
    print(f"NOTE: {NOTE}")

    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.no_cuda:
        devices.append(torch.device("cuda"))
    report = {"note": NOTE, "size": args.size, "batches": args.batch,
              "seconds": args.seconds, "repeats": args.repeats, "threads": args.threads,
              "cpu_count": os.cpu_count(), "torch": torch.__version__,
              "torchvision": torchvision.__version__, "gflop_per_image": gflop,
              "devices": [measure_device(d, args, gflop) for d in devices]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
