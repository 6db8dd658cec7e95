"""mg.viz.explore: the page's data against the graph, escaping, repeated-block folding,
and the page itself in a real (headless) Chromium: every node drawn, no console errors,
collapse on click, tooltips on hover, search, folds, a 5,000-node graph, hostile labels."""
import json
import random
import re

import numpy as np
import pytest
from browser import console_errors, driver, open_page  # noqa: F401  (a fixture)

import microgd as mg
from microgd.autograd import reachable
from microgd.viz.explore import repeated_blocks
from microgd.viz.page import graph_data, stats

HOSTILE = ['</script><script>window.pwned = 1</script>', '<img src=x onerror="window.pwned=2">',
           'a "quoted" & <b>bold</b>\nsecond line', "\u2028line\u2029sep", "<!-- x", "]]>&amp;"]


def page_data(path):
    text = path.read_text()
    m = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', text, re.S)
    return json.loads(m.group(1)), text


def mlp_loss(seed=0, batch=4):
    mg.manual_seed(seed)
    model = mg.nn.MLP(3, [5], 2)
    x = mg.tensor(np.random.default_rng(seed).standard_normal((batch, 3)), dtype=np.float32)
    x.name = "x"
    loss = mg.nn.F.cross_entropy(model(x), np.arange(batch) % 2)
    mg.viz.retain_grads(loss).backward()
    return model, loss


