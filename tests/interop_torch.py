"""Train small models in microgd, load them into the same torch.nn models with
load_state_dict(strict=True), and compare outputs (run by tests/test_interop.py with any
Python that has torch; also a script: `python tests/interop_torch.py`)."""
from __future__ import annotations

import numpy as np
import torch

import microgd as mg


def _train(model, x, loss_of, steps=5):
    opt = mg.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss_of(model(x)).backward()
        opt.step()


def check_round_trips():
    t = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    tt = mg.interop.to_torch(t)
    assert isinstance(tt, torch.Tensor) and tt.requires_grad and tt.shape == (2, 3)
    back = mg.interop.from_torch(tt)
    assert isinstance(back, mg.Tensor) and back.requires_grad
    np.testing.assert_array_equal(back.data, t.data)
    tt.data[0, 0] = 100.0                      # copies: neither side sees the other's writes
    assert t.data[0, 0] == 0.0
    sd = mg.interop.from_torch(torch.nn.Linear(3, 2).state_dict())
    assert list(sd) == ["weight", "bias"] and isinstance(sd["weight"], np.ndarray)


def check_mlp(rng):
    model = mg.nn.Sequential(mg.nn.Linear(4, 8), mg.nn.ReLU(), mg.nn.Linear(8, 3))
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    _train(model, x, lambda out: mg.nn.F.cross_entropy(out, y))
    ref = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    ref.load_state_dict(mg.interop.to_torch(model.state_dict()), strict=True)
    np.testing.assert_allclose(ref(torch.from_numpy(x)).detach().numpy(), model(x).data,
                               rtol=1e-5, atol=1e-6)


def check_cnn(rng):
    model = mg.nn.Sequential(
        mg.nn.Conv2d(1, 4, 3, padding=1), mg.nn.BatchNorm2d(4), mg.nn.ReLU(),
        mg.nn.MaxPool2d(2), mg.nn.Flatten(), mg.nn.Linear(4 * 4 * 4, 3))
    x = rng.standard_normal((6, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    _train(model, x, lambda out: mg.nn.F.cross_entropy(out, y))
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 3))
    ref.load_state_dict(mg.interop.to_torch(model.state_dict()), strict=True)
    model.eval()
    ref.eval()
    np.testing.assert_allclose(ref(torch.from_numpy(x)).detach().numpy(), model(x).data,
                               rtol=1e-4, atol=1e-5)


def check_transformer_block(rng):
    class Block(mg.nn.Module):
        def __init__(self, nn):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(8), nn.LayerNorm(8)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 8))

    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            nn = torch.nn
            self.ln1, self.ln2 = nn.LayerNorm(8), nn.LayerNorm(8)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 8))

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))

    Block.forward = forward
    TorchBlock.forward = forward
    L = 5
    causal = np.triu(np.ones((L, L), dtype=bool), k=1)   # True: may NOT attend (PyTorch mha)
    model = Block(mg.nn)
    x = rng.standard_normal((3, L, 8)).astype(np.float32)
    target = rng.standard_normal((3, L, 8)).astype(np.float32)
    opt = mg.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        mg.nn.F.mse_loss(model(x, causal), target).backward()
        opt.step()
    ref = TorchBlock()
    ref.load_state_dict(mg.interop.to_torch(model.state_dict()), strict=True)
    out = ref(torch.from_numpy(x), torch.from_numpy(causal)).detach().numpy()
    np.testing.assert_allclose(out, model(x, causal).data, rtol=1e-4, atol=1e-5)


def check_torch_mha_loads_into_ours(rng):
    """The other direction: a torch MultiheadAttention's state dict loads into ours, and
    outputs, weights and every gradient agree in float64 (tests/against_torch_attention.py)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import against_torch_attention as cross

    results = cross.mha_checks()
    assert results and all(err < 1e-10 for _, err in results), results


CHECKS = {"round_trips": lambda rng: check_round_trips(), "mlp": check_mlp, "cnn": check_cnn,
          "transformer_block": check_transformer_block,
          "torch_mha_into_microgd": check_torch_mha_loads_into_ours}


if __name__ == "__main__":
    import sys

    names = sys.argv[1:] or list(CHECKS)
    for name in names:
        CHECKS[name](np.random.default_rng(0))
        print(f"{name}: ok")
