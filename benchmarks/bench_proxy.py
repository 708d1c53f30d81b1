"""Time task embedding: the default proxy (EfficientNet-Lite0) on a 1,000-image task, and CLIP ViT-B-32.

The task is a folder of real photos: random crops (160 to 400 px, saved as JPEG, quality 90) of ten scikit-image
pictures, one class per picture, 100 images per class. It is written to a temporary folder first (not timed).

For each proxy the script reports the wall time of ``proxy.embed(task, cache=False)``, images per second and the
split of that time (from ``proxy.last_timings``):

- ``setup``: building the model (first call in the process) and anything before the first batch;
- ``load``: decoding and preprocessing (resize, crop, normalise). With prefetching (the default) it runs in a
  background thread while the previous batch goes through the model, so it overlaps ``forward``;
- ``forward``: the model's forward passes;
- ``aggregate``: the task vector from the per-image features (means, prototypes, spreads);
- ``extra``: CLIP's text tower over the label names.

It also times the content hash of the images (the cache key of a query) and one pass without prefetching on part
of the task, to show what decoding costs when it does not overlap the model.

Usage::

    python benchmarks/bench_proxy.py                    # 1,000 images (default proxy), 200 (CLIP), 2 threads
    python benchmarks/bench_proxy.py --quick            # 200 and 50 images
    python benchmarks/bench_proxy.py --device cuda      # GPU when present
    python benchmarks/bench_proxy.py --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

PHOTOS = ("astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "hubble_deep_field",
          "immunohistochemistry", "rocket")


def write_task(root: Path, n_images: int, seed: int = 0) -> Path:
    """``n_images`` JPEG crops of ten scikit-image photos, ``n_images // 10`` per class, in ``root/<photo>/``."""
    import skimage.data

    rng = np.random.default_rng(seed)
    per_class = n_images // len(PHOTOS)
    for photo in PHOTOS:
        image = Image.fromarray(getattr(skimage.data, photo)()).convert("RGB")
        folder = root / photo
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            side = int(rng.integers(96, min(image.size)))
            left = int(rng.integers(0, image.size[0] - side + 1))
            top = int(rng.integers(0, image.size[1] - side + 1))
            out = int(rng.integers(160, 401))
            crop = image.crop((left, top, left + side, top + side)).resize((out, out), Image.Resampling.BICUBIC)
            crop.save(folder / f"{i:04d}.jpg", quality=90)
    return root


def time_proxy(name: str, task, device: str | None, **kwargs) -> dict:
    """Embed ``task`` once (no cache) and return the wall time, images/s and the split."""
    from fennec.proxy import create_proxy

    proxy = create_proxy(name, device=device, max_per_class=None, max_images=None, progress=False, **kwargs)
    tic, cpu = time.perf_counter(), time.process_time()
    feats = proxy.embed(task, cache=False)
    wall, cpu = time.perf_counter() - tic, time.process_time() - cpu
    split = {k: round(v, 3) for k, v in proxy.last_timings.items()}
    # CPU seconds of this process (all threads): on a shared machine, wall time also counts other processes' turns.
    return {"proxy": name, "images": feats.n_images, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "images_per_s": round(feats.n_images / wall, 1),
            "images_per_s_excluding_setup": round(feats.n_images / (wall - split["setup"]), 1),
            "split_s": split, "dim": feats.dim}


def time_without_prefetch(task, n_images: int, device: str | None) -> dict:
    """One feature pass with decoding in the main thread (no overlap), on the first ``n_images`` images."""
    from fennec.features import extract_features

    sub = task.subset(np.arange(min(n_images, task.n_images)))
    feats = extract_features("efficientnet_lite0", sub, device=device, cache=False, progress=False, prefetch=False)
    t = feats.timings
    return {"images": feats.n_images, "load_s": round(t["load"], 3), "forward_s": round(t["forward"], 3),
            "total_s": round(t["total"], 3), "load_share": round(t["load"] / t["total"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=1000, help="images of the default-proxy task")
    parser.add_argument("--clip-images", type=int, default=200, help="images embedded with CLIP")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--quick", action="store_true", help="200 and 50 images")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.n_images, args.clip_images = 200, 50
    torch.set_num_threads(args.threads)
    os.environ.setdefault("FENNEC_HOME", tempfile.mkdtemp(prefix="fennec-bench-"))  # no cache hits from elsewhere
    from fennec.tasks import load_task

    results: dict = {"threads": args.threads, "device": args.device or ("cuda" if torch.cuda.is_available() else "cpu"),
                     "cpu_count": os.cpu_count(), "torch": torch.__version__,
                     "load_average_at_start": round(os.getloadavg()[0], 2)}  # other processes sharing the CPUs
    with tempfile.TemporaryDirectory() as tmp:
        root = write_task(Path(tmp) / "photos", args.n_images)
        tic = time.perf_counter()
        task = load_task(root, max_per_class=None, max_images=None)
        results["list_files_s"] = round(time.perf_counter() - tic, 3)
        tic = time.perf_counter()
        _ = task.content_hash
        results["content_hash_s"] = round(time.perf_counter() - tic, 3)
        results["default"] = time_proxy("default", task, args.device)
        results["default_no_prefetch"] = time_without_prefetch(task, 200, args.device)
        clip_task = task.sample(max_per_class=max(1, args.clip_images // len(PHOTOS)), max_images=None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "random weights": expected, this is a timing run
            results["clip"] = time_proxy("clip", clip_task, args.device, model="ViT-B-32", pretrained=None)
    _report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def _report(results: dict) -> None:
    print(f"torch {results['torch']}, {results['threads']} threads, device {results['device']}, "
          f"{results['cpu_count']} CPUs visible, load average {results['load_average_at_start']} at start")
    print(f"list files {results['list_files_s']} s, content hash {results['content_hash_s']} s")
    for key in ("default", "clip"):
        r = results[key]
        split = r["split_s"]
        print(f"{key:8s} {r['images']:5d} images  {r['seconds']:7.2f} s  {r['images_per_s']:6.1f} img/s "
              f"({r['images_per_s_excluding_setup']:.1f} img/s after setup; {r['cpu_seconds']:.1f} CPU-s in "
              f"{results['threads']} threads)")
        print("         split: " + ", ".join(f"{k} {v:.2f} s" for k, v in split.items())
              + f"  -> forward is {split['forward'] / split['total']:.0%} of the total")
    n = results["default_no_prefetch"]
    print(f"no prefetch, {n['images']} images: load {n['load_s']} s + forward {n['forward_s']} s "
          f"(load is {n['load_share']:.0%} of {n['total_s']} s)")


if __name__ == "__main__":
    main()
