"""mg.viz.explain_grad: the path products sum to backprop's gradient (shared subexpressions
included), the listed paths are exactly the graph's paths, huge path counts are counted
and summarised, and the finite difference agrees."""
import math
import random

import numpy as np
import pytest

import microgd as mg
from microgd.nn.scalar import MLP


def quickstart():
    a, b = mg.Value(2.0, label="a"), mg.Value(-3.0, label="b")
    c = (a * b + a ** 2).tanh()
    c.label = "c"
    c.backward()
    return a, b, c


def all_paths(root, node):
    """Every path from root down to node by brute force: the products of local derivatives."""
    if root is node:
        return [1.0]
    out = []
    for j, p in enumerate(root._parents):
        d = root._local if isinstance(root._local, float) else root._local[j]
        out += [d * rest for rest in all_paths(p, node)]
    return out


def test_quickstart_paths_against_the_closed_form():
    a, b, c = quickstart()
    e = mg.viz.explain_grad(c, a)
    dtanh = 1 - math.tanh(a.data * b.data + a.data ** 2) ** 2
    assert e.n_paths == 2
    assert sorted(p for _, _, p in e.paths) == pytest.approx(sorted([dtanh * 2 * a.data,
                                                                     dtanh * b.data]))
    assert e.total == pytest.approx(dtanh * (b.data + 2 * a.data), rel=1e-12)
    assert e.total == pytest.approx(a.grad, rel=1e-12)
    assert e.numerical == pytest.approx(a.grad, rel=1e-7)
    nodes, locals_, _ = e.paths[0]
    assert nodes[0] is c and nodes[-1] is a and len(locals_) == len(nodes) - 1
    assert "2 paths from c down to a" in e and "a.grad (backpropagation)" in e
    assert f"{a.grad:.4f}" in e


def shared_graph(seed):
    """A random expression DAG over four leaves where nodes are reused many times, scaled
    by a random upstream factor (so the seed of backprop is not 1)."""
    rng = random.Random(seed)
    leaves = [mg.Value(rng.uniform(0.5, 1.5), label=f"x{i}") for i in range(4)]
    vals = list(leaves)
    for _ in range(25):
        a, b = rng.choice(vals[-6:]), rng.choice(vals)
        op = rng.randrange(5)
        vals.append(a * b if op == 0 else a + b if op == 1 else (a - b).tanh() if op == 2
                    else (a * 0.3).sigmoid() + b if op == 3 else (a * a + 1.0).log())
    root = vals[-1] * rng.uniform(-2, 2)
    root.backward()
    return leaves, vals, root


@pytest.mark.parametrize("seed", range(6))
def test_path_products_sum_to_the_backprop_gradient_with_shared_subexpressions(seed):
    leaves, vals, root = shared_graph(seed)
    for node in leaves + vals[8:12]:          # leaves and inner nodes alike
        if all(n is not node for n in mg.autograd.reachable(root)[0]):
            continue
        e = mg.viz.explain_grad(root, node)
        brute = all_paths(root, node)
        assert e.n_paths == len(brute) >= 1
        assert e.total == pytest.approx(math.fsum(brute), rel=1e-9, abs=1e-12)
        assert e.total == pytest.approx(node.grad, rel=1e-9, abs=1e-12)
        assert e.numerical == pytest.approx(node.grad, rel=1e-5, abs=1e-7)
        if e.n_paths <= 12:                      # every path listed, each product once
            assert sorted(p for _, _, p in e.paths) == pytest.approx(sorted(brute))
        else:
            top = sorted(brute, key=abs, reverse=True)[:10]
            assert [abs(p) for _, _, p in e.paths] == pytest.approx([abs(p) for p in top])


def test_a_huge_path_count_is_counted_not_listed():
    x = mg.Value(1.5, label="x")
    y = x
    for _ in range(60):                        # y + y: two edges per step, 2^60 paths
        y = y + y
    y = y * 0.25
    y.backward()
    e = mg.viz.explain_grad(y, x)
    assert e.n_paths == 2 ** 60 and len(e.paths) == 10
    assert e.total == x.grad == 0.25 * 2.0 ** 60
    assert "1,152,921,504,606,846,976 paths" in e and "more paths, adding up to" in e


def test_weighted_sum_nodes_re_evaluate_for_the_finite_difference():
    model = MLP(3, [4, 4, 1], seed=0)
    xs = [mg.Value(v, label=f"in{i}") for i, v in enumerate([0.3, -1.2, 0.8])]
    w = np.random.default_rng(0).standard_normal()
    out = model(xs)
    root = (out[0] if isinstance(out, list) else out) * float(w)
    root.backward()
    for node in xs + [model.parameters()[0]]:
        e = mg.viz.explain_grad(root, node)
        assert e.total == pytest.approx(node.grad, rel=1e-9, abs=1e-12)
        assert e.numerical == pytest.approx(node.grad, rel=1e-5, abs=1e-8)


def test_finite_difference_says_when_it_cannot():
    x = mg.Value(2.0, label="x")
    y = (x * 3.0).exp()
    y.backward()
    x.data = 5.0                               # the stored values no longer fit the graph
    e = mg.viz.explain_grad(y, x)
    assert e.numerical is None and "central finite difference" in e and "not available" in e


def test_draw_highlights_the_paths():
    a, b, c = quickstart()
    text, graph = mg.viz.explain_grad(c, a, draw=True)
    assert text.n_paths == 2
    src = graph.source
    hot = [line for line in src.splitlines() if "->" in line and "label=" in line]
    labels = sorted(float(line.split("label=")[1].split()[0].strip('"')) for line in hot)
    dtanh = 1 - c.data ** 2   # c <- (+), (+) <- (**), (+) <- (*), (**) <- a, (*) <- a
    assert labels == pytest.approx(sorted([dtanh, 1.0, 1.0, 2 * a.data, b.data]), abs=1e-4)
    assert all("#e8590c" in line for line in hot)
    grey = [line for line in src.splitlines() if line.strip().startswith(str(id(b)) + " ->")]
    assert len(grey) == 1 and "#aaaaaa" in grey[0]  # b is on no path from c to a


def test_bad_arguments():
    a, b, c = quickstart()
    with pytest.raises(TypeError, match="explain_grad: root must be a Value"):
        mg.viz.explain_grad(mg.tensor([1.0]), a)
    with pytest.raises(TypeError, match="explain_grad: node must be a Value"):
        mg.viz.explain_grad(c, 2.0)
    with pytest.raises(ValueError, match="explain_grad: node is not in root's graph"):
        mg.viz.explain_grad(c, mg.Value(1.0))
