"""Plot train (per step, and a 50-step moving average) and validation loss from log.json."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main(log_path, png_path):
    log = json.load(open(log_path))
    tr = np.array(log["train"])
    va = np.array(log["val"])
    k = 50
    smooth = np.convolve(tr[:, 1], np.ones(k) / k, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(tr[:, 0], tr[:, 1], color="tab:blue", alpha=0.25, lw=0.8, label="train (per step)")
    ax.plot(tr[k - 1:, 0], smooth, color="tab:blue", lw=1.6, label=f"train ({k}-step mean)")
    ax.plot(va[:, 0], va[:, 1], "o-", color="tab:orange", lw=1.6, ms=4, label="validation (held-out 5%)")
    c = log["config"]
    ax.set_title(f"BitNet b1.58 mini on Shakespeare: dim {c['dim']}, {c['n_layers']} layers, ff {c['ff']}, "
                 f"vocab {c['vocab']}", fontsize=9)
    ax.set_xlabel(f"step ({log['args']['bsz']} x {log['args']['ctx']} tokens)")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.set_ylim(bottom=max(0.0, min(tr[:, 1].min(), va[:, 1].min()) - 0.3), top=min(9.0, tr[:, 1].max() + 0.2))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    print("final val", va[-1].tolist(), "final train (50-step mean)", float(smooth[-1]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
