"""A tiny transformer learns to sort: attention is weights computed from the data.

The input is six digits (0-9), e.g. 3 9 1 3 0 7; the model must continue it with the same
digits sorted, 0 1 3 3 7 9, one token at a time (minGPT's demo task). Each output needs
every input digit, so the model must look back along the sequence: causal self-attention
lets position t weigh positions 0..t by how well their keys match its query, and those
weights are computed afresh for every sequence. Gradient descent (θ ← θ − α∇J(θ), with
Adam and a cosine-shaped α) only moves the projections that make queries, keys and values.

Model: token + position embeddings, two pre-LayerNorm blocks (causal MultiheadAttention
with 2 heads, a GELU MLP, residual connections), a final LayerNorm and a linear head.
Prints exact-match accuracy on held-out sequences (greedy decoding).

Pictures: attention_maps.png (every head of every block on one held-out example),
attention_loss.png, attention_graph.png (the model's graph, each block one box).
"""
from __future__ import annotations

import os
import sys
import time

# The matrices here are tiny (64 x 11 x 48): waking a second BLAS thread costs more than
# it saves, and on a busy machine it costs ~7x the whole step. Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from common import fail, mg, out_path, parser, progress  # noqa: E402

nn, F = mg.nn, mg.nn.F
DIGITS, N = 10, 6          # vocabulary 0..9; sequences of 6 digits
T = 2 * N - 1              # the model reads 6 digits + the first 5 sorted ones
D, HEADS, BLOCKS = 48, 2, 2
GOAL = 0.95                # held-out exact match


class Block(nn.Module):
    """x + attention(LN(x)), then x + MLP(LN(x)): pre-LayerNorm, as in GPT-2."""

    def __init__(self) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, HEADS, batch_first=True)
        self.ln2 = nn.LayerNorm(D)
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))

    def forward(self, x: mg.Tensor, mask: np.ndarray, keep: list | None = None) -> mg.Tensor:
        h = self.ln1(x)
        a, w = self.attn(h, h, h, attn_mask=mask, need_weights=keep is not None,
                         average_attn_weights=False)
        if keep is not None:
            keep.append(w.data)  # (batch, heads, T, T): who each position looked at
        x = x + a
        return x + self.mlp(self.ln2(x))


class SortTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tok = nn.Embedding(DIGITS, D)
        self.pos = nn.Embedding(T, D)  # attention alone cannot tell positions apart
        self.blocks = nn.ModuleList([Block() for _ in range(BLOCKS)])
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, DIGITS)

    def forward(self, idx: np.ndarray, keep: list | None = None) -> mg.Tensor:
        L = idx.shape[1]
        x = self.tok(idx) + self.pos(np.arange(L))
        causal = np.triu(np.full((L, L), -np.inf, np.float32), k=1)  # no peeking ahead
        for block in self.blocks:
            x = block(x, causal, keep)
        return self.head(self.ln_f(x))  # (batch, L, DIGITS): logits for the next token


def sequences(rng: np.random.Generator, n: int, exclude: np.ndarray | None = None
              ) -> np.ndarray:
    """n rows of 6 random digits followed by the same digits sorted; rows whose digits
    appear in ``exclude`` (the held-out set, as 6-digit numbers) are drawn again."""
    x = rng.integers(0, DIGITS, (n, N))
    if exclude is not None:
        clash = np.isin(x @ 10 ** np.arange(N), exclude)
        while clash.any():
            x[clash] = rng.integers(0, DIGITS, (int(clash.sum()), N))
            clash = np.isin(x @ 10 ** np.arange(N), exclude)
    return np.concatenate([x, np.sort(x, axis=1)], axis=1)


def loss_on(model: SortTransformer, seq: np.ndarray) -> mg.Tensor:
    """Cross-entropy of the sorted half only: the input digits are random, not learnable."""
    logits = model(seq[:, :-1])[:, N - 1:]              # predictions for tokens 6..11
    return F.cross_entropy(logits.reshape(-1, DIGITS), seq[:, N:].reshape(-1))


