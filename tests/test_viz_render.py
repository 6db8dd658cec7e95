"""draw_graph under stress: hostile names rendered by the real dot into SVG that parses as
XML and shows what the user wrote; one absolute gradient colour scale shared across
pictures; a warning before dot is handed a huge graph."""
import math
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import microgd as mg
from microgd.viz import LARGE_GRAPH_NODES, LargeGraphWarning

SVG = "{http://www.w3.org/2000/svg}"

# What a user may type into a label, a tensor name, a parameter or module name.
HOSTILE = [
    'say "hi"', "a<b>c", "<looks like html>", "x & y", "lit &amp; eral", "&#38; &lt;",
    "back\\slash", "ends with\\", "\\N \\G \\l \\n", "{rec|ord}", "two\nlines",
    "bell\x07 nul\x00 esc\x1b del\x7f c1\x85", "tab\there", "ünï ∇ ∂ — ✓",
]


def visible(text):
    """What the picture should show for ``text``: its lines, control characters dropped,
    runs of whitespace read as one space (dot collapses them)."""
    keep = "".join(c for c in text.replace("\t", " ") if c == "\n" or ord(c) >= 32
                   and not 0x7f <= ord(c) <= 0x9f)
    return [" ".join(line.split()) for line in keep.split("\n")]


def svg_groups(dot):
    """Render with the real dot, parse as XML (fails on anything malformed) and return
    {graphviz node or cluster name: [its visible text lines]}."""
    root = ET.fromstring(dot.pipe(format="svg"))
    groups = {}
    for g in root.iter(SVG + "g"):
        title = g.find(SVG + "title")
        if title is not None and g.get("class") in ("node", "cluster"):
            texts = [" ".join((t.text or "").split()) for t in g.iter(SVG + "text")]
            groups[title.text] = [t for t in texts if t]
    return groups


def shows(lines, text):
    """``text``'s visible lines appear, in order, as consecutive text lines."""
    want = visible(text)
    return any(lines[i:i + len(want)] == want for i in range(len(lines)))


def test_hostile_value_labels_render_to_valid_svg_showing_the_text():
    xs = [mg.Value(float(i + 1), label=s) for i, s in enumerate(HOSTILE)]
    out = xs[0]
    for v in xs[1:]:
        out = out * v
    out.label = "out <&> \\ \x00"
    out.backward()
    groups = svg_groups(mg.draw_graph(out, color_by_grad=True))
    for v in xs + [out]:
        assert shows(groups[str(id(v))], v.label), (v.label, groups[str(id(v))])


W_NAME = 'w "<&>\\'
SUB_NAME = 'sub & <odd>\\ "name"\n'
EVIL_NAME = 'Evil <&> "q" \\ \x07'


