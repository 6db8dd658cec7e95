"""Write the notebooks of docs/notebooks/ from the cells below and run them, so each is
committed with its outputs (readable on a code host without running). `make notebooks`
runs this; tests/test_notebooks.py executes every notebook and checks it is current.

A notebook is a list of cells: a string starting with "md:" is Markdown, any other is code.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

SETUP = ("import numpy as np\n"
         "import microgd as mg\n"
         "np.set_printoptions(precision=4, suppress=True)")

NOTEBOOKS: dict[str, list[str]] = {}

NOTEBOOKS["1_backprop_by_hand"] = [
    "md:# 1. Backprop by hand on a scalar expression\n\n"
    "Gradient descent needs ∂J/∂θ. Backpropagation gets every such derivative in one walk "
    "backwards over the graph of the computation, applying the chain rule at each node. "
    "Here we do it by hand first, then let `microgd` do it, and check both against finite "
    "differences.",
    SETUP,
    "md:A small expression, c = tanh(a·b + a²), and its graph. Each box shows the value "
    "(`data`) and, once computed, the gradient ∂c/∂node (`grad`).",
    "a = mg.Value(2.0, label='a')\nb = mg.Value(-3.0, label='b')\n"
    "ab = a * b; ab.label = 'ab'\na2 = a ** 2; a2.label = 'a2'\n"
    "s = ab + a2; s.label = 's'\nc = s.tanh(); c.label = 'c'\n"
    "mg.draw_graph(c)",
    "md:**By hand**, from the output back. ∂c/∂c = 1. tanh' (s) = 1 − tanh²(s), so "
    "∂c/∂s = 1 − c². A sum passes its gradient to both inputs: ∂c/∂ab = ∂c/∂a2 = ∂c/∂s. A "
    "product sends each input the other one: ∂c/∂a gets ∂c/∂ab · b, and ∂c/∂b = ∂c/∂ab · a. "
    "The square sends ∂c/∂a2 · 2a to a. `a` was used twice, so its two shares **add up**.",
    "dc_ds = 1 - c.data ** 2\n"
    "dc_da = dc_ds * b.data + dc_ds * 2 * a.data   # two paths from c to a: their sum\n"
    "dc_db = dc_ds * a.data\n"
    "print('by hand:  dc/da =', dc_da, ' dc/db =', dc_db)",
    "md:**By backprop**: one call visits every node once, each after all the nodes that used "
    "it, and leaves ∂c/∂node in `.grad`.",
    "c.backward()\nprint('backward: dc/da =', a.grad, ' dc/db =', b.grad)\nmg.draw_graph(c)",
    "md:**By finite differences**: nudge a by ±ε and watch c. This is the oracle every "
    "gradient in microgd's test suite is checked against.",
    "def f(a_, b_):\n    return np.tanh(a_ * b_ + a_ ** 2)\n"
    "eps = 1e-6\n"
    "print('finite differences: dc/da ≈', (f(2 + eps, -3) - f(2 - eps, -3)) / (2 * eps),\n"
    "      ' dc/db ≈', (f(2, -3 + eps) - f(2, -3 - eps)) / (2 * eps))",
    "md:The same walk runs on tensors, and gradient descent is then one line: "
    "θ ← θ − α ∂J/∂θ. A few steps on J(θ) = (θ − 3)² from θ = 0:",
    "theta = mg.Value(0.0, label='θ')\nfor step in range(5):\n"
    "    J = (theta - 3) ** 2\n    theta.grad = 0.0\n    J.backward()\n"
    "    theta = mg.Value(theta.data - 0.25 * theta.grad, label='θ')\n"
    "    print(f'step {step}: J = {J.data:.4f}, θ → {theta.data:.4f}')",
]

NOTEBOOKS["2_tensors_and_broadcasting"] = [
    "md:# 2. Tensors, broadcasting, and why `unbroadcast` exists\n\n"
    "A `Tensor` is a numpy array in a graph. Its ops broadcast like numpy's: a bias of shape "
    "(4,) is added to every row of a (3, 4) batch. Broadcasting *copies* the bias along the "
    "rows, so its gradient must *add up* the copies.",
    SETUP,
    "rng = np.random.default_rng(0)\n"
    "x = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)\n"
    "bias = mg.tensor(rng.standard_normal(4), requires_grad=True)\n"
    "y = x + bias\nprint(y.shape)",
    "md:We backpropagate a *random* upstream gradient g = ∂J/∂y (an all-ones one would hide "
    "mistakes in where each number goes). ∂J/∂x is g itself; ∂J/∂bias is g summed over the "
    "rows the bias was copied into:",
    "g = rng.standard_normal((3, 4))\ny.backward(g)\n"
    "print('x.grad equals g:         ', np.allclose(x.grad, g))\n"
    "print('bias.grad equals g.sum(0):', np.allclose(bias.grad, g.sum(axis=0)))\n"
    "print(bias.grad.shape)",
    "md:That summing is one helper for every op, `unbroadcast`: it sums a gradient over the "
    "leading axes broadcasting added and over the axes that were 1 and got stretched.",
    "from microgd.ops import unbroadcast\n"
    "print(unbroadcast(g, (4,)).shape, unbroadcast(g, (3, 1)).shape, unbroadcast(g, (1, 4)).shape)\n"
    "print(np.allclose(unbroadcast(g, (3, 1)), g.sum(axis=1, keepdims=True)))",
    "md:Without it, the gradient of the bias would have the batch's shape: the optimizer "
    "step θ ← θ − α·grad would then *broadcast* the bias into a matrix, or fail:",
    "wrong = g                      # what the bias would receive without unbroadcast\n"
    "print('gradient', wrong.shape, 'for a parameter of shape', bias.shape)\n"
    "print('θ − α·grad has shape', (bias.data - 0.1 * wrong).shape,\n"
    "      '— the bias would silently become a matrix')",
    "md:The same holds inside a layer: `Linear` adds its bias to every example of a batch, "
    "and matrix products sum over the batch dimension for the weight's gradient.",
    "layer = mg.nn.Linear(4, 2)\nout = layer(x)\nout.backward(rng.standard_normal(out.shape))\n"
    "print(layer.weight.grad.shape, layer.bias.grad.shape)\nmg.draw_graph(out)",
    "md:Types follow PyTorch: a float32 tensor stays float32 with Python numbers, and an "
    "integer tensor meeting a float tensor takes the float's dtype.",
    "i = mg.tensor(np.arange(4, dtype=np.int32))\nf = mg.tensor(np.ones(4, dtype=np.float32))\n"
    "print((f * 2.5).dtype, (i + f).dtype, (i * 2.5).dtype)",
]

NOTEBOOKS["3_gradient_descent_on_digits"] = [
    "md:# 3. Gradient descent on the digits: batch, stochastic, mini-batch\n\n"
    "The 8×8 squiggles of `mg.datasets.digits()` and a small MLP. The three flavours of "
    "gradient descent differ only in how many examples estimate ∇J(θ) per step.",
    SETUP + "\nimport matplotlib.pyplot as plt\n%matplotlib inline",
    "X, y = mg.datasets.digits()\nX = (X / 16).astype(np.float32)\n"
    "Xtr, ytr, Xte, yte = X[:1400], y[:1400], X[1400:], y[1400:]\n"
    "fig, axes = plt.subplots(1, 8, figsize=(8, 1.2))\n"
    "for ax, img, label in zip(axes, Xtr, ytr):\n"
    "    ax.imshow(img.reshape(8, 8), cmap='gray_r'); ax.set_title(int(label)); ax.axis('off')",
    "def train(batch_size, lr, epochs=4, seed=0):\n"
    "    mg.manual_seed(seed)\n    model = mg.nn.MLP(64, [32], 10)\n"
    "    opt = mg.optim.SGD(model.parameters(), lr=lr)\n"
    "    loader = mg.data.DataLoader(mg.data.TensorDataset(Xtr, ytr), batch_size=batch_size,\n"
    "                                shuffle=True, seed=seed)\n    curve = []\n"
    "    for epoch in range(epochs):\n        for xb, yb in loader:\n"
    "            opt.zero_grad()\n            loss = mg.nn.F.cross_entropy(model(xb), yb)\n"
    "            loss.backward()\n            opt.step()          # θ ← θ − α ∇J(θ)\n"
    "        with mg.no_grad():\n"
    "            curve.append(mg.nn.F.cross_entropy(model(Xtr), ytr).item())\n"
    "    with mg.no_grad():\n"
    "        acc = (model(Xte).data.argmax(1) == yte).mean()\n    return curve, acc",
    "runs = {'batch (all 1400)': train(1400, 0.5, epochs=40),\n"
    "        'mini-batch (32)': train(32, 0.1),\n        'stochastic (1)': train(1, 0.01, epochs=2)}\n"
    "for name, (curve, acc) in runs.items():\n"
    "    print(f'{name:18s} final training loss {curve[-1]:.3f}, test accuracy {acc:.1%}')",
    "md:Per *epoch* (one pass over the data) stochastic and mini-batch descent take many "
    "small noisy steps and get far; batch descent takes one exact step per epoch. Per unit "
    "of computation, mini-batches are the usual compromise: vectorised, yet many steps.",
    "fig, ax = plt.subplots(figsize=(6, 3.5))\n"
    "for name, (curve, _) in runs.items():\n    ax.plot(range(1, len(curve) + 1), curve, label=name, marker='.')\n"
    "ax.set_xlabel('epoch'); ax.set_ylabel('training loss J(θ)'); ax.set_yscale('log'); ax.legend();",
    "md:## Learning-rate decay\n\nA rate that is right early is too large late, when steps "
    "should settle into the minimum. `ExponentialLR` multiplies α by γ after every epoch: "
    "α_t = α₀ γᵗ.",
    "mg.manual_seed(0)\nmodel = mg.nn.MLP(64, [32], 10)\n"
    "opt = mg.optim.SGD(model.parameters(), lr=0.2)\n"
    "sched = mg.optim.lr_scheduler.ExponentialLR(opt, gamma=0.7)\nrates = []\n"
    "for epoch in range(6):\n    rates.append(sched.get_last_lr()[0])\n"
    "    for xb, yb in mg.data.DataLoader(mg.data.TensorDataset(Xtr, ytr), batch_size=64):\n"
    "        opt.zero_grad(); mg.nn.F.cross_entropy(model(xb), yb).backward(); opt.step()\n"
    "    sched.step()\nprint(np.round(rates, 4))",
    "md:## Convex and non-convex cost surfaces\n\nOn a convex bowl every downhill path "
    "leads to the one minimum. A network's J(θ) is not convex: it has saddles and local "
    "minima, and where gradient descent ends depends on where it starts. Two 2-D surfaces "
    "from `mg.viz.surfaces`, descended from two starting points each:",
    "from microgd.viz.surfaces import SURFACES\n"
    "fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))\n"
    "for ax, key in zip(axes, ['bowl', 'local_minima']):\n"
    "    s = SURFACES[key]\n    gx, gy = np.meshgrid(np.linspace(*s.xlim, 120), np.linspace(*s.ylim, 120))\n"
    "    ax.contour(gx, gy, s.height(gx, gy), levels=30, cmap='viridis')\n"
    "    for start in [s.start, (-s.start[0] * 0.8, s.start[1] * 0.5)]:\n"
    "        p = mg.tensor(np.array(start, dtype=np.float64), requires_grad=True)\n"
    "        opt = mg.optim.SGD([p], lr=0.05)\n        path = [p.data.copy()]\n"
    "        for _ in range(150):\n            opt.zero_grad(); s.fn(p[0], p[1]).backward(); opt.step()\n"
    "            path.append(p.data.copy())\n        path = np.array(path)\n"
    "        ax.plot(path[:, 0], path[:, 1], '.-', ms=2)\n"
    "    ax.set_title(f'{key}: {\"convex\" if key == \"bowl\" else \"non-convex\"}')",
]

NOTEBOOKS["4_cnn_and_the_graph_explorer"] = [
    "md:# 4. A small CNN on the digits, and its graph in the explorer\n\n"
    "A convolution slides one small kernel over the whole image: the same few weights "
    "everywhere, so a stroke is recognised wherever it is. Here a two-layer CNN learns the "
    "8×8 digits; then we look inside the trained network.",
    SETUP + "\nimport matplotlib.pyplot as plt\n%matplotlib inline",
    "X, y = mg.datasets.digits()\nX = (X / 16).astype(np.float32).reshape(-1, 1, 8, 8)\n"
    "Xtr, ytr, Xte, yte = X[:1400], y[:1400], X[1400:], y[1400:]\n"
    "mg.manual_seed(0)\nnn = mg.nn\n"
    "cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),\n"
    "                    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),\n"
    "                    nn.Flatten(), nn.Linear(16 * 2 * 2, 10))\n"
    "print(cnn)\nprint(sum(p.size for p in cnn.parameters()), 'parameters')",
    "opt = mg.optim.Adam(cnn.parameters(), lr=5e-3)\n"
    "loader = mg.data.DataLoader(mg.data.TensorDataset(Xtr, ytr), batch_size=32, shuffle=True, seed=0)\n"
    "for epoch in range(8):\n    for xb, yb in loader:\n        opt.zero_grad()\n"
    "        loss = mg.nn.F.cross_entropy(cnn(xb), yb)\n        loss.backward()\n"
    "        opt.step()\n    with mg.no_grad():\n"
    "        acc = (cnn(Xte).data.argmax(1) == yte).mean()\n"
    "    print(f'epoch {epoch}: last batch loss {loss.item():.3f}, test accuracy {acc:.1%}')",
    "md:The first layer's eight 3×3 kernels, and what they make of one squiggle (each "
    "feature map is the image convolved with one kernel, then ReLU):",
    "conv1 = cnn[0]\nwith mg.no_grad():\n    maps = cnn[1](conv1(mg.tensor(Xte[:1]))).data[0]\n"
    "fig, axes = plt.subplots(2, 9, figsize=(10, 2.4))\n"
    "axes[0, 0].imshow(Xte[0, 0], cmap='gray_r'); axes[0, 0].set_title(f'digit {yte[0]}')\n"
    "axes[1, 0].axis('off')\n"
    "for k in range(8):\n    axes[0, k + 1].imshow(conv1.weight.data[k, 0], cmap='RdBu')\n"
    "    axes[1, k + 1].imshow(maps[k], cmap='magma')\n"
    "for ax in axes.flat:\n    ax.set_xticks([]); ax.set_yticks([])",
    "md:The loss graph of one batch, one box per module (`collapse=True`), gradients "
    "coloured on one absolute scale:",
    "loss = mg.nn.F.cross_entropy(cnn(Xtr[:16]), ytr[:16])\nmg.viz.retain_grads(loss).backward()\n"
    "mg.draw_graph(loss, collapse=True, color_by_grad=True)",
    "md:The same graph in the explorer: a self-contained page (no Graphviz needed) — click "
    "a module to open or close it, hover a node for its shape, values and gradient "
    "statistics, search by name. `mg.viz.explore(root, path)` writes the page; here it is "
    "shown inline. `mg.viz.replay` plays the backward walk itself, step by step.",
    "import html, tempfile, pathlib\nfrom IPython.display import IFrame\n"
    "page = pathlib.Path(tempfile.mkdtemp()) / 'cnn.html'\n"
    "mg.viz.explore(loss, page, params=dict(cnn.named_parameters()))\n"
    "IFrame('about:blank', width='100%', height=520,\n"
    "       extras=[f'srcdoc=\"{html.escape(page.read_text())}\"'])",
]


def build(name: str, cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for text in cells:
        if text.startswith("md:"):
            nb.cells.append(nbformat.v4.new_markdown_cell(text[3:]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(text))
    return nb


def run(nb: nbformat.NotebookNode, timeout: int = 120) -> nbformat.NotebookNode:
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    return nb


def sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def main(names: list[str]) -> int:
    for name in names or list(NOTEBOOKS):
        nb = run(build(name, NOTEBOOKS[name]))
        path = HERE / f"{name}.ipynb"
        tmp = path.with_suffix(".tmp")
        nbformat.write(nb, tmp)
        tmp.replace(path)        # never a half-written notebook
        print(f"wrote {path.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
