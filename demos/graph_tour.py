"""A tour of computation graphs: a scalar expression, a small MLP whose nodes sit in
clusters named after their modules, and a loss graph after backward with gradients.

Pictures: graph_scalar.png, graph_mlp.png, graph_mlp_collapsed.png, graph_loss.png.
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
    for p in paths:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
