"""Procedural scenes with templated captions: the demo model's whole world.

A scene is one or two flat-coloured shapes on a solid or two-colour background, 64x64 px. Everything is drawn
vectorised with numpy on a 2x supersampled grid and box-filtered down (anti-aliased edges), deterministic given a
numpy Generator. The same attribute vocabulary is used by the Java analyzer (dev.sdcfg.eval.SceneAnalyzer) that
reads generated images back; keep the two in step (COLORS, SHAPES, POSITIONS, SIZES below).

    python3 tools/demo-model/scenes.py OUT_DIR N SEED
        writes N scenes (held-out pairs included) as one sheet.png of 64x64 tiles, 20 a row, and labels.json
        (every attribute of every tile): the ground truth SceneAnalyzerTest measures the analyzer on
"""
import json
import os
import sys

import numpy as np

SIZE = 64
SS = 2  # supersampling factor

# Named colours, far apart in RGB so that a generated pixel has one nearest name.
COLORS = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 225, 40),
    "green": (40, 170, 50),
    "blue": (35, 70, 215),
    "purple": (140, 45, 175),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
COLOR_NAMES = list(COLORS)
SHAPES = ["circle", "square", "triangle", "star", "ring", "cross"]
SIZES = {"small": 9.0, "large": 15.0}  # radius of the circumscribed circle, px
# Centre of a single object per position word (x, y), px.
POSITIONS = {"center": (32, 32), "left": (17, 32), "right": (47, 32), "top": (32, 17), "bottom": (32, 47)}
POSITION_PHRASES = {"center": "in the center", "left": "on the left", "right": "on the right",
                    "top": "at the top", "bottom": "at the bottom"}
# Two objects always stand side by side (left/right) or one above the other (top/bottom), small.
PAIR_LAYOUTS = [("left", "right"), ("top", "bottom")]

# (colour, shape) pairs never shown in training: held out to measure composition.
HELD_OUT = {("green", "star"), ("purple", "ring"), ("yellow", "triangle"), ("orange", "cross")}


def shape_mask(shape, x, y, cx, cy, r):
    """Boolean inside-mask of one shape on coordinate grids x, y (pixel units, y down)."""
    dx, dy = x - cx, y - cy
    d = np.hypot(dx, dy)
    if shape == "circle":
        return d <= r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) <= r * 0.78
    if shape == "ring":
        return (d <= r) & (d >= r * 0.55)
    if shape == "cross":
        w = r * 0.32
        return ((np.abs(dx) <= w) & (np.abs(dy) <= r)) | ((np.abs(dy) <= w) & (np.abs(dx) <= r))
    if shape == "triangle":
        # Equilateral, apex up, inscribed in the circle of radius r centred a little low so it looks centred.
        cy2 = cy + r * 0.15
        ax, ay = cx, cy2 - r
        bx, by = cx - r * 0.866, cy2 + r * 0.5
        qx, qy = cx + r * 0.866, cy2 + r * 0.5

        def side(px, py, qx_, qy_):
            return (x - qx_) * (py - qy_) - (px - qx_) * (y - qy_)
        s1, s2, s3 = side(ax, ay, bx, by), side(bx, by, qx, qy), side(qx, qy, ax, ay)
        neg = (s1 < 0) | (s2 < 0) | (s3 < 0)
        pos = (s1 > 0) | (s2 > 0) | (s3 > 0)
        return ~(neg & pos)
    if shape == "star":
        # Five points up; inside when the polar radius is below the star's outline (straight edges between the
        # outer points at r and the inner corners at 0.45 r).
        theta = np.arctan2(dx, -dy)  # 0 at the top, clockwise
        sector = np.pi / 5
        t = np.mod(theta, 2 * sector) - sector  # -sector..sector, 0 at an outer point
        ro, ri = r, r * 0.45
        # Outline between the outer point (angle 0, ro) and the inner corner (angle sector, ri) as a straight line.
        px0, py0 = 0.0, ro
        px1, py1 = ri * np.sin(sector), ri * np.cos(sector)
        ux, uy = np.abs(d * np.sin(t)), d * np.cos(t)
        cross = (px1 - px0) * (uy - py0) - (py1 - py0) * (ux - px0)
        return cross <= 0
    raise ValueError(shape)


