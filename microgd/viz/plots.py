"""Training plots with matplotlib (the optional ``plot``/``demos`` extra), imported only
when a plot is made. Every function returns the Figure and saves it when given a path."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "microgd.viz.plots needs matplotlib: pip install 'microgd[plot]' "
            "(or pip install matplotlib)"
        ) from None
    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        matplotlib.use("Agg")  # files only: works without a display
    import matplotlib.pyplot as plt
    return plt


def _finish(fig: Any, path: str | None) -> Any:
    """Lay out; with a path, write the file and release the figure from pyplot's list
    (the returned Figure still works) so loops of plots do not pile up memory."""
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
        _plt().close(fig)
    return fig


def figure(rows: int = 1, cols: int = 1, figsize: tuple[float, float] = (7, 4.2),
           **kwargs: Any) -> tuple[Any, Any]:
    """A new (figure, axes) pair for pictures of your own (matplotlib's subplots)."""
    return _plt().subplots(rows, cols, figsize=figsize, **kwargs)


def save(fig: Any, path: str) -> str:
    """Lay out and write a figure; returns the path."""
    _finish(fig, path)
    return path


def loss_curves(runs: Mapping[str, Sequence[float]], xs: Mapping[str, Sequence[float]] | None
                = None, xlabel: str = "step", ylabel: str = "loss", title: str = "",
                logy: bool = True, path: str | None = None) -> Any:
    """Several runs' losses on one axes (``xs`` gives each run its own x values, e.g.
    epochs or seconds)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, losses in runs.items():
        y = np.asarray(losses, dtype=float)
        x = np.asarray(xs[name]) if xs and name in xs else np.arange(len(y))
        (line,) = ax.plot(x, y, label=name, lw=1.6, marker="." if len(y) < 20 else None)
        bad = np.flatnonzero(~np.isfinite(y) | (np.abs(y) > 1e30))
        if bad.size:  # a diverged run: mark where it left the chart
            last = max(bad[0] - 1, 0)
            ax.plot(x[last], y[last] if np.isfinite(y[last]) else 1.0, "x", ms=12, mew=3,
                    color=line.get_color())
            ax.annotate("diverged", (x[last], y[last] if np.isfinite(y[last]) else 1.0),
                        textcoords="offset points", xytext=(8, 4), color=line.get_color())
    if logy and all(np.all(np.asarray(v, float)[np.isfinite(np.asarray(v, float))] > 0)
                    for v in runs.values()):
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def optimizer_paths(surface: Any, paths: Mapping[str, np.ndarray], title: str = "",
                    levels: int = 30, path: str | None = None, ax: Any = None) -> Any:
    """Contours of a 2-D loss surface (``viz.surfaces.Surface``) with each optimizer's
    path of (x, y) points drawn over it."""
    plt = _plt()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 5))
    (x0, x1), (y0, y1) = surface.xlim, surface.ylim
    gx = np.linspace(x0, x1, 200)
    gy = np.linspace(y0, y1, 200)
    X, Y = np.meshgrid(gx, gy)
    Z = surface.height(X, Y)
    shifted = Z - Z.min() + 1e-3
    ax.contourf(X, Y, np.log(shifted), levels=levels, cmap="Greys", alpha=0.55)
    ax.contour(X, Y, np.log(shifted), levels=levels, colors="grey", linewidths=0.4)
    for name, pts in paths.items():
        pts = np.asarray(pts, dtype=float)
        ok = np.all(np.isfinite(pts), axis=1)
        pts = pts[ok]
        ax.plot(pts[:, 0], pts[:, 1], "-", lw=1.5, label=name, marker=".", ms=2.5)
    ax.plot(*surface.start, "k^", ms=8, label="start")
    if surface.minimum is not None:
        ax.plot(*surface.minimum, "r*", ms=12, label="minimum")
    ax.set(xlim=surface.xlim, ylim=surface.ylim, title=title or surface.about)
    ax.legend(fontsize=8, loc="upper right")
    if fig is None:
        return ax.figure
    return _finish(fig, path)


def grad_norm_history(history: Mapping[str, Sequence[float]], title: str = "",
                      path: str | None = None) -> Any:
    """Per-layer gradient norms over training, on a log scale: vanishing gradients sit at
    the bottom, exploding ones shoot off the top."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, norms in history.items():
        ax.plot(np.asarray(norms, dtype=float) + 1e-30, label=name, lw=1.4)
    ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="gradient norm ||dJ/dW||", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _finish(fig, path)


def image_grid(images: np.ndarray, titles: Sequence[str], shape: tuple[int, int] = (8, 8),
               cols: int = 8, title: str = "", path: str | None = None) -> Any:
    """Small grey-scale images (e.g. digits) in a grid with a caption each."""
    plt = _plt()
    n = max(1, len(images))
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.25 + 0.4))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, img, t in zip(np.atleast_1d(axes).ravel(), images, titles):
        ax.imshow(np.asarray(img).reshape(shape), cmap="gray_r")
        ax.set_title(t, fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def confusion_matrix(matrix: np.ndarray, labels: Sequence[str], title: str = "",
                     path: str | None = None) -> Any:
    """A confusion matrix: row = true class, column = predicted class."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(matrix, cmap="Blues")
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return _finish(fig, path)
