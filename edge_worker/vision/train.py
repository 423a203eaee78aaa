"""Train the defect classifier on rendered images, evaluate on a test set rendered with another seed,
export ONNX, write the model card.

    python -m edge_worker.vision.train --out edge_worker/models/

Reproducible: torch.manual_seed, deterministic algorithms, a seeded augmentation generator, and a
dataset that is a pure function of its seed. Runs on 2 CPU threads (torch.set_num_threads(2)).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .dataset import load_labelled_folder, render_arrays
from .metrics import classification_report
from .model import DEFAULT_CONFIG, DefectNet, ProbabilityHead
from .preprocess import CHANNELS, INPUT_SIZE, PREPROCESSING, normalise_uint8
from .render import DEFECT_CLASSES

MODEL_VERSION = "defect-mnv2-1.0.0"
ONNX_NAME = "defect_classifier.onnx"
PT_NAME = "defect_classifier.pt"
JSON_NAME = "defect_classifier.json"
CARD_NAME = "MODEL_CARD.md"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    # Flips and quarter turns keep a part a valid part with the same defect class.
    k = int(torch.randint(0, 4, (1,), generator=gen))
    x = torch.rot90(x, k, dims=(2, 3))
    if int(torch.randint(0, 2, (1,), generator=gen)):
        x = torch.flip(x, dims=(3,))
    return x


def predict_numpy(model: nn.Module, x_u8: np.ndarray, batch: int = 128) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x_u8), batch):
            out.append(torch.softmax(model(torch.from_numpy(normalise_uint8(x_u8[i : i + batch]))), 1).numpy())
    return np.concatenate(out)


def export_onnx(model: nn.Module, path: Path) -> None:
    model.eval()
    wrapped = ProbabilityHead(model).eval()
    dummy = torch.zeros(1, CHANNELS, INPUT_SIZE, INPUT_SIZE)
    torch.onnx.export(
        wrapped,
        (dummy,),
        str(path),
        input_names=["input"],
        output_names=["probs"],
        dynamic_axes={"input": {0: "batch"}, "probs": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def train(args: argparse.Namespace, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train, export and describe the model; `progress` (when given) hears each epoch's loss and test accuracy."""
    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n_classes = len(DEFECT_CLASSES)

    t0 = time.perf_counter()
    cache = Path(args.data_cache) if args.data_cache else None
    if cache is not None and cache.is_file():
        # Developer convenience while tuning: the arrays are a pure function of the seeds and sizes.
        d = np.load(cache)
        x_train, y_train, x_test, y_test = d["x"], d["y"], d["xt"], d["yt"]
    else:
        x_train, y_train, _ = render_arrays(args.train_per_class * n_classes * 2, args.seed)
        x_test, y_test, _ = render_arrays(args.test_per_class * n_classes * 2, args.test_seed)
        if cache is not None:
            np.savez(cache, x=x_train, y=y_train, xt=x_test, yt=y_test)
    extra_sources = []
    for folder in args.extra_data:
        x_extra, y_extra = load_labelled_folder(Path(folder))
        x_train, y_train = np.concatenate([x_train, x_extra]), np.concatenate([y_train, y_extra])
        extra_sources.append({"folder": str(folder), "images": int(len(x_extra))})
        print(f"added {len(x_extra)} labelled images from {folder}", flush=True)
    render_s = time.perf_counter() - t0
    print(
        f"rendered {len(x_train)} train (seed {args.seed}) + {len(x_test)} test (seed {args.test_seed}) in {render_s:.0f}s",
        flush=True,
    )

    model = DefectNet(n_classes, in_channels=CHANNELS)
    xt = torch.from_numpy(normalise_uint8(x_train))
    yt = torch.from_numpy(y_train)
    steps_per_epoch = max(1, math.ceil(len(xt) / args.batch))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=steps_per_epoch * args.epochs, pct_start=0.2
    )
    gen = torch.Generator().manual_seed(args.seed)
    # Missing a defect costs more than a false reject: weight the defect classes up a little.
    weights = torch.ones(n_classes)
    weights[DEFECT_CLASSES.index("ok")] = args.ok_weight
    loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=0.05)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * args.batch : (s + 1) * args.batch]
            xb = _augment(xt[idx], gen)
            loss = loss_fn(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        msg = f"epoch {epoch + 1}/{args.epochs} loss {total / len(xt):.4f}"
        acc: float | None = None
        if progress is not None or (epoch + 1) % 4 == 0 or epoch + 1 == args.epochs:
            acc = float((predict_numpy(model, x_test).argmax(1) == y_test).mean())
            msg += f" test acc {acc:.4f}"
        if progress is not None:
            progress(
                {
                    "epoch": epoch + 1,
                    "epochs": args.epochs,
                    "loss": round(total / len(xt), 5),
                    "val_accuracy": None if acc is None else round(acc, 4),
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
        print(f"{msg} ({time.perf_counter() - t0:.0f}s)", flush=True)
    train_s = time.perf_counter() - t0

    probs = predict_numpy(model, x_test)
    report = classification_report(y_test, probs.argmax(1))
    model.eval()
    pt_path, onnx_path = out / PT_NAME, out / ONNX_NAME
    torch.save(model.state_dict(), pt_path)
    export_onnx(model, onnx_path)
    card = {
        "model_version": getattr(args, "model_version", "") or MODEL_VERSION,
        "architecture": {
            "name": "MobileNetV2-style (inverted residual blocks, ReLU6, linear bottlenecks)",
            "config_t_c_n_s": [list(c) for c in DEFAULT_CONFIG],
            "stem": 16,
            "in_channels": CHANNELS,
            "last": 192,
            "parameters": int(sum(p.numel() for p in model.parameters())),
        },
        "classes": list(DEFECT_CLASSES),
        "ok_class": "ok",
        "input": {"name": "input", "shape": ["batch", CHANNELS, INPUT_SIZE, INPUT_SIZE], "dtype": "float32"},
        "output": {"name": "probs", "shape": ["batch", len(DEFECT_CLASSES)], "meaning": "softmax probabilities"},
        "preprocessing": PREPROCESSING,
        "training": {
            "seed": args.seed,
            "dataset": "rendered by edge_worker.vision.render (both demo part types, balanced classes)",
            "train_size": int(len(x_train)),
            "extra_data": extra_sources,
            "epochs": args.epochs,
            "batch": args.batch,
            "optimizer": f"AdamW lr {args.lr} one-cycle, weight decay 1e-4, label smoothing 0.05, ok weight {args.ok_weight}",
            "augmentation": "random quarter turn and horizontal flip per batch",
            "threads": args.threads,
            "render_seconds": round(render_s, 1),
            "train_seconds": round(train_s, 1),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "command": "python -m edge_worker.vision.train " + " ".join(args.argv),
        },
        "evaluation": {"test_seed": args.test_seed, "test_size": int(len(x_test)), **report},
        "files": {
            "onnx": {
                "name": ONNX_NAME,
                "sha256": sha256_file(onnx_path),
                "bytes": onnx_path.stat().st_size,
                "opset": 17,
            },
            "state_dict": {"name": PT_NAME, "sha256": sha256_file(pt_path), "bytes": pt_path.stat().st_size},
        },
    }
    (out / JSON_NAME).write_text(json.dumps(card, indent=2) + "\n")
    (out / CARD_NAME).write_text(model_card_markdown(card))
    print(
        f"accuracy {report['accuracy']:.4f} defect recall {report['defect_recall']:.4f} total {time.perf_counter() - t_start:.0f}s -> {out}"
    )
    return card


def model_card_markdown(card: dict[str, Any]) -> str:
    ev = card["evaluation"]
    tr = card["training"]
    labels = ev["confusion_matrix"]["labels"]
    lines = [
        f"# Model card: defect classifier `{card['model_version']}`",
        "",
        "Generated by `edge_worker/vision/train.py`; the machine-readable copy is `defect_classifier.json`.",
        "",
        "## What it does",
        "Classifies a top-view grayscale image of a demo part (CF-80 compressor flange, TF-12 condenser tube",
        f"fitting) into {len(card['classes'])} classes: {', '.join('`' + c + '`' for c in card['classes'])}.",
        "Any class other than `ok` fails the part. Dimensions are checked separately (OpenCV, not this model).",
        "",
        "## Architecture",
        f"{card['architecture']['name']}, {card['architecture']['parameters']:,} parameters; blocks (t, c, n, s): "
        f"{card['architecture']['config_t_c_n_s']}, stem {card['architecture']['stem']}, last 1x1 conv {card['architecture']['last']}.",
        "",
        "## Input and preprocessing",
        *[f"- {k}: {v}" for k, v in card["preprocessing"].items()],
        f"- ONNX input `{card['input']['name']}` {card['input']['shape']}, output `{card['output']['name']}` (softmax probabilities).",
        "",
        "## Training",
        f"- Data: {tr['dataset']}; {tr['train_size']} images, seed {tr['seed']}.",
        f"- {tr['epochs']} epochs, batch {tr['batch']}, {tr['optimizer']}; {tr['augmentation']}.",
        f"- {tr['threads']} CPU threads, torch {tr['torch']}: rendering {tr['render_seconds']} s, training {tr['train_seconds']} s.",
        f"- Command: `{tr['command']}`",
        "",
        f"## Evaluation (test set rendered with seed {ev['test_seed']}, {ev['test_size']} images)",
        f"- Accuracy: **{ev['accuracy']:.4f}**",
        f"- Defect recall (a defective part predicted as anything but `ok`): **{ev['defect_recall']:.4f}**",
        f"- False reject rate (`ok` parts predicted defective): {ev['false_reject_rate']:.4f}",
        "",
        "| class | precision | recall | support |",
        "|---|---|---|---|",
        *[f"| {c} | {v['precision']:.4f} | {v['recall']:.4f} | {v['support']} |" for c, v in ev["per_class"].items()],
        "",
        "Confusion matrix (rows: true class, columns: predicted):",
        "",
        "| true \\ pred | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
        *[
            f"| {labels[i]} | " + " | ".join(str(v) for v in row) + " |"
            for i, row in enumerate(ev["confusion_matrix"]["rows_true_cols_pred"])
        ],
        "",
        "## Files",
        *[f"- `{f['name']}`: {f['bytes']:,} bytes, sha256 `{f['sha256']}`" for f in card["files"].values()],
        "",
        "## Limits",
        "- Trained only on rendered images of the two demo parts; real camera images need re-training or at least",
        "  a validation set of real parts before the figures above mean anything for production.",
        "- Image-level classification: it does not localise the defect (the inspection result boxes the part).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="edge_worker/models/")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--test-seed", type=int, default=2)
    p.add_argument("--train-per-class", type=int, default=150, help="images per class and part type")
    p.add_argument("--test-per-class", type=int, default=50, help="test images per class and part type")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--ok-weight", type=float, default=0.7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--extra-data",
        action="append",
        default=[],
        metavar="DIR",
        help="also train on a labelled folder (e.g. from `manage.py export_reviewed_samples`); repeatable",
    )
    p.add_argument("--data-cache", default="", help="npz to load the rendered arrays from / save them to (tuning only)")
    import sys

    raw = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(raw)
    # The data cache only skips re-rendering identical arrays: leave it out of the recorded command.
    args.argv = [a for i, a in enumerate(raw) if a != "--data-cache" and (i == 0 or raw[i - 1] != "--data-cache")]
    if args.seed == args.test_seed:
        p.error("--test-seed must differ from --seed")
    return train(args)


if __name__ == "__main__":
    main()