class Inner(mg.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_parameter(W_NAME, mg.nn.Parameter(np.ones(3)))

    def forward(self, x):
        return x * getattr(self, W_NAME)


class Evil(mg.nn.Module):
    def __init__(self):
        super().__init__()
        self.add_module(SUB_NAME, Inner())

    def forward(self, x):
        return getattr(self, SUB_NAME)(x).sum()


Evil.__name__ = EVIL_NAME  # module clusters are labelled with the class name


def test_hostile_tensor_names_params_and_module_names_render():
    model = Evil()
    x = mg.tensor(np.arange(3.0), requires_grad=True)
    x.name = "input & <x> \\ \"q\" \x07"
    loss = model(x)
    loss.backward(retain_graph=True)
    w = getattr(getattr(model, SUB_NAME), W_NAME)
    assert w.qualified_name == f"{EVIL_NAME}.{SUB_NAME}.{W_NAME}"
    groups = svg_groups(mg.draw_graph(loss, color_by_grad=True))
    assert shows(groups[str(id(x))], x.name)
    assert shows(groups[str(id(w))], w.qualified_name)
    clusters = [lines for name, lines in groups.items() if name.startswith("cluster_")]
    outer_label = f"{EVIL_NAME} ({EVIL_NAME})"
    inner_label = f"{EVIL_NAME}.{SUB_NAME} (Inner)"
    assert any(shows(c[:1], outer_label) for c in clusters), clusters
    assert any(shows(c[:2], inner_label) for c in clusters), clusters
    # the same names in a collapsed box and given through params=
    params = {s: x for s in HOSTILE[:1]} | {"p & <q> \\ \x00": w}
    groups = svg_groups(mg.draw_graph(loss, params=params, collapse=[Inner]))
    assert shows(groups[str(id(w))], "p & <q> \\ \x00")
    assert any(shows(lines, inner_label) for lines in groups.values())


def test_control_characters_are_dropped_from_the_dot_source():
    v = mg.Value(1.0, label="a\x00b\x07c\x1bd\x7fe\ud800f")
    src = mg.draw_graph(v * 2).source
    assert "abcdef" in src and not any(ord(c) < 32 and c not in "\n\t" for c in src)


# -- one absolute colour scale ---------------------------------------------------------------
def fills(dot):
    """{graphviz node name: its fill colour} and the legend's rows [(fill, text)]."""
    root = ET.fromstring(dot.pipe(format="svg"))
    node_fill, legend = {}, []
    for g in root.iter(SVG + "g"):
        title = g.find(SVG + "title")
        if title is None or g.get("class") != "node":
            continue
        if title.text == "legend":
            last = None
            for el in g:
                if el.tag == SVG + "polygon" and el.get("fill") not in ("none", None):
                    last = el.get("fill")
                elif el.tag == SVG + "text" and (el.text or "").strip() and last:
                    legend.append((last, el.text.strip()))
                    last = None
        else:
            poly = g.find(SVG + "polygon")
            node_fill[title.text] = poly.get("fill") if poly is not None else None
    return node_fill, legend


def leaf_with_grad(norm, other):
    """A tensor w whose gradient has L2 norm ``norm`` (dy/dw = x), in a graph that also
    holds a leaf with gradient norm ``other`` (which a relative scale would react to)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4)
    x *= norm / np.linalg.norm(x)
    w = mg.tensor(rng.standard_normal(4), requires_grad=True)
    z = mg.tensor(np.ones(4), requires_grad=True)
    y = (w * mg.tensor(x)).sum() + (z * other / 2).sum()
    y.backward(retain_graph=True)
    assert math.isclose(np.linalg.norm(w.grad), norm)
    assert math.isclose(np.linalg.norm(z.grad), other)
    return w, y


def test_a_gradient_gets_the_same_colour_in_two_pictures_sharing_a_range():
    w1, y1 = leaf_with_grad(0.05, other=3e-6)
    w2, y2 = leaf_with_grad(0.05, other=300.0)
    shared = mg.viz.grad_range(y1, y2)
    assert shared == (1e-6, 1e3)  # 3e-6 .. 300, widened to whole decades
    f1, legend1 = fills(mg.draw_graph(y1, grad_range=shared))
    f2, legend2 = fills(mg.draw_graph(y2, grad_range=shared))
    assert legend1 == legend2
    row = dict((text, fill) for fill, text in legend1)
    assert f1[str(id(w1))] == f2[str(id(w2))] == row["0.01 – 0.1"]
    # the default scale is absolute too: no shared range needed for the same colour
    d1, legend = fills(mg.draw_graph(y1, color_by_grad=True))
    d2, _ = fills(mg.draw_graph(y2, color_by_grad=True))
    assert d1[str(id(w1))] == d2[str(id(w2))] == dict((t, f) for f, t in legend)["0.01 – 0.1"]


def test_legend_lists_every_bin_with_its_numbers():
    w, y = leaf_with_grad(0.05, other=2.0)
    _, legend = fills(mg.draw_graph(y, color_by_grad=True))
    assert [t for _, t in legend] == [
        "< 0.001", "0.001 – 0.01", "0.01 – 0.1", "0.1 – 1", "1 – 10", "10 – 100",
        "100 – 1000", "> 1000", "0 / none", "NaN / Inf"]
    assert len({f for f, _ in legend}) == len(legend)  # every bin its own colour
    _, legend = fills(mg.draw_graph(y, grad_range=(1e-8, 1e-4)))
    assert [t for _, t in legend][:6] == ["< 1e-8", "1e-8 – 1e-7", "1e-7 – 1e-6",
                                          "1e-6 – 1e-5", "1e-5 – 1e-4", "> 1e-4"]
    # a range that is not whole decades: at least two bins, edges at two digits
    _, legend = fills(mg.draw_graph(y, grad_range=(0.09, 0.37)))
    assert [t for _, t in legend][:4] == ["< 0.09", "0.09 – 0.18", "0.18 – 0.37", "> 0.37"]


@pytest.mark.parametrize("grad, text", [
    (0.01, "0.01 – 0.1"), (0.0999, "0.01 – 0.1"), (1000.0, "100 – 1000"),
    (1e-4, "< 0.001"), (5e3, "> 1000"), (-0.5, "0.1 – 1"), (0.0, "0 / none"),
    (float("nan"), "NaN / Inf"), (float("inf"), "NaN / Inf")])
def test_scalar_gradients_land_in_the_bin_whose_numbers_hold_them(grad, text):
    a = mg.Value(1.0, label="a")
    a.grad = grad  # set by hand: the bin edges are what is being checked
    node_fill, legend = fills(mg.draw_graph(a, color_by_grad=True))
    assert node_fill[str(id(a))] == dict((t, f) for f, t in legend)[text]


def test_grad_range_helper_and_bad_ranges():
    a = mg.Value(3.0)
    b = (a * a).tanh()  # grads: b 1, a*a sech(9)^2 ~ 6e-8, a 6 sech(9)^2 ~ 4e-7
    b.backward()
    smallest = 1 / math.cosh(9.0) ** 2
    assert mg.viz.grad_range(b) == (10.0 ** math.floor(math.log10(smallest)), 1.0)
    p = mg.Value(3.0)
    c = p * 2  # grads 1 and 2: one decade
    c.backward()
    assert mg.viz.grad_range(c) == (1.0, 10.0)
    assert mg.viz.grad_range(b, c) == (mg.viz.grad_range(b)[0], 10.0)
    with pytest.raises(ValueError, match=r"no nonzero finite gradient in the graph; call "
                                         r"backward\(\) first"):
        mg.viz.grad_range(mg.Value(1.0) * 2)
    with pytest.raises(ValueError, match="no nonzero finite gradient in the graphs of 2 roots"):
        mg.viz.grad_range(mg.Value(1.0) * 2, mg.tensor(np.ones(2), requires_grad=True) * 2)
    with pytest.raises(TypeError, match="grad_range: expected at least one"):
        mg.viz.grad_range()
    with pytest.raises(TypeError, match="grad_range: expected a Value or a Tensor.*list"):
        mg.viz.grad_range([b])
    x = mg.tensor(np.full(3, 20.0), requires_grad=True)
    loss = (x * x).sum()  # d/dx = 2x = 40 each: |grad| = 40 sqrt(3) ~ 69
    loss.backward()  # without retain_graph: the structure survives (API.md section 8)
    assert mg.viz.grad_range(loss) == (10.0, 100.0)  # only the leaf keeps its .grad
    for bad in [(0, 1), (1, 1), (2, 1), (float("nan"), 1), (1e-3, float("inf")), (1,), "ab",
                "12", (1, 2, 3), 5]:
        with pytest.raises(ValueError, match=r"draw_graph: grad_range must be \(lo, hi\)"):
            mg.draw_graph(b, grad_range=bad)
    with pytest.raises(ValueError, match="drop color_by_grad=False or grad_range"):
        mg.draw_graph(b, color_by_grad=False, grad_range=(1e-3, 1.0))
    assert "legend" in mg.draw_graph(b, grad_range=(1e-3, 1.0)).source  # implies colours


# -- a word before dot is handed thousands of nodes --------------------------------------------
def chain(n):
    v = mg.Value(1.0)
    for _ in range(n - 1):
        v = v + 1
    return v


def test_large_graphs_warn_with_the_count_and_the_way_out():
    with pytest.warns(LargeGraphWarning) as caught:
        mg.draw_graph(chain(LARGE_GRAPH_NODES + 1))
    message = str(caught[0].message)
    assert f"{LARGE_GRAPH_NODES + 1:,} values" in message
    for hint in ("collapse=True", "collapse=[mg.nn.Linear", "max_depth="):
        assert hint in message
    assert caught[0].filename == __file__  # points at the caller's line
    assert issubclass(LargeGraphWarning, UserWarning)


def test_graphs_at_the_threshold_or_trimmed_below_it_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", LargeGraphWarning)
        mg.draw_graph(chain(LARGE_GRAPH_NODES))
        mg.draw_graph(chain(3 * LARGE_GRAPH_NODES), max_depth=50)

        class Long(mg.nn.Module):
            def forward(self, x):
                for _ in range(LARGE_GRAPH_NODES):
                    x = x * 1.0
                return x

        class Outer(mg.nn.Module):
            def __init__(self):
                super().__init__()
                self.long = Long()

            def forward(self, x):
                return self.long(x).sum()

        loss = Outer()(mg.tensor(np.ones(2), requires_grad=True))
        dot = mg.draw_graph(loss, collapse=True)
        assert "box3d" in dot.source
    with pytest.warns(LargeGraphWarning):
        mg.draw_graph(loss)


def test_large_graph_warning_points_to_the_explorer_once_there_is_one(monkeypatch):
    monkeypatch.setattr(mg.viz, "explore", lambda *a, **k: None, raising=False)
    with pytest.warns(LargeGraphWarning, match=r"browse it with mg\.viz\.explore"):
        mg.draw_graph(chain(LARGE_GRAPH_NODES + 1))
