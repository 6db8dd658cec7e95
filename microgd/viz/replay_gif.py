"""The replay as a GIF: one image per frame, drawn with Pillow (no browser, no Graphviz).

The layout is a small layered one, as the page's fallback does it: each node one column
right of its furthest input, leaves next to their first user, rows ordered by a few
barycentre sweeps. Enough for the graphs a GIF is worth making of (up to ``MAX_FRAMES``).
"""
from __future__ import annotations

from typing import Any

from .graph import _fmt, _ink

MAX_FRAMES = 400
BG, INK, HOT, EDGE, FADE = "#ffffff", "#1d1d1d", "#e8590c", "#9a9a9a", "#c9c9c9"


def _layout(n: int, edges: list, sizes: list, gap: int) -> tuple[list, int, int]:
    """Box centres (x, y) for ``n`` boxes of ``sizes`` (w, h), columns left to right."""
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for p, c in edges:
        succs[p].append(c)
        preds[c].append(p)
    waiting = [len(p) for p in preds]
    rank, order = [0] * n, []
    ready = [i for i in range(n) if not waiting[i]]
    while ready:
        i = ready.pop()
        order.append(i)
        for j in succs[i]:
            rank[j] = max(rank[j], rank[i] + 1)
            waiting[j] -= 1
            if not waiting[j]:
                ready.append(j)
    for i in range(n):
        if not preds[i] and succs[i]:
            rank[i] = min(rank[j] for j in succs[i]) - 1
    columns: list[list[int]] = [[] for _ in range(max(rank, default=0) + 1)]
    for i in order:
        columns[rank[i]].append(i)
    pos = [0.0] * n

    def place() -> None:
        for col in columns:
            for k, i in enumerate(col):
                pos[i] = (k + 0.5) / len(col)

    place()
    for sweep in range(6):
        nbrs = succs if sweep % 2 else preds
        for col in columns:
            col.sort(key=lambda i: sum(pos[j] for j in nbrs[i]) / len(nbrs[i]) if nbrs[i]
                     else pos[i])
            for k, i in enumerate(col):
                pos[i] = (k + 0.5) / len(col)
    height = max((sum(sizes[i][1] + 16 for i in col) for col in columns), default=0) + 40
    xy: list[tuple[float, float]] = [(0.0, 0.0)] * n
    x = 20
    for col in columns:
        w = max((sizes[i][0] for i in col), default=0)
        y = (height - sum(sizes[i][1] + 16 for i in col)) / 2 + 8
        for i in col:
            xy[i] = (x + w / 2, y + sizes[i][1] / 2)
            y += sizes[i][1] + 16
        x += w + gap
    return xy, int(x - gap + 40), int(height)