def sort_greedily(model: SortTransformer, digits: np.ndarray) -> np.ndarray:
    """Generate the sorted half one token at a time, each the most likely next digit."""
    seq = digits
    with mg.no_grad():
        for _ in range(N):
            nxt = model(seq).data[:, -1].argmax(axis=-1)
            seq = np.concatenate([seq, nxt[:, None]], axis=1)
    return seq[:, N:]


def draw_maps(model: SortTransformer, example: np.ndarray, path: str) -> str:
    keep: list = []
    with mg.no_grad():
        model(example[None, :-1], keep)
    labels = [str(d) for d in example[:-1]]
    fig, axes = mg.viz.plots.figure(BLOCKS, HEADS, figsize=(4.2 * HEADS, 4 * BLOCKS),
                                    squeeze=False)
    for b, weights in enumerate(keep):
        for h in range(HEADS):
            ax = axes[b, h]
            ax.imshow(weights[0, h], cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(T), labels)
            ax.set_yticks(range(T), labels)
            ax.axvline(N - 0.5, color="w", lw=0.8)
            ax.axhline(N - 1.5, color="w", lw=0.8)
            ax.set(title=f"block {b}, head {h}", xlabel="key (looked at)",
                   ylabel="query (looking)")
    fig.suptitle(f"attention weights on {' '.join(labels[:N])} -> "
                 f"{' '.join(map(str, example[N:]))} (each row sums to 1)")
    return mg.viz.plots.save(fig, path)


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, lr=3e-3, batch_size=64, steps=500, seed=0, quiet=True)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    held_out = sequences(np.random.default_rng(args.seed + 10_000), 1000)
    held_codes = held_out[:, :N] @ 10 ** np.arange(N)
    mg.manual_seed(args.seed)
    model = SortTransformer()
    opt = mg.optim.Adam(model.parameters(), lr=args.lr)
    # α shrinks to 0 along a cosine: big steps early, fine ones at the end
    schedule = mg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    print(f"model: {sum(p.size for p in model.parameters()):,} parameters, {BLOCKS} blocks, "
          f"{HEADS} heads, embedding {D}")

    losses, start = [], time.perf_counter()
    bar = progress(range(args.steps), "training", args.quiet)
    for step in bar:
        loss = loss_on(model, sequences(rng, args.batch_size, exclude=held_codes))
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        losses.append(loss.item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    seconds = time.perf_counter() - start
    print(f"trained {args.steps} steps of {args.batch_size} sequences in {seconds:.1f} s; "
          f"final loss {np.mean(losses[-20:]):.4f}")

    model.eval()
    guess = sort_greedily(model, held_out[:, :N])
    exact = float((guess == held_out[:, N:]).all(axis=1).mean())
    print(f"held-out exact match: {exact:.1%} of {len(held_out)} sequences sorted exactly "
          f"(none of them seen in training)")
    for row, g in list(zip(held_out, guess))[:3]:
        print(f"  {' '.join(map(str, row[:N]))} -> {' '.join(map(str, g))}"
              f"{'' if (g == row[N:]).all() else '   (wrong)'}")

    print(f"wrote {draw_maps(model, held_out[0], out_path(args, 'attention_maps.png'))}")
    mg.viz.plots.loss_curves({"training loss": losses}, ylabel="cross-entropy (sorted half)",
                             title="sorting 6 digits", path=out_path(args, "attention_loss.png"))
    print(f"wrote {out_path(args, 'attention_loss.png')}")
    model.train()
    loss = loss_on(model, held_out[:4])
    loss.backward()  # the graph stays drawable; parameters get gradients to colour
    dot = mg.draw_graph(loss, format="png", rankdir="LR", show_data=False,
                        collapse=[Block, nn.LayerNorm, nn.Embedding, nn.Linear])
    path = dot.render(out_path(args, "attention_graph"), cleanup=True)
    print(f"wrote {path}")
    if exact < GOAL:
        return fail(f"{GOAL:.0%} held-out exact match", f"{exact:.1%} after {args.steps} "
                    "steps", "train longer (--steps) or try another --lr")
    return 0


if __name__ == "__main__":
    sys.exit(main())
