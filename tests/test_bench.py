"""The benchmark's numpy reference computes the same gradients as microgd (its speed is
measured by `make bench`, never asserted here)."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench  # noqa: E402


def test_reference_gradients_match_microgd():
    for sizes, batch in ([64, 32, 10], 32), ([20, 16, 16, 5], 8):
        X, y, model, ref = bench.make_problem(sizes, batch)
        assert bench.check_gradients_once(model, ref, X, y) < 1e-5


def test_reference_adam_matches_microgd_adam():
    X, y, model, ref = bench.make_problem([12, 8, 3], 6)
    step = bench.microgd_stepper(model, X, y, "adam")
    for _ in range(3):
        step()
        ref.adam_step(X, y)
    linears = [m for m in model.layers if isinstance(m, bench.mg.nn.Linear)]
    for lin, w in zip(linears, ref.W):
        np.testing.assert_allclose(lin.weight.data, w, rtol=1e-4, atol=1e-6)


def test_quick_run_reports_every_column():
    result = bench.run_mlp("T1", rounds=1, quick=True)
    assert result["ratio"] > 0 and {"microgd", "numpy"} <= set(result)
    assert "| T1 |" in bench.report([result])


def test_bare_scalar_reference_matches_microgd():
    """S2's reference engine (only * and + with numbers, so graphs are chains)."""
    from reference import BareValue

    def chain(make):
        x = make(1.5)
        y = (x * 3.0) * 2.0 + 1.0
        return x, y * 4.0 + 0.0

    x, y = chain(BareValue)
    y.backward()
    mx, my = chain(bench.mg.Value)
    my.backward()
    assert y.data == my.data == 40.0
    assert x.grad == mx.grad == 24.0  # d(4 (2 (3x) + 1))/dx


def test_s2_reports_microgd_bare_engine_and_collector_off():
    result = bench.run_s2([200])
    assert set(result) >= {"per_link_us", "bare_us", "no_collector_us"}
    assert "| S2 N=2e+02 |" in bench.report([result])


def test_eager_floor_engine_trains_exactly_as_microgd_and_the_reference():
    """The floor engine (benchmarks/eager_floor.py) is only a yardstick if it does the same
    work: three SGD steps from the same weights give the same parameters in all three ways,
    and a second weight on the loss (a random upstream gradient) reaches every parameter."""
    import eager_floor as ef

    params, x, y = ef.problem(seed=3)
    ref_params = [p.copy() for p in params]
    ref = ef.reference_step(ref_params, x, y)
    floor, leaves = ef.floor_step(params, x, y)
    step, plist = ef.microgd_step(params, x, y)
    for _ in range(3):
        losses = ref(), float(floor().data), float(step().item())
        np.testing.assert_allclose(losses[1:], losses[0], rtol=1e-5)
    for r, f, m in zip(ref_params, leaves, plist):
        np.testing.assert_allclose(f.data, r, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(m.data, r, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ref_params[0], params[0])  # the steps moved the weights

    # gradients, not just updates: backward of the loss with a random upstream gradient w
    w = np.random.default_rng(4).uniform(0.5, 2.0)
    tape, xn = ef.Tape(), ef.Node(x)
    for leaf in leaves:
        leaf.grad = None
    loss = tape.cross_entropy(tape.linear(tape.relu(tape.linear(xn, *leaves[:2])),
                                          *leaves[2:]), y)
    tape.backward(loss, grad=w)
    F = ef.mg.nn.functional
    for m, leaf in zip(plist, leaves):
        m.data[...] = leaf.data
        m.grad = None
    model_out = F.cross_entropy(
        F.linear(F.relu(F.linear(ef.mg.tensor(x), plist[0], plist[1])), plist[2], plist[3]),
        ef.mg.tensor(y))
    model_out.backward(np.asarray(w, np.float32))
    for m, leaf in zip(plist, leaves):
        np.testing.assert_allclose(leaf.grad, m.grad, rtol=1e-5, atol=1e-7)


def test_eager_floor_runs_and_reports_three_ways(capsys):
    import eager_floor as ef

    times = ef.main(["--steps", "3", "--rounds", "2"])
    assert set(times) == {"reference", "floor", "microgd"}
    assert all(len(ts) == 2 and min(ts) > 0 for ts in times.values())
    assert capsys.readouterr().out.count("x the reference") == 3
