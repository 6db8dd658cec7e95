"""mg.viz.replay: one frame per node the walk finishes, in the walk's real order, with the
gradients backprop computes; HTML with data-frame elements (stepped in a real browser) and
a GIF with one image per frame; nothing is written into .grad."""
import re

import numpy as np
import pytest
from browser import console_errors, driver, open_page  # noqa: F401  (a fixture)

import microgd as mg
from microgd.autograd import count_users
from microgd.viz.replay import record


def quickstart():
    a, b = mg.Value(2.0, label="a"), mg.Value(-3.0, label="b")
    c = (a * b + a ** 2).tanh()
    c.label = "c"
    return a, b, c


def tensor_graph(seed=0):
    """Shared subexpressions (h used three times), a ReLU (whose VJP writes in place), an
    input that needs no gradient, and a random upstream weighting of the output."""
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((3, 4)))                      # no grad
    w = mg.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    b = mg.tensor(rng.standard_normal(5), requires_grad=True)
    h = x @ w + b
    y = h.relu() * h + h.tanh()
    loss = (y * mg.tensor(rng.standard_normal((3, 5)))).sum()
    return loss, [w, b, h, y]


def test_frame_count_is_the_walks_node_count():
    a, b, c = quickstart()
    frames, nodes, _ = record(c)
    assert len(frames) == len(count_users([c])) == 6
    loss, _ = tensor_graph()
    frames, nodes, _ = record(loss)
    assert len(frames) == len(count_users([loss]))  # x (no grad) is not walked


def test_frames_follow_the_real_walk_and_its_gradients():
    loss, _ = tensor_graph()
    frames, nodes, _ = record(loss)
    finished = []
    for t in nodes:                             # the real walk's order: hooks see it
        if t.requires_grad:
            t.register_hook(lambda g, t=t: finished.append(t))
    mg.viz.retain_grads(loss)
    loss.backward()
    assert [nodes[f["node"]] for f in frames] == finished
    for f in frames:
        t = nodes[f["node"]]
        assert f["grad"]["shape"] == list(t.shape)
        assert f["grad"]["norm"] == pytest.approx(np.linalg.norm(t.grad), rel=1e-12)


def test_value_frames_multiply_upstream_by_local_and_add_where_paths_meet():
    a, b, c = quickstart()
    frames, nodes, _ = record(c)
    assert a.grad == b.grad == 0.0              # replay leaves .grad alone
    c.backward()
    for f in frames:
        assert f["grad"] == pytest.approx(nodes[f["node"]].grad, rel=1e-12)
        for e in f["edges"]:
            assert e["out"] == pytest.approx(e["up"] * e["local"], rel=1e-15)
    fa = next(f for f in frames if nodes[f["node"]] is a)
    assert len(fa["shares"]) == 2               # a is used twice: a*b and a**2
    assert sum(s for _, s in fa["shares"]) == pytest.approx(a.grad)
    plus = [e for f in frames for e in f["edges"] if e["acc"] == "+="]
    assert [nodes[e["to"]] for e in plus] == [a] and plus[0]["total"] == pytest.approx(a.grad)
    assert f"grad = {fa['shares'][0][1]:.4f} + {fa['shares'][1][1]:.4f} = {a.grad:.4f}" \
        in fa["text"]


def test_tensor_replay_needs_the_saved_values():
    loss, _ = tensor_graph()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"replay: this Tensor graph's saved values were "
                                           r"freed by backward\(\)"):
        mg.viz.replay(loss, "r.html")
    loss, _ = tensor_graph()
    loss.backward(retain_graph=True)
    frames, _, _ = record(loss)                 # retained: it replays
    assert len(frames) == len(count_users([loss]))


def test_bad_roots_and_paths():
    a, b, c = quickstart()
    with pytest.raises(ValueError, match=r"replay: path must end in \.html or \.htm or \.gif"):
        mg.viz.replay(c, "r.png")
    with pytest.raises(TypeError, match="replay: expected a Value or a Tensor"):
        mg.viz.replay([c], "r.html")
    with pytest.raises(ValueError, match=r"replay: the output has shape \(3, 4\)"):
        mg.viz.replay(mg.tensor(np.ones((3, 4)), requires_grad=True) * 2, "r.html")
    with pytest.raises(RuntimeError, match="replay: the output does not require grad"):
        mg.viz.replay(mg.tensor(np.ones(1)) * 2, "r.html")


def test_html_has_a_frame_element_per_frame_and_no_network(tmp_path):
    a, b, c = quickstart()
    c.backward()
    text = open(mg.viz.replay(c, tmp_path / "r.html")).read()
    assert re.findall(r'data-frame="(\d+)"', text) == [str(i) for i in range(6)]
    assert set(re.findall(r"https?://[^\s\"'<>)]*", text)) == {"http://www.w3.org/2000/svg"}
    assert not re.search(r"\b(src|href)\s*=", text, re.I) and "@import" not in text


def test_hostile_labels_reach_the_page_only_as_escaped_json(tmp_path):
    a = mg.Value(1.0, label='</script><script>alert(1)</script>')
    b = mg.Value(2.0, label='<img src=x onerror=alert(2)> & "q"\n\u2028')
    text = open(mg.viz.replay(a * b + a, tmp_path / "h.html")).read()
    data = text.split('id="graph-data">')[1].split("</script>")[0]
    assert not re.search(r"[<>&\u2028\u2029]", data) and "\\u003c/script\\u003e" in data
    assert text.count("<script") == 2 and "<img" not in text


def test_gif_has_one_image_per_frame(tmp_path):
    from PIL import Image
    a, b, c = quickstart()
    path = mg.viz.replay(c, tmp_path / "r.gif")
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == 6 and im.size[0] >= 640
    loss, _ = tensor_graph()
    with Image.open(mg.viz.replay(loss, tmp_path / "t.gif")) as im:
        assert im.n_frames == len(count_users([loss]))


def test_replay_steps_forward_and_back_in_the_browser(driver, tmp_path):  # noqa: F811
    from selenium.webdriver.support.ui import WebDriverWait
    a, b, c = quickstart()
    frames, nodes, _ = record(c)
    mg.viz.replay(c, tmp_path / "r.html")
    d = open_page(driver, tmp_path / "r.html")
    assert len(d.find_elements("css selector", "[data-frame]")) == len(frames)
    assert len(d.find_elements("css selector", "#nodes .node")) == len(nodes)

    def current():
        li = d.find_element("css selector", "#frames li.current")
        return int(li.get_attribute("data-frame")), d.find_element("id", "step-text").text

    assert current() == (0, frames[0]["text"])
    d.find_element("id", "step").click()
    d.find_element("id", "step").click()
    assert current() == (2, frames[2]["text"])
    assert d.find_element("css selector", ".node.current").get_attribute("data-id") \
        == str(frames[2]["node"])
    d.find_element("id", "back").click()
    assert current() == (1, frames[1]["text"])
    d.find_element("css selector", '[data-frame="4"]').click()
    assert current()[0] == 4
    hot = d.find_elements("css selector", "#edge-labels text")
    assert len(hot) == len(frames[4]["edges"])
    d.find_element("id", "back").click()
    d.find_element("id", "play").click()
    WebDriverWait(d, 10).until(lambda _: current()[0] == len(frames) - 1)
    assert console_errors(d) == []
    d.save_screenshot(str(tmp_path / "replay.png"))
