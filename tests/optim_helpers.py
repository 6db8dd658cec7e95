"""Helpers shared by the optimizer tests (tests/test_optim.py, the update rules, and
tests/test_optim_api.py, what surrounds them): a float64 parameter to optimize, and a loop
that steps an optimizer along a gradient function and records where the parameter went."""
import numpy as np

import microgd as mg


def quadratic_param(x0):
    return mg.nn.Parameter(np.array(x0, dtype=np.float64))


def run(opt_factory, x0, grad_fn, steps):
    p = quadratic_param(x0)
    opt = opt_factory([p])
    path = []
    for _ in range(steps):
        opt.zero_grad()
        p.grad = grad_fn(p.data)
        opt.step()
        path.append(p.data.copy())
    return np.array(path)
