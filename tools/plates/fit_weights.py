#!/usr/bin/env python3
"""Fits the plate locator's row-score weights from `stopline-plates eval --features`.

Logistic regression of "this row's plate box has IoU >= 0.5 with the labelled plate"
on the row features, trained on one half of the labelled images (even or odd index)
and reported on both halves by replaying the locator's ranking and suppression
(best first, IoU > nms suppressed, top 3). Prints the weights as C++ for
pipeline/plate/plate_locator.cpp. Pure Python: no numpy on the build machines.

    stopline-plates eval DIR --features rows.csv
    tools/plates/fit_weights.py rows.csv --train even --l2 0.1 --framed-score 0.5

The weights in pipeline/plate/plate_locator.cpp come from exactly that, on
plates-us-dev with the locator's default options.
"""

import argparse
import csv
import math
import sys
from collections import defaultdict


def load(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        names = header[7:]
        rows = []
        for rec in reader:
            rows.append({
                "image": rec[0],
                "index": int(rec[1]),
                "box": tuple(int(v) for v in rec[2:6]),
                "iou": float(rec[6]),
                "x": [float(v) for v in rec[7:]],
            })
    return names, rows


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


FRAMED = None  # index of the "framed" feature, set by main()
FRAMED_SCORE = None  # floor of a framed row's score, as PlateLocator::Options::framedScore


def score(w, b, x):
    s = b + sum(wi * xi for wi, xi in zip(w, x))
    if FRAMED is not None and FRAMED_SCORE is not None and x[FRAMED] > 0:
        s = max(s, FRAMED_SCORE)
    return s


def evaluate(rows, w, b, images, keep=3, nms=0.3, threshold=0.5, misses=None):
    """Recall at IoU >= threshold over `images` after ranking and suppression."""
    by_image = defaultdict(list)
    for r in rows:
        by_image[r["image"]].append(r)
    found = 0
    for image in images:
        ranked = sorted(by_image.get(image, []), key=lambda r: -score(w, b, r["x"]))
        kept = []
        for r in ranked:
            if all(iou(r["box"], k["box"]) <= nms for k in kept):
                kept.append(r)
            if len(kept) == keep:
                break
        hit = any(k["iou"] >= threshold for k in kept)
        found += hit
        if misses is not None and not hit:
            misses.append((image, ranked, kept))
    return found / max(1, len(images))


def fit(rows, n, l2, epochs, rate):
    """Logistic regression by full-batch gradient descent on standardised features."""
    data = [r for r in rows if r["iou"] >= 0.5 or r["iou"] < 0.3]
    ys = [1.0 if r["iou"] >= 0.5 else 0.0 for r in data]
    pos = sum(ys)
    neg = len(ys) - pos
    # Balance the classes: one plate row per image against many clutter rows.
    cw = [(0.5 / pos if y else 0.5 / neg) for y in ys]
    mean = [sum(r["x"][i] for r in data) / len(data) for i in range(n)]
    std = [math.sqrt(sum((r["x"][i] - mean[i]) ** 2 for r in data) / len(data)) or 1.0
           for i in range(n)]
    xs = [[(r["x"][i] - mean[i]) / std[i] for i in range(n)] for r in data]
    w = [0.0] * n
    b = 0.0
    for _ in range(epochs):
        gw = [l2 * wi for wi in w]
        gb = 0.0
        for x, y, c in zip(xs, ys, cw):
            z = b + sum(wi * xi for wi, xi in zip(w, x))
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            d = c * (p - y)
            gb += d
            for i in range(n):
                gw[i] += d * x[i]
        w = [wi - rate * g for wi, g in zip(w, gw)]
        b -= rate * gb
    # Back to raw feature units.
    raw = [w[i] / std[i] for i in range(n)]
    bias = b - sum(raw[i] * mean[i] for i in range(n))
    return raw, bias


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--train", choices=["even", "odd", "all"], default="even")
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=400)
    ap.add_argument("--rate", type=float, default=1.0)
    ap.add_argument("--nms", type=float, default=0.3, help="the locator's nmsOverlap")
    ap.add_argument("--framed-score", type=float, default=None,
                    help="floor the score of rows found in a light plate-shaped region")
    ap.add_argument("--show-misses", action="store_true",
                    help="list the images a plate row exists for but is outranked")
    ap.add_argument("--drop", default="", help="comma-separated features to leave out")
    args = ap.parse_args()

    names, rows = load(args.csv)
    n = len(names)
    global FRAMED, FRAMED_SCORE
    if "framed" in names:
        FRAMED = names.index("framed")
    FRAMED_SCORE = args.framed_score
    images = sorted({(r["index"], r["image"]) for r in rows})
    all_labels = {}
    for idx, image in images:
        all_labels[image] = idx
    even = [im for im, idx in all_labels.items() if idx % 2 == 0]
    odd = [im for im, idx in all_labels.items() if idx % 2 == 1]
    train_images = set({"even": even, "odd": odd, "all": even + odd}[args.train])
    # Marker rows (iou -1) stand for images with no proposal: counted, never ranked.
    markers = [r for r in rows if r["iou"] < 0]
    rows = [r for r in rows if r["iou"] >= 0]
    train = [r for r in rows if r["image"] in train_images]

    dropped = {d for d in args.drop.split(",") if d}
    for r in rows:
        r["x"] = [0.0 if names[i] in dropped else v for i, v in enumerate(r["x"])]
    w, b = fit(train, n, args.l2, args.epochs, args.rate)
    for i, name in enumerate(names):
        print(f"    /* {name} */ {w[i]:.3f},", file=sys.stderr)
    print(f"bias {b:.3f}", file=sys.stderr)
    print("weights: {" + ", ".join(f"{v:.3f}" for v in w) + "}", f"bias {b:.3f}")
    for label, subset in (("even", even), ("odd", odd), ("all", even + odd)):
        print(f"{label}: recall50@3={evaluate(rows, w, b, subset, nms=args.nms):.3f} "
              f"recall50@1={evaluate(rows, w, b, subset, keep=1, nms=args.nms):.3f} images={len(subset)} "
              f"without_rows={sum(1 for m in markers if m['image'] in subset)}")
    if args.show_misses:
        misses = []
        evaluate(rows, w, b, even + odd, nms=args.nms, misses=misses)
        for image, ranked, kept in misses:
            pos = [i for i, r in enumerate(ranked) if r["iou"] >= 0.5]
            if not pos:
                continue
            r = ranked[pos[0]]
            print(f"{image} plate row at {pos[0]} score {score(w, b, r['x']):.2f}: "
                  + " ".join(f"{names[i]}={r['x'][i]:.2f}" for i in range(n)))
            for k in kept:
                print(f"    beaten by score {score(w, b, k['x']):.2f} box {k['box']}: "
                      + " ".join(f"{names[i]}={k['x'][i]:.2f}" for i in range(n)))


if __name__ == "__main__":
    main()
