"""BitNet b1.58 (2B-4T architecture) in miniature, for quantization-aware training in PyTorch.

Same graph as bitnet.cpp's `build_bitnet_158` (spec section 5):
  x = embed[tok]; per layer:
    h = rmsnorm(x)*attn_norm; q,k,v = BitLinear(h); rope_neox(q,k); a = softmax(qk^T/sqrt(d)) v (GQA)
    a = rmsnorm(a)*attn_sub_norm; x += Wo a
    h = rmsnorm(x)*ffn_norm; f = relu(Wgate h)^2 * (Wup h); f = rmsnorm(f)*ffn_sub_norm; x += Wdown f
  logits = embed . (rmsnorm(x)*output_norm)   (tied head)
BitLinear trains with straight-through estimators of the inference quantizers:
  weights: absmean ternary, one scale per tensor: s = mean|W|, Wq = clamp(round(W/s), -1, 1) * s
  activations: per token int8 absmax: a = 127/max(|x|, 1e-5), xq = clamp(round(x*a), -128, 127) / a
"""

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab: int = 4096
    dim: int = 256
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int = 2
    ff: int = 1024
    ctx: int = 256
    rope_base: float = 500000.0
    eps: float = 1e-5

    @property
    def head_dim(self):
        return self.dim // self.n_heads

    def to_dict(self):
        return asdict(self)


def ternary(w):
    """Absmean ternary quantization: (codes in {-1,0,1}, per-tensor scale)."""
    scale = w.abs().mean().clamp(min=1e-5)
    return (w / scale).round().clamp(-1, 1), scale


def act_quant(x):
    """Per-token int8 absmax fake quantization (round half to even, as torch.round does)."""
    a = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return (x * a).round().clamp(-128, 127) / a


class BitLinear(nn.Linear):
    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out, bias=False)

    def forward(self, x):
        w = self.weight
        codes, scale = ternary(w)
        wq = w + (codes * scale - w).detach()
        xq = x + (act_quant(x) - x).detach()
        return F.linear(xq, wq)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg, n_pos):
    """NEOX rotation: pairs (i, i + head_dim/2); theta_i = pos * base^(-2i/head_dim)."""
    half = cfg.head_dim // 2
    inv = cfg.rope_base ** (-torch.arange(half, dtype=torch.float64) * 2.0 / cfg.head_dim)
    ang = torch.arange(n_pos, dtype=torch.float64)[:, None] * inv[None, :]
    return ang.cos().float(), ang.sin().float()


def rope_neox(x, cos, sin):
    # x: (B, H, T, D)
    half = x.shape[-1] // 2
    x0, x1 = x[..., :half], x[..., half:]
    return torch.cat([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, hd = cfg.dim, cfg.head_dim
        self.cfg = cfg
        self.attn_norm = RMSNorm(d, cfg.eps)
        self.attn_q = BitLinear(d, cfg.n_heads * hd)
        self.attn_k = BitLinear(d, cfg.n_kv_heads * hd)
        self.attn_v = BitLinear(d, cfg.n_kv_heads * hd)
        self.attn_sub_norm = RMSNorm(cfg.n_heads * hd, cfg.eps)
        self.attn_output = BitLinear(cfg.n_heads * hd, d)
        self.ffn_norm = RMSNorm(d, cfg.eps)
        self.ffn_gate = BitLinear(d, cfg.ff)
        self.ffn_up = BitLinear(d, cfg.ff)
        self.ffn_sub_norm = RMSNorm(cfg.ff, cfg.eps)
        self.ffn_down = BitLinear(cfg.ff, d)

    def forward(self, x, cos, sin):
        cfg = self.cfg
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.attn_q(h).view(B, T, cfg.n_heads, cfg.head_dim).transpose(1, 2)
        k = self.attn_k(h).view(B, T, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        v = self.attn_v(h).view(B, T, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        q, k = rope_neox(q, cos, sin), rope_neox(k, cos, sin)
        rep = cfg.n_heads // cfg.n_kv_heads  # query head h uses KV head h // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        a = a.transpose(1, 2).reshape(B, T, cfg.n_heads * cfg.head_dim)
        x = x + self.attn_output(self.attn_sub_norm(a))
        h = self.ffn_norm(x)
        f = F.relu(self.ffn_gate(h)).square() * self.ffn_up(h)
        return x + self.ffn_down(self.ffn_sub_norm(f))


class BitNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.token_embd = nn.Embedding(cfg.vocab, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.output_norm = RMSNorm(cfg.dim, cfg.eps)
        cos, sin = rope_tables(cfg, cfg.ctx)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 if "token_embd" in name else 1.0 / math.sqrt(p.shape[1])
                nn.init.normal_(p, std=std)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.token_embd(ids)
        cos, sin = self.cos[:T], self.sin[:T]
        for blk in self.blocks:
            x = blk(x, cos, sin)
        return F.linear(self.output_norm(x), self.token_embd.weight)
