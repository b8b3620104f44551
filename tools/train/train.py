"""Seeded quantization-aware training of the miniature BitNet b1.58 on Shakespeare.

Each training sample is BOS followed by ctx-1 tokens from a random position of the train stream,
so the model learns to continue text that starts right after BOS, which is how the engine is
prompted (add_bos_token = true). Logs train and validation loss to log.json; saves ckpt.pt.
"""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from model import BitNet, Config


def batch(data, bos, n, ctx, gen):
    starts = torch.randint(0, len(data) - ctx, (n,), generator=gen).numpy()
    x = np.stack([data[s:s + ctx] for s in starts]).astype(np.int64)  # ctx tokens
    ids = np.concatenate([np.full((n, 1), bos, dtype=np.int64), x], axis=1)  # BOS + ctx
    ids = torch.from_numpy(ids)
    return ids[:, :-1], ids[:, 1:]


@torch.no_grad()
def evaluate(model, val, bos, ctx, n_batches, bsz):
    """Mean loss over fixed validation windows (same windows at every eval: seed 1234)."""
    model.eval()
    gen = torch.Generator().manual_seed(1234)
    losses = []
    for _ in range(n_batches):
        x, y = batch(val, bos, bsz, ctx, gen)
        losses.append(F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item())
    model.train()
    return float(np.mean(losses))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--bsz", type=int, default=16)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--ff", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-batches", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=1, help="1 is ~5x faster than 2 on a contended 2-core box (OpenMP barriers)")
    ap.add_argument("--max-minutes", type=float, default=1e9, help="safety stop (logged)")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    stats = json.load(open(os.path.join(a.data, "data_stats.json")))
    train = np.fromfile(os.path.join(a.data, "train.bin"), dtype=np.uint16)
    val = np.fromfile(os.path.join(a.data, "val.bin"), dtype=np.uint16)
    bos = stats["bos"]
    cfg = Config(vocab=stats["vocab"], dim=a.dim, n_layers=a.layers, ff=a.ff, ctx=a.ctx)
    model = BitNet(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params} cfg {cfg.to_dict()}", flush=True)

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))

    def lr_at(step):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        t = (step - a.warmup) / max(1, a.steps - a.warmup)
        return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))

    gen = torch.Generator().manual_seed(a.seed)
    log = {"args": vars(a), "config": cfg.to_dict(), "params": n_params, "train": [], "val": []}
    t0 = time.time()
    ema = None
    step = 0
    for step in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        x, y = batch(train, bos, a.bsz, a.ctx, gen)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        li = loss.item()
        ema = li if ema is None else 0.95 * ema + 0.05 * li
        log["train"].append([step, li])
        elapsed = time.time() - t0
        if step % 10 == 0:
            print(f"step {step} loss {li:.4f} ema {ema:.4f} lr {lr_at(step):.2e} {elapsed/60:.1f} min", flush=True)
        last = step == a.steps - 1 or elapsed > a.max_minutes * 60
        if step % a.eval_every == 0 or last:
            vl = evaluate(model, val, bos, a.ctx, a.eval_batches, a.bsz)
            log["val"].append([step, vl])
            print(f"step {step} val {vl:.4f}", flush=True)
            log["minutes"] = elapsed / 60
            log["steps_done"] = step + 1
            torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "step": step}, os.path.join(a.out, "ckpt.pt"))
            json.dump(log, open(os.path.join(a.out, "log.json"), "w"))
        if last:
            if step != a.steps - 1:
                log["stopped_early"] = f"wall-clock budget of {a.max_minutes} min reached at step {step}"
                json.dump(log, open(os.path.join(a.out, "log.json"), "w"))
            break
    print(f"done {step + 1} steps in {(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
