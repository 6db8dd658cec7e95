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