def write_gif(frames: list[dict], data: dict, path: str) -> str:
    """Draw every frame and save them as an animated GIF at ``path``."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise ImportError("replay: writing a .gif needs Pillow (pip install pillow, or "
                          "microgd[plot]); an .html path needs nothing") from None
    if not frames:
        raise ValueError("replay: the walk finished no node, so there is nothing to draw")
    if len(frames) > MAX_FRAMES:
        raise ValueError(f"replay: {len(frames)} frames is too many for a GIF (at most "
                         f"{MAX_FRAMES}); write an .html replay instead, it steps through "
                         "any number")
    font, small, plain = _fonts(ImageFont)
    nodes = data["nodes"]
    done_at = {f["node"]: k for k, f in enumerate(frames)}

    def lines(i: int, grad: str) -> list[str]:
        n = nodes[i]
        head = (n["name"] or n["op"] or "leaf").splitlines()[0][:28] if (n["name"] or n["op"]) \
            else "leaf"
        out = [head]
        if n["name"] and n["op"]:
            out.append(n["op"][:28])
        if n["kind"] == "value":
            out += [f"data {_num(n['data'])}", f"grad {grad}"]
        else:
            out += [f"{tuple(n['shape'])} {n['dtype']}"[:28], f"grad {grad}"]
        return out

    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    sizes = []
    for i in range(len(nodes)):
        w = max(probe.textlength(plain(t), font=font) for t in lines(i, "‖0.0000e+00‖"))
        sizes.append((int(w) + 16, 17 * len(lines(i, "")) + 8))
    gap = 60 + max((int(probe.textlength(plain(_edge_text(e)), font=small))
                    for f in frames for e in f["edges"]), default=0)
    xy, width, height = _layout(len(nodes), data["edges"], sizes, gap)
    caption_h = 18 * max(len(f["text"].splitlines()) for f in frames) + 16
    width = max(width, 640)
    images = []
    for k, f in enumerate(frames):
        img = Image.new("RGB", (width, height + caption_h), BG)
        d = ImageDraw.Draw(img)
        hot = {e["to"]: e for e in f["edges"]}
        for p, c in data["edges"]:
            a, b = _right(xy[p], sizes[p]), _left(xy[c], sizes[c])
            is_hot = c == f["node"] and p in hot
            d.line([a, b], fill=HOT if is_hot else EDGE, width=3 if is_hot else 1)
            _arrow(d, a, b, HOT if is_hot else EDGE)
        for p, e in hot.items():
            a, b = _right(xy[p], sizes[p]), _left(xy[f["node"]], sizes[f["node"]])
            text = _edge_text(e)
            mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 - 9)
            tw = d.textlength(text, font=small)
            d.rectangle([mid[0] - tw / 2 - 2, mid[1] - 8, mid[0] + tw / 2 + 2, mid[1] + 7],
                        fill=BG)
            d.text(mid, plain(text), fill=HOT, font=small, anchor="mm")
        for i in range(len(nodes)):
            done = done_at.get(i, len(frames)) <= k
            grad = _show(frames[done_at[i]]["grad"]) if done else "?"
            (x, y), (w, h) = xy[i], sizes[i]
            box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2]
            current = i == f["node"]
            fill = frames[done_at[i]]["fill"] if done else BG
            d.rounded_rectangle(box, radius=4, fill=fill, outline=HOT if current else
                                (INK if done else FADE), width=4 if current else 1)
            ink = _ink(fill)
            for r, t in enumerate(lines(i, grad)):
                d.text((box[0] + 8, box[1] + 5 + 17 * r), plain(t), fill=ink, font=font)
        d.line([(0, height), (width, height)], fill=FADE)
        d.multiline_text((12, height + 8), plain(f["text"]), fill=INK, font=font, spacing=5)
        images.append(img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
    durations = [1100] * (len(images) - 1) + [3000]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0,
                   optimize=True)
    return path


def _fonts(ImageFont: Any) -> tuple:
    """DejaVu Sans from matplotlib (it has ‖ → × Σ); else Pillow's own font, which lacks
    them, with ASCII stand-ins."""
    try:
        from matplotlib import font_manager
        path = font_manager.findfont("DejaVu Sans", fallback_to_default=False)
        return (ImageFont.truetype(path, 13), ImageFont.truetype(path, 12), lambda t: t)
    except Exception:  # no matplotlib, or no such font: any failure means "use the default"
        table = str.maketrans({"‖": "|", "→": ">", "×": "x", "Σ": "S", "·": "."})
        return (ImageFont.load_default(size=13), ImageFont.load_default(size=12),
                lambda t: t.translate(table))


def _edge_text(e: dict) -> str:
    return ((f"{_show(e['up'])}×{_num(e['local'])}=" if "local" in e else "")
            + _show(e["out"]) + (" (+=)" if e["acc"] == "+=" else ""))


def _num(x: Any) -> str:
    return x if isinstance(x, str) else _fmt(x)


def _show(s: Any) -> str:
    return f"‖{_num(s['norm'])}‖" if isinstance(s, dict) else _num(s)


def _right(c: tuple, size: tuple) -> tuple:
    return (c[0] + size[0] / 2, c[1])


def _left(c: tuple, size: tuple) -> tuple:
    return (c[0] - size[0] / 2, c[1])


def _arrow(d: Any, a: tuple, b: tuple, colour: str) -> None:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    ux, uy = dx / length, dy / length
    tip = b
    left = (b[0] - 8 * ux + 4 * uy, b[1] - 8 * uy - 4 * ux)
    right = (b[0] - 8 * ux - 4 * uy, b[1] - 8 * uy + 4 * ux)
    d.polygon([tip, left, right], fill=colour)