class Scene:
    """One scene's attributes; caption() words them, render() draws them."""

    def __init__(self, objects, background, mentions):
        self.objects = objects  # list of dicts: color, shape, size, position
        self.background = background  # list of 1 or 2 colour names (two: left half, right half)
        self.mentions = mentions  # which optional attributes the caption states: {"size", "position"}

    def caption(self):
        parts = []
        for o in self.objects:
            words = ["an" if o["color"] == "orange" and not ("size" in self.mentions and len(self.objects) == 1) else "a"]
            if "size" in self.mentions and len(self.objects) == 1:
                words.append(o["size"])
            words += [o["color"], o["shape"]]
            if "position" in self.mentions or len(self.objects) == 2:
                words.append(POSITION_PHRASES[o["position"]])
            parts.append(" ".join(words))
        bg = " and ".join(self.background)
        return " and ".join(parts) + " on a " + bg + " background"

    def labels(self):
        return {"objects": self.objects, "background": self.background, "caption": self.caption()}

    def render(self):
        n = SIZE * SS
        c = (np.arange(n) + 0.5) / SS
        x, y = np.meshgrid(c, c)
        img = np.zeros((n, n, 3), np.float32)
        bg = [np.array(COLORS[b], np.float32) for b in self.background]
        if len(bg) == 1:
            img[:] = bg[0]
        else:
            img[:, : n // 2] = bg[0]
            img[:, n // 2:] = bg[1]
        for o in self.objects:
            cx, cy = POSITIONS[o["position"]]
            m = shape_mask(o["shape"], x, y, cx, cy, SIZES[o["size"]])
            img[m] = np.array(COLORS[o["color"]], np.float32)
        img = img.reshape(SIZE, SS, SIZE, SS, 3).mean(axis=(1, 3))
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def random_scene(rng, allow_held_out=False, two_objects_p=0.25):
    """Draws one scene. Optional attributes are left out of the caption at random, so the model learns to pick
    them itself when a prompt does not say (as "a red circle on a blue background" does not)."""
    while True:
        two = rng.random() < two_objects_p
        nbg = 2 if rng.random() < 0.25 else 1
        bgs = list(rng.choice(COLOR_NAMES, size=nbg, replace=False))
        free = [c for c in COLOR_NAMES if c not in bgs]
        objects = []
        if two:
            layout = PAIR_LAYOUTS[rng.integers(len(PAIR_LAYOUTS))]
            cols = rng.choice(free, size=2, replace=False)
            for k in range(2):
                objects.append({"color": str(cols[k]), "shape": SHAPES[rng.integers(len(SHAPES))],
                                "size": "small", "position": layout[k]})
        else:
            objects.append({"color": str(free[rng.integers(len(free))]), "shape": SHAPES[rng.integers(len(SHAPES))],
                            "size": list(SIZES)[rng.integers(len(SIZES))],
                            "position": list(POSITIONS)[rng.integers(len(POSITIONS))]})
        if not allow_held_out and any((o["color"], o["shape"]) in HELD_OUT for o in objects):
            continue
        mentions = set()
        if rng.random() < 0.6:
            mentions.add("size")
        if rng.random() < 0.6:
            mentions.add("position")
        return Scene(objects, [str(b) for b in bgs], mentions)


def batch(rng, count, **kw):
    scenes = [random_scene(rng, **kw) for _ in range(count)]
    return scenes, np.stack([s.render() for s in scenes])


def main(argv):
    out, n, seed = argv[1], int(argv[2]), int(argv[3])
    from PIL import Image
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    per_row = 20
    rows = (n + per_row - 1) // per_row
    sheet = np.zeros((rows * SIZE, per_row * SIZE, 3), np.uint8)
    labels = []
    for i in range(n):
        s = random_scene(rng, allow_held_out=True)
        r, c = divmod(i, per_row)
        sheet[r * SIZE:(r + 1) * SIZE, c * SIZE:(c + 1) * SIZE] = s.render()
        labels.append(s.labels())
    Image.fromarray(sheet).save(os.path.join(out, "sheet.png"), optimize=True)
    with open(os.path.join(out, "labels.json"), "w") as f:
        json.dump({"seed": seed, "tiles_per_row": per_row, "tile": SIZE, "scenes": labels}, f, indent=0)


if __name__ == "__main__":
    main(sys.argv)
