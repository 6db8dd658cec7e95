"""End to end: gradient descent actually learns."""
import numpy as np

import microgd as mg
from microgd.data import DataLoader, TensorDataset


def accuracy(model, X, y):
    with mg.no_grad():
        return float((model(mg.tensor(X)).data.argmax(axis=1) == y).mean())


def test_adam_mlp_fits_spirals():
    mg.manual_seed(0)
    X, y = mg.datasets.spirals(300, classes=3, noise=0.2, seed=0)
    model = mg.nn.MLP(2, [64, 64], 3)
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(400):
        opt.zero_grad()
        loss = mg.nn.F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
    assert accuracy(model, X, y) >= 0.95


def test_mlp_on_digits_generalises():
    mg.manual_seed(0)
    X, y = mg.datasets.digits()
    X = X / 16.0
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1400], order[1400:]
    model = mg.nn.MLP(64, [64], 10)
    opt = mg.optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(TensorDataset(X[train], y[train]), batch_size=64, shuffle=True, seed=0)
    for _ in range(25):
        for xb, yb in loader:
            opt.zero_grad()
            mg.nn.F.cross_entropy(model(xb), yb).backward()
            opt.step()
    assert accuracy(model, X[test], y[test]) >= 0.95
