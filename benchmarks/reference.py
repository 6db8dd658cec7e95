"""Hand-written numpy reference for the MLP workloads: forward, manual backward, in-place
update. This is the floor: any time microgd spends above it is framework overhead."""
from __future__ import annotations

import numpy as np


class NumpyMLP:
    """Linear -> ReLU -> ... -> Linear with cross-entropy, float32, weights (out, in)."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        self.W = [w.copy() for w in weights]
        self.b = [b.copy() for b in biases]
        self.adam_state: list | None = None
        self.t = 0

    def loss_and_grads(self, X: np.ndarray, y: np.ndarray):
        # forward, keeping what backward needs
        acts, pre = [X], []
        a = X
        last = len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            h = a @ W.T
            h += b
            if i < last:
                pre.append(h)
                a = np.maximum(h, 0)
                acts.append(a)
            else:
                logits = h
        n = len(y)
        m = logits.max(axis=1, keepdims=True)
        z = logits - m
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.log(s).mean() - z[np.arange(n), y].mean())
        # backward: d loss / d logits = (softmax - onehot) / n
        g = e
        g /= s
        g[np.arange(n), y] -= 1
        g /= n
        dW, db = [None] * len(self.W), [None] * len(self.W)
        for i in range(last, -1, -1):
            dW[i] = g.T @ acts[i]
            db[i] = g.sum(axis=0)
            if i > 0:
                g = g @ self.W[i]
                g *= pre[i - 1] > 0
        return loss, dW, db

    def sgd_step(self, X: np.ndarray, y: np.ndarray, lr: float) -> float:
        loss, dW, db = self.loss_and_grads(X, y)
        for p, g in zip(self.W + self.b, dW + db):
            g *= lr
            p -= g
        return loss

    def adam_step(self, X: np.ndarray, y: np.ndarray, lr: float = 1e-3, b1: float = 0.9,
                  b2: float = 0.999, eps: float = 1e-8) -> float:
        loss, dW, db = self.loss_and_grads(X, y)
        params = self.W + self.b
        if self.adam_state is None:
            self.adam_state = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        self.t += 1
        step = lr / (1 - b1 ** self.t)
        bc2 = np.sqrt(1 - b2 ** self.t)
        for p, g, (m, v) in zip(params, dW + db, self.adam_state):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            g *= g
            g *= 1 - b2
            v += g
            denom = np.sqrt(v)
            denom /= bc2
            denom += eps
            np.divide(m, denom, out=denom)
            denom *= step
            p -= denom
        return loss


class BareValue:
    """The least a micrograd-shaped scalar engine can do, as S2's reference.

    A node is a Python object holding its value, its gradient, a tuple of parents and its
    local derivative; backward counts users and then finishes nodes in order (iteratively,
    like microgd). There are no input checks, no labels, no rendering hooks and only the two
    ops S2 needs, so its time per link is what an object graph costs on this interpreter.
    """

    __slots__ = ("data", "grad", "_parents", "_local")

    def __init__(self, data: float, parents: tuple = (), local: float = 0.0) -> None:
        self.data = data
        self.grad = 0.0
        self._parents = parents
        self._local = local

    def __mul__(self, k: float) -> BareValue:
        return BareValue(self.data * k, (self,), k)

    def __add__(self, k: float) -> BareValue:
        return BareValue(self.data + k, (self,), 1.0)

    def backward(self) -> None:
        users = {self: 0}
        stack = [self]
        while stack:
            for p in stack.pop()._parents:
                if p in users:
                    users[p] += 1
                else:
                    users[p] = 1
                    stack.append(p)
        ready = [(self, 1.0)]
        pending: dict = {}
        while ready:
            node, g = ready.pop()
            node.grad += g
            for p in node._parents:
                pg = g * node._local
                left = users[p] - 1
                users[p] = left
                if left:
                    pending[p] = pending.get(p, 0.0) + pg
                else:
                    ready.append((p, pending.pop(p, 0.0) + pg))
