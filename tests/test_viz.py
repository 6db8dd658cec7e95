"""Rendering Tensor graphs for real: clusters, names, legend, collapse, depth; plots."""
import numpy as np
import pytest

import microgd as mg


def mlp_loss():
    mg.manual_seed(0)
    model = mg.nn.MLP(3, [4, 4], 2)
    x = mg.tensor(np.ones((5, 3), np.float32))
    loss = mg.nn.F.cross_entropy(model(x), np.array([0, 1, 0, 1, 1]))
    return model, loss


def render_svg(dot, tmp_path, name="g"):
    return open(dot.render(str(tmp_path / name))).read()


def test_tensor_graph_shows_shapes_dtypes_and_grad_norms(tmp_path):
    x = mg.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    w = mg.tensor(np.ones((4, 2), np.float32), requires_grad=True)
    loss = (x @ w).relu().sum()
    loss.backward(retain_graph=True)
    svg = render_svg(mg.draw_graph(loss, params={"x": x, "w": w}), tmp_path)
    for text in ("matmul", "relu", "sum", "(3, 4) float32", "(3, 2) float32", "|grad|",
                 ">x<", ">w<"):
        assert text in svg, text


def test_module_clusters_nest_and_parameters_are_named(tmp_path):
    model, loss = mlp_loss()
    svg = render_svg(mg.draw_graph(loss), tmp_path)
    for text in ("MLP (MLP)", "MLP.layers (Sequential)", "MLP.layers.0 (Linear)",
                 "MLP.layers.3 (ReLU)", "MLP.layers.0.weight", "MLP.layers.4.bias"):
        assert text in svg, text
    dot = mg.draw_graph(loss)
    src = dot.source
    outer = src.index("label=\"MLP (MLP)\"")
    inner = src.index("label=\"MLP.layers.0 (Linear)\"")
    assert outer < inner and src.count("subgraph cluster_") >= 7
    names = render_svg(mg.draw_graph(loss, params=dict(model.named_parameters())), tmp_path)
    assert "layers.0.weight" in names


def test_color_by_grad_has_legend(tmp_path):
    _, loss = mlp_loss()
    loss.backward(retain_graph=True)
    svg = render_svg(mg.draw_graph(loss, color_by_grad=True), tmp_path)
    for text in ("|grad|", "(tensors: L2 norm)", "&lt; 0.001", "0.1 – 1", "&gt; 1000",
                 "0 / none", "NaN / Inf"):
        assert text in svg, text
    assert svg.count("fill=\"#") > 10


def test_collapse_and_max_depth_shrink_the_picture(tmp_path):
    _, loss = mlp_loss()
    full = mg.draw_graph(loss).source.count("->")
    collapsed = mg.draw_graph(loss, collapse=[mg.nn.Linear])
    assert collapsed.source.count("->") < full
    assert "box3d" in collapsed.source and "MLP.layers.2 (Linear)" in collapsed.source
    shallow = mg.draw_graph(loss, max_depth=1)
    assert shallow.source.count("->") < 5
    assert "box3d" in mg.draw_graph(loss, collapse=True).source


def test_a_graph_is_drawn_whole_after_backward_without_retain_graph(tmp_path):
    """API.md section 8: backward frees what a second backward needs, not the structure."""
    model, loss = mlp_loss()
    loss.backward()
    svg = render_svg(mg.draw_graph(loss, color_by_grad=True), tmp_path)
    for text in ("linear", "relu", "cross_entropy", "MLP.layers.0.weight", "(5, 4) float32"):
        assert text in svg, text
    norm = np.linalg.norm(model.layers[0].weight.grad)
    assert f"|grad| {norm:.4f}" in svg


def test_plot_helpers_write_pngs(tmp_path):
    plots = mg.viz.plots
    plots.loss_curves({"a": [3, 2, 1], "b": [3, 1, 0.5]}, path=str(tmp_path / "l.png"))
    surface = mg.viz.surfaces.SURFACES["rosenbrock"]
    plots.optimizer_paths(surface, {"p": np.array([[-1.5, 2.0], [-1.0, 1.5], [0.0, 0.5]])},
                          path=str(tmp_path / "o.png"))
    plots.grad_norm_history({"layer 0": [1e-3, 1e-4], "layer 1": [1.0, 0.5]},
                            path=str(tmp_path / "g.png"))
    plots.confusion_matrix(np.eye(3) * 5, ["a", "b", "c"], path=str(tmp_path / "c.png"))
    plots.image_grid(np.zeros((3, 64)), ["x", "y", "z"], path=str(tmp_path / "i.png"))
    for n in "logci":
        data = (tmp_path / f"{n}.png").read_bytes()
        assert data[:4] == b"\x89PNG" and len(data) > 1000


def test_surfaces_are_differentiable():
    for surface in mg.viz.surfaces.SURFACES.values():
        p = mg.tensor(np.array(surface.start), requires_grad=True, dtype=np.float64)
        assert mg.gradcheck(lambda t, s=surface: s.fn(t[0], t[1]), [p])


def test_plots_without_matplotlib_say_how_to_install(monkeypatch):
    import sys

    from microgd.viz import plots
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'microgd\[plot\]'"):
        plots.loss_curves({"a": [1.0, 0.5]})
