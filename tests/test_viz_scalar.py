"""Rendering Value graphs with Graphviz for real."""
import graphviz
import pytest

import microgd as mg


def test_rendered_svg_contains_labels_ops_data_and_grads(tmp_path):
    a = mg.Value(2.0, label="a")
    b = mg.Value(-3.0, label="b")
    c = (a * b + a.exp()).tanh()
    c.label = "c"
    c.backward()
    dot = mg.draw_dot(c)
    assert isinstance(dot, graphviz.Digraph)
    path = dot.render(str(tmp_path / "graph"))
    svg = open(path).read()
    assert path.endswith(".svg")
    for text in ("a", "b", "c", "tanh", "exp", "*", "+", "data 2.0000", "grad 1.0000"):
        assert text in svg, text


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_other_formats_render(tmp_path, fmt):
    x = mg.Value(1.0, label="x")
    y = x * x
    path = mg.draw_graph(y, format=fmt, rankdir="TB").render(str(tmp_path / "g"))
    data = open(path, "rb").read()
    assert data[:4] in (b"\x89PNG", b"%PDF")


def test_draw_graph_rejects_non_nodes_and_bad_options():
    with pytest.raises(TypeError, match="draw_graph: expected a Value or a Tensor.*float"):
        mg.draw_graph(3.0)
    with pytest.raises(ValueError, match="format"):
        mg.draw_graph(mg.Value(1.0), format="gif")
    with pytest.raises(ValueError, match="rankdir"):
        mg.draw_graph(mg.Value(1.0), rankdir="XY")


def test_missing_dot_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        mg.draw_graph(mg.Value(1.0) * 2).render(str(tmp_path / "g"))
