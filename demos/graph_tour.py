"""A tour of computation graphs: a scalar expression, a small MLP whose nodes sit in
clusters named after their modules, and a loss graph after backward with gradients; then
the same graphs to explore in a browser, backprop replayed step by step, and a gradient
explained as a sum over paths.

Pictures: graph_scalar.png, graph_mlp.png, graph_mlp_collapsed.png, graph_loss.png,
explain_quickstart.png (the paths from c to a, highlighted).
Pages (open offline in any browser, no Graphviz): explore_mlp.html, explore_cnn.html,
explore_transformer.html (modules collapse on click, repeated blocks fold as "× N"),
replay_quickstart.html (play / step / back through the walk) and replay_quickstart.gif
(docs/images/replay.gif in the README is a copy of it). Text: explain_quickstart.txt.
"""
from __future__ import annotations

import sys

import numpy as np
from common import mg, out_path, parser


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, seed=0, batch_size=4,
                helps={"batch_size": "rows in the MLP's input batch x",
                       "seed": "random seed (the MLP's weights and its input)"})
    ap.add_argument("--format", default="png", choices=["png", "svg", "pdf"])
    args = ap.parse_args(argv)

    # 1. c = tanh(a*b + a^2): each value with its gradient after backward
    a = mg.Value(2.0, label="a")
    b = mg.Value(-0.5, label="b")
    c = (a * b + a ** 2).tanh()
    c.label = "c"
    c.backward()
    print(f"c = {c.data:.4f}; dc/da = {a.grad:.4f}, dc/db = {b.grad:.4f}")
    paths = [mg.draw_graph(c, format=args.format).render(out_path(args, "graph_scalar"),
                                                         cleanup=True)]

    # 2. a small MLP: one cluster per module call, parameters named by their path
    mg.manual_seed(args.seed)
    model = mg.nn.MLP(3, [4], 2)
    x = mg.tensor(np.random.default_rng(args.seed).standard_normal((args.batch_size, 3)),
                  dtype=np.float32)
    x.name = "x (a batch of inputs)"
    y = np.arange(args.batch_size) % 2
    logits = model(x)
    paths.append(mg.draw_graph(logits, format=args.format, params=dict(model.named_parameters())
                               ).render(out_path(args, "graph_mlp"), cleanup=True))
    paths.append(mg.draw_graph(logits, format=args.format, collapse=[mg.nn.Linear])
                 .render(out_path(args, "graph_mlp_collapsed"), cleanup=True))

    # 3. the loss after backward: gradient norms on the parameters, coloured by size
    loss = mg.nn.F.cross_entropy(logits, y)
    loss.backward()  # the graph can still be drawn (only a second backward needs retain_graph)
    paths.append(mg.draw_graph(loss, format=args.format, color_by_grad=True)
                 .render(out_path(args, "graph_loss"), cleanup=True))
    print(f"loss {loss.item():.4f}; |dJ/dW| of the first layer "
          f"{np.linalg.norm(model.layers[0].weight.grad):.4f}")
    paths += explore_models(args, model, x, y)
    paths += replay_and_explain(args)
    for p in paths:
        print(f"wrote {p}")
    return 0


def explore_models(args, mlp, x, y) -> list[str]:
    """Explorer pages: the MLP's loss (every inner gradient kept), a small CNN's and the
    attention demo's transformer's, each after one backward."""
    loss = mg.viz.retain_grads(mg.nn.F.cross_entropy(mlp(x), y))
    loss.backward()
    paths = [mg.viz.explore(loss, out_path(args, "explore_mlp.html"))]
    from attention import SortTransformer  # the demos' own models
    from cnn_digits import make_cnn
    rng = np.random.default_rng(args.seed)
    cnn = make_cnn()
    images = mg.tensor(rng.random((args.batch_size, 1, 8, 8)), dtype=np.float32)
    loss = mg.nn.F.cross_entropy(cnn(images), np.arange(args.batch_size) % 10)
    mg.viz.retain_grads(loss).backward()
    paths.append(mg.viz.explore(loss, out_path(args, "explore_cnn.html")))
    tf = SortTransformer()
    tokens = rng.integers(0, 10, (args.batch_size, 11))
    logits = tf(tokens)
    loss = mg.nn.F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1))
    mg.viz.retain_grads(loss).backward()
    paths.append(mg.viz.explore(loss, out_path(args, "explore_transformer.html")))
    return paths


def replay_and_explain(args) -> list[str]:
    """The README's quick-start expression: backprop replayed, then dc/da explained."""
    a = mg.Value(2.0, label="a")
    b = mg.Value(-3.0, label="b")
    c = (a * b + a ** 2).tanh()
    c.label = "c"
    paths = [mg.viz.replay(c, out_path(args, "replay_quickstart.html")),
             mg.viz.replay(c, out_path(args, "replay_quickstart.gif"))]
    c.backward()
    text, picture = mg.viz.explain_grad(c, a, draw=True)
    print(text)
    with open(out_path(args, "explain_quickstart.txt"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    paths.append(out_path(args, "explain_quickstart.txt"))
    picture.format = args.format
    paths.append(picture.render(out_path(args, "explain_quickstart"), cleanup=True))
    return paths


if __name__ == "__main__":
    sys.exit(main())