class Block(mg.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.lin = mg.nn.Linear(d, d)

    def forward(self, x):
        return x + self.lin(x).tanh()


class Tower(mg.nn.Module):
    """Three identical blocks (fold as one), then one of another width (does not)."""

    def __init__(self):
        super().__init__()
        self.blocks = mg.nn.ModuleList([Block(4) for _ in range(3)])
        self.out = mg.nn.Linear(4, 2)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.out(x)


def tower_loss():
    mg.manual_seed(1)
    model = Tower()
    loss = (model(mg.tensor(np.ones((2, 4), np.float32))) ** 2).mean()
    loss.backward()
    return model, loss


# ------------------------------------------------------------------ the page's data
def test_page_data_matches_the_graph(tmp_path):
    model, loss = mlp_loss()
    path = mg.viz.explore(loss, tmp_path / "g.html")
    data, _ = page_data(tmp_path / "g.html")
    nodes, edges = reachable(loss)
    assert path == str(tmp_path / "g.html") and len(data["nodes"]) == len(nodes)
    assert len(data["edges"]) == len(edges)
    by_name = {n["name"]: n for n in data["nodes"]}
    w = model.layers[0].weight
    item = by_name["MLP.layers.0.weight"]
    assert item["kind"] == "param" and item["shape"] == [5, 3] and item["dtype"] == "float32"
    assert data["scopes"][item["scope"]]["name"] == "MLP.layers.0"  # placed in its module
    assert item["grad"]["norm"] == pytest.approx(np.linalg.norm(w.grad.astype(np.float64)))
    assert item["data"]["max"] == pytest.approx(float(w.data.max()))
    where = {id(n): i for i, n in enumerate(nodes)}
    assert data["edges"] == [[where[id(p)], where[id(c)]] for p, c in edges]


def test_stats_against_numpy():
    a = np.random.default_rng(0).standard_normal((7, 9)) * 3
    a[0, 0], a[1, 1] = np.nan, np.inf
    s = stats(a)
    f = a[np.isfinite(a)]
    assert s["nonfinite"] == 2 and s["size"] == 63
    assert (s["min"], s["max"]) == (f.min(), f.max())
    assert s["mean"] == pytest.approx(f.mean()) and s["norm"] == pytest.approx(np.linalg.norm(f))
    assert s["hist"] == np.histogram(f, bins=len(s["hist"]))[0].tolist()
    assert stats(np.array([np.nan]))["nonfinite"] == 1


def test_value_graphs_carry_numbers(tmp_path):
    a, b = mg.Value(2.0, label="a"), mg.Value(-3.0, label="b")
    c = (a * b + a ** 2).tanh()
    c.backward()
    data, _ = graph_data(c)
    named = {n["name"]: n for n in data["nodes"]}
    assert named["a"]["grad"] == pytest.approx(a.grad) and named["b"]["data"] == -3.0
    assert {n["op"] for n in data["nodes"]} >= {"tanh", "+", "*", "** 2"}


def test_no_network_references(tmp_path):
    _, loss = mlp_loss()
    mg.viz.explore(loss, tmp_path / "g.html")
    text = (tmp_path / "g.html").read_text()
    # the only URL is the SVG namespace name, which is an identifier and never fetched
    assert set(re.findall(r"https?://[^\s\"'<>)]*", text)) == {"http://www.w3.org/2000/svg"}
    assert not re.search(r"\b(src|href)\s*=", text, re.I)
    assert "@import" not in text and not re.search(r"url\((?!#arrow\))", text)
    assert "sourceMappingURL" not in text and "fetch(" not in text and "XMLHttpRequest" not in text


def test_hostile_labels_stay_text(tmp_path):
    vals = [mg.Value(float(i), label=h) for i, h in enumerate(HOSTILE)]
    root = sum(vals[1:], vals[0])
    root.label = "<svg onload=alert(1)>"
    root.backward()
    mg.viz.explore(root, tmp_path / "h.html")
    data, text = page_data(tmp_path / "h.html")
    assert {n["name"] for n in data["nodes"]} >= set(HOSTILE) - {"\u2028line\u2029sep"}
    assert "line sep" not in text and "\\u2028line\\u2029sep" in text  # escaped, not raw
    body = text.split('id="graph-data">')[1].split("</script>")[0]
    assert not re.search(r"[<>&\u2028\u2029]", body)
    assert text.count("<script") == 2  # the data element and the page's own script


def test_repeated_blocks_fold_and_different_ones_do_not():
    model, loss = tower_loss()
    data, _ = graph_data(loss)
    runs = repeated_blocks(data)
    names = [[data["scopes"][k]["name"] for k in run] for run in runs]
    assert names == [[f"Tower.blocks.{i}" for i in range(3)]]
    model, loss = mlp_loss()  # Linear(3, 5) and Linear(5, 2): same class, different inside
    assert repeated_blocks(graph_data(loss)[0]) == []


def test_bad_arguments_are_named():
    _, loss = mlp_loss()
    with pytest.raises(TypeError, match="explore: expected a Value or a Tensor"):
        mg.viz.explore(np.ones(3), "g.html")
    with pytest.raises(ValueError, match=r"explore: path must end in \.html or \.htm"):
        mg.viz.explore(loss, "g.svg")
    with pytest.raises(TypeError, match="explore: params must be a mapping"):
        mg.viz.explore(loss, "g.html", params=[1, 2])


def test_draw_graph_points_to_explore():
    from microgd.viz import graph
    assert "mg.viz.explore" in graph._INSTALL_HINT
    with pytest.warns(mg.viz.LargeGraphWarning, match="mg.viz.explore"):
        graph._warn_large(5000)


# ------------------------------------------------------------------ in the browser
def nodes_drawn(d):
    return d.execute_script("return document.querySelectorAll('#nodes .node').length")


def test_page_draws_every_node_without_console_errors(driver, tmp_path):  # noqa: F811
    model, loss = mlp_loss()
    mg.viz.explore(loss, tmp_path / "g.html")
    open_page(driver, tmp_path / "g.html")
    assert nodes_drawn(driver) == len(reachable(loss)[0])
    assert driver.execute_script("return document.querySelectorAll('#edges path').length") \
        == len({(id(p), id(c)) for p, c in reachable(loss)[1]})
    assert console_errors(driver) == []
    driver.save_screenshot(str(tmp_path / "mlp.png"))


def test_clicking_a_cluster_collapses_it_and_the_box_expands_it(driver, tmp_path):  # noqa: F811
    model, loss = mlp_loss()  # the model stays alive: its parameters' names come from it
    data, _ = graph_data(loss)
    mg.viz.explore(loss, tmp_path / "g.html")
    open_page(driver, tmp_path / "g.html")
    k = next(i for i, s in enumerate(data["scopes"]) if s["name"] == "MLP.layers.0")
    inside = sum(k in chain_of(data, n["scope"]) for n in data["nodes"])
    before = nodes_drawn(driver)
    driver.find_element("css selector", f'.cluster[data-scope="{k}"] text').click()
    assert nodes_drawn(driver) == before - inside + 1
    box = driver.find_element("css selector", f'.node.box[data-scope="{k}"]')
    assert "MLP.layers.0" in box.text and f"{inside} nodes" in box.text
    box.click()
    assert nodes_drawn(driver) == before and console_errors(driver) == []


def chain_of(data, s):
    out = []
    while s >= 0:
        out.append(s)
        s = data["scopes"][s]["parent"]
    return out


def test_wheel_zooms_and_drag_pans(driver, tmp_path):  # noqa: F811
    from selenium.webdriver.common.action_chains import ActionChains
    model, loss = mlp_loss()
    mg.viz.explore(loss, tmp_path / "g.html")
    open_page(driver, tmp_path / "g.html")

    def transform():
        t = driver.find_element("id", "viewport").get_attribute("transform")
        x, y, k = map(float, re.findall(r"-?[\d.]+(?:e-?\d+)?", t))
        return x, y, k

    x0, y0, k0 = transform()
    driver.execute_script("""document.getElementById('canvas').dispatchEvent(new WheelEvent(
        'wheel', {deltaY: -300, clientX: 300, clientY: 300, bubbles: true, cancelable: true}))""")
    x1, y1, k1 = transform()
    assert k1 == pytest.approx(k0 * np.exp(300 * 0.0015))
    canvas = driver.find_element("id", "canvas")
    ActionChains(driver).move_to_element_with_offset(canvas, -400, 250).click_and_hold() \
        .move_by_offset(120, 40).release().perform()
    x2, y2, k2 = transform()
    assert (x2 - x1, y2 - y1, k2) == pytest.approx((120, 40, k1), abs=1.0)
    assert console_errors(driver) == []


def test_hovering_a_node_shows_its_details(driver, tmp_path):  # noqa: F811
    from selenium.webdriver.common.action_chains import ActionChains
    model, loss = mlp_loss()
    data, nodes = graph_data(loss)
    mg.viz.explore(loss, tmp_path / "g.html")
    open_page(driver, tmp_path / "g.html")
    i = next(i for i, n in enumerate(data["nodes"]) if n["name"] == "MLP.layers.0.weight")
    ActionChains(driver).move_to_element(
        driver.find_element("css selector", f'.node[data-id="{i}"]')).perform()
    tip = driver.find_element("id", "tip")
    assert tip.is_displayed()
    text = tip.text
    g = model.layers[0].weight.grad.astype(np.float64)
    for part in ("MLP.layers.0.weight", "parameter", "(5, 3)", "float32", "MLP.layers.0 (Linear)",
                 f"norm {np.linalg.norm(g):.4f}", f"min {g.min():.4f}"):
        assert part in text, (part, text)
    assert tip.find_elements("css selector", "svg.hist")  # the tiny histograms


def test_search_finds_a_node_inside_a_collapsed_fold(driver, tmp_path):  # noqa: F811
    model, loss = tower_loss()
    data, _ = graph_data(loss)
    mg.viz.explore(loss, tmp_path / "t.html")
    open_page(driver, tmp_path / "t.html")
    folded = nodes_drawn(driver)
    inside = sum(n["scope"] >= 0 and data["scopes"][n["scope"]]["name"].startswith("Tower.blocks")
                 for n in data["nodes"])
    assert folded == len(data["nodes"]) - inside + 1
    assert "Block × 3" in driver.find_element("css selector", ".node.fold").text
    box = driver.find_element("id", "search")
    box.send_keys("blocks.1.lin.weight")
    box.send_keys("\n")
    hit = driver.find_element("css selector", ".node.hit")
    assert data["nodes"][int(hit.get_attribute("data-id"))]["name"] == "Tower.blocks.1.lin.weight"
    assert nodes_drawn(driver) == len(data["nodes"])  # the fold opened to show it
    assert "Tower.blocks.1.lin.weight" in driver.find_element("id", "panel").text
    assert console_errors(driver) == []


def test_hostile_labels_inject_nothing(driver, tmp_path):  # noqa: F811
    vals = [mg.Value(float(i), label=h) for i, h in enumerate(HOSTILE)]
    root = sum(vals[1:], vals[0])
    root.backward()
    mg.viz.explore(root, tmp_path / "h.html")
    open_page(driver, tmp_path / "h.html")
    assert driver.execute_script("return window.pwned === undefined")
    assert driver.execute_script("return document.scripts.length") == 2
    assert not driver.find_elements("css selector", "#nodes img, #nodes b, #panel img")
    shown = driver.execute_script(
        "return [...document.querySelectorAll('#nodes .node')].map(g => g.textContent).join('|')")
    assert "window.pwned = 1" in shown and "onerror" in shown
    assert console_errors(driver) == []


def big_value_graph(n=5000, seed=0):
    """A scalar graph of about ``n`` nodes, mostly local edges with some long ones."""
    rng = random.Random(seed)
    vals = [mg.Value(rng.uniform(-1, 1), label=f"x{i}") for i in range(100)]
    while len(vals) < n - 30:
        a = vals[-1 - int(rng.expovariate(1 / 20)) % len(vals)]
        b = vals[-1 - int(rng.expovariate(1 / 40)) % len(vals)]
        vals.append((a * b).tanh() if rng.random() < 0.3 else a + b)
    return sum(vals[-30:], mg.Value(0.0))


def test_five_thousand_nodes_paint(driver, tmp_path):  # noqa: F811
    root = big_value_graph()
    root.backward()
    count = len(reachable(root)[0])
    assert count >= 5000
    mg.viz.explore(root, tmp_path / "big.html")
    open_page(driver, tmp_path / "big.html")
    assert nodes_drawn(driver) == count and console_errors(driver) == []
    first_paint = driver.execute_script("return MG.firstPaint")
    summary = driver.find_element("id", "summary").text
    print(f"\n{count}-node explorer: first paint {first_paint:.0f} ms after navigation ({summary})")
    assert first_paint > 0
