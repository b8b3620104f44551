//! The forward pass, top to bottom (after llama2.c's `forward`), for a batch of token columns:
//! every projection and the head multiply all columns at once (`kernels::matmul`, which reads
//! each weight once for the batch); norms, RoPE, attention and the KV cache are per column, each
//! with its own sequence's norm gammas and cache. The columns may belong to different sequences
//! (the A/B pair's two modes) or be consecutive tokens of one (a prompt); a single token is a
//! batch of one.

use super::config::{Arch, Config, FfnAct};
use super::error::ModelError;
use super::state::{Batch, Col, Probe, RunState};
use super::weights::{Norms, Projection};
use super::{Engine, Model};
use crate::kernels::attention::{attend, AttnNumerics};
use crate::kernels::float::DotOrder;
use crate::kernels::math::{silu_isa, Isa};
use crate::kernels::matrix::FloatInput;
use crate::kernels::norm::{rms, rmsnorm_inplace};
use crate::kernels::par::on_pool;
use crate::kernels::rope::{rope_cache, rope_neox, rope_norm};
use crate::kernels::{matmul, rmsnorm, ActScratch};

/// How this token is being decoded, which decides a few roundings (fixtures README item 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    /// The token is part of a multi-token prompt decode (one `llama_decode` of two or more
    /// tokens): bitnet.cpp then multiplies V by F32 probabilities instead of F16 ones.
    pub in_batch: bool,
    /// Compute the logits (the last prompt token and every generated one).
    pub logits: bool,
}

/// The dot products of this pass (fixtures README item 2; checked bit-exact against bitnet.cpp's
/// trace and mainline's logits): attention's, and the float weights' (F16 head etc.), which
/// always take KQ's order on an input converted to the weight's type.
fn numerics(engine: Engine, isa: Isa, in_batch: bool) -> (AttnNumerics, FloatInput) {
    let (vec_dot, tiny_blas) = match isa {
        Isa::Avx2 => (DotOrder::GgmlVecDot, DotOrder::TinyBlas),
        Isa::Avx512 => (DotOrder::GgmlVecDotAvx512, DotOrder::TinyBlasAvx512),
    };
    let (kq_order, probs_f16, kqv_order) = match (engine, in_batch) {
        // bitnet.cpp multiplies V by F32 probabilities in a multi-token decode, with tinyBLAS.
        (Engine::BitnetCpp, true) => (vec_dot, false, tiny_blas),
        (Engine::BitnetCpp, false) | (Engine::LlamaCpp, false) => (vec_dot, true, vec_dot),
        (Engine::LlamaCpp, true) => (tiny_blas, true, tiny_blas),
    };
    let attn = AttnNumerics {
        kq_order,
        probs_f16,
        kqv_order,
        isa,
    };
    let float_input = FloatInput {
        convert: true,
        order: kq_order,
    };
    (attn, float_input)
}

/// `out = W x` for projection `p` and every column of `x`, times its output scale when the
/// file gives one.
fn project(
    p: &Projection,
    file: &[u8],
    fi: FloatInput,
    x: &[f32],
    out: &mut [f32],
    act: &mut ActScratch,
) {
    matmul(&p.weight.matrix(file), x, act, fi, out);
    if p.out_scale != 1.0 {
        for o in out.iter_mut() {
            *o *= p.out_scale;
        }
    }
}

/// `out = rmsnorm(x) * gamma`; returns the RMS of `out` for the probe.
fn norm(x: &[f32], gamma: &[f32], eps: f32, out: &mut [f32]) -> f32 {
    rmsnorm(x, gamma, eps, out);
    rms(out)
}

/// The sub-norm of the bitnet archs, in place (the probe's RMS; 0 for an arch without).
fn sub_norm(on: bool, x: &mut [f32], gamma: &[f32], eps: f32) -> f32 {
    if !on {
        return 0.0;
    }
    rmsnorm_inplace(x, gamma, eps);
    rms(x)
}

/// `x += delta` for every column (the residual connection); each new column's RMS goes into its
/// sequence's probe at `field`.
fn residual<S: Sequence>(
    x: &mut [f32],
    delta: &[f32],
    seqs: &mut [S],
    cols: &[Col],
    field: impl Fn(&mut Probe) -> &mut f32,
) {
    for (x, &d) in x.iter_mut().zip(delta) {
        *x += d;
    }
    for (xi, col) in x.chunks_exact(x.len() / cols.len()).zip(cols) {
        *field(&mut seqs[col.seq].parts().1.probe) = rms(xi);
    }
}

/// What the forward pass needs of each sequence of a batch: its norm gammas (the file's, or a
/// rescaled copy) and its state (KV cache and probe; its own `batch` is not touched).
pub trait Sequence {
    fn parts(&mut self) -> (&Norms, &mut RunState);
}

impl Sequence for (&Norms, &mut RunState) {
    fn parts(&mut self) -> (&Norms, &mut RunState) {
        (self.0, &mut *self.1)
    }
}

impl<S: Sequence> Sequence for &mut S {
    fn parts(&mut self) -> (&Norms, &mut RunState) {
        (**self).parts()
    }
}

/// Runs the columns `cols` through the model's layers and final norm, with the buffers of `b`:
/// each column's K and V go into its sequence's cache at its position, each column attends to
/// its sequence's positions up to its own (so a prompt's columns are causal), and each
/// sequence's probe ends up holding its last column's activations. Leaves the normed final
/// hidden states in `b.x`, one column after the other, for `head`. `in_batch` says how the
/// reference engine decodes these tokens (`Pass::in_batch`), the same for every column.
pub fn forward_batch<S: Sequence + Send>(
    m: &Model,
    file: &[u8],
    b: &mut Batch,
    seqs: &mut [S],
    cols: &[Col],
    in_batch: bool,
) -> Result<(), ModelError> {
    let max_ctx = check_columns(&m.config, seqs, cols)?;
    b.reserve(&m.config, cols.len(), max_ctx);
    // The layers on the pool when the run has several threads (`par::on_pool`).
    on_pool(b.act.threads, || layers(m, file, b, seqs, cols, in_batch));
    Ok(())
}

/// Every column's token is in the vocabulary and its position within its sequence's context;
/// returns the longest context among them (for the batch's buffers).
fn check_columns<S: Sequence>(
    c: &Config,
    seqs: &mut [S],
    cols: &[Col],
) -> Result<usize, ModelError> {
    let mut max_ctx = 0;
    for col in cols {
        if col.token as usize >= c.vocab_size {
            return Err(ModelError::BadToken {
                token: col.token,
                vocab: c.vocab_size,
            });
        }
        let n_ctx = seqs[col.seq].parts().1.n_ctx;
        if col.pos >= n_ctx {
            return Err(ModelError::ContextFull {
                pos: col.pos,
                n_ctx,
            });
        }
        max_ctx = max_ctx.max(n_ctx);
    }
    Ok(max_ctx)
}

/// `forward_batch` after its checks, on the thread it runs on (`b` reserved for the columns).
fn layers<S: Sequence>(
    m: &Model,
    file: &[u8],
    b: &mut Batch,
    seqs: &mut [S],
    cols: &[Col],
    in_batch: bool,
) {
    let c = &m.config;
    let n = cols.len();
    let (dim, kv_dim, hidden, eps) = (c.dim, c.kv_dim(), c.hidden_dim, c.rms_eps);
    let q_dim = c.n_heads * c.head_dim;
    let n_half = c.n_rot / 2;
    let (attn, fi) = numerics(m.engine, m.isa, in_batch);
    let rope = if c.rope_neox { rope_neox } else { rope_norm };

    for (i, col) in cols.iter().enumerate() {
        m.weights
            .embed(file, col.token as usize, &mut b.x[i * dim..(i + 1) * dim]);
        rope_cache(
            col.pos,
            c.n_rot,
            m.theta_scale,
            &mut b.rope[i * n_half..(i + 1) * n_half],
        );
    }
    let (x, xb, xb2) = (&mut b.x[..n * dim], &mut b.xb, &mut b.xb2[..n * dim]);
    let (hb, hb2) = (&mut b.hb[..n * hidden], &mut b.hb2[..n * hidden]);
    let (q, k, v) = (
        &mut b.q[..n * q_dim],
        &mut b.k[..n * kv_dim],
        &mut b.v[..n * kv_dim],
    );

    for (l, w) in m.weights.layers.iter().enumerate() {
        // Attention: norm, q/k/v, rotary embedding, cache, scaled dot-product attention.
        for (i, col) in cols.iter().enumerate() {
            let (norms, s) = seqs[col.seq].parts();
            let xb = &mut xb[i * dim..(i + 1) * dim];
            s.probe.layers[l].attn_norm =
                norm(&x[i * dim..][..dim], &norms.layers[l].attn, eps, xb);
        }
        let xbn = &xb[..n * dim];
        project(&w.wq, file, fi, xbn, q, &mut b.act);
        project(&w.wk, file, fi, xbn, k, &mut b.act);
        project(&w.wv, file, fi, xbn, v, &mut b.act);
        for (i, col) in cols.iter().enumerate() {
            let cs = &b.rope[i * n_half..(i + 1) * n_half];
            let (qi, ki) = (
                &mut q[i * q_dim..(i + 1) * q_dim],
                &mut k[i * kv_dim..(i + 1) * kv_dim],
            );
            rope(qi, c.head_dim, c.n_rot, cs);
            rope(ki, c.head_dim, c.n_rot, cs);
            let cache = &mut seqs[col.seq].parts().1.kv[l];
            let at = col.pos * kv_dim;
            for (j, (&kj, &vj)) in ki.iter().zip(&v[i * kv_dim..(i + 1) * kv_dim]).enumerate() {
                cache.k[at + j] = half::f16::from_f32(kj);
                cache.v[at + j] = half::f16::from_f32(vj);
            }
        }
        for (i, col) in cols.iter().enumerate() {
            let (norms, s) = seqs[col.seq].parts();
            let att_out = &mut xb[i * q_dim..(i + 1) * q_dim];
            attend(
                &q[i * q_dim..(i + 1) * q_dim],
                &s.kv[l],
                col.pos,
                c.n_heads,
                c.n_kv_heads,
                c.head_dim,
                attn,
                b.act.threads.max(1),
                &mut b.att,
                att_out,
            );
            s.probe.layers[l].attn_sub_norm =
                sub_norm(c.sub_norms, att_out, &norms.layers[l].attn_sub, eps);
        }
        project(&w.wo, file, fi, &xb[..n * q_dim], xb2, &mut b.act);
        residual(x, xb2, seqs, cols, |p| &mut p.layers[l].resid_attn);

        // Feed-forward: norm, gate and up, activation, (sub-norm), down.
        for (i, col) in cols.iter().enumerate() {
            let (norms, s) = seqs[col.seq].parts();
            let xb = &mut xb[i * dim..(i + 1) * dim];
            s.probe.layers[l].ffn_norm = norm(&x[i * dim..][..dim], &norms.layers[l].ffn, eps, xb);
        }
        let xbn = &xb[..n * dim];
        project(&w.w_gate, file, fi, xbn, hb, &mut b.act);
        project(&w.w_up, file, fi, xbn, hb2, &mut b.act);
        for (g, &u) in hb.iter_mut().zip(hb2.iter()) {
            let a = match c.ffn_act {
                FfnAct::ReluSquared => {
                    // A compare, not `f32::max` (a call per value in wasm); same result.
                    let r = if *g > 0.0 { *g } else { 0.0 };
                    r * r
                }
                FfnAct::Silu => silu_isa(m.isa, *g),
            };
            *g = a * u;
        }
        for (i, col) in cols.iter().enumerate() {
            let (norms, s) = seqs[col.seq].parts();
            let hi = &mut hb[i * hidden..(i + 1) * hidden];
            s.probe.layers[l].ffn_sub_norm =
                sub_norm(c.sub_norms, hi, &norms.layers[l].ffn_sub, eps);
        }
        project(&w.w_down, file, fi, hb, xb2, &mut b.act);
        residual(x, xb2, seqs, cols, |p| &mut p.layers[l].resid_ffn);
    }

    for (i, col) in cols.iter().enumerate() {
        let (norms, s) = seqs[col.seq].parts();
        let xi = &mut x[i * dim..(i + 1) * dim];
        rmsnorm_inplace(xi, &norms.output, eps);
        s.probe.output_norm = rms(xi);
    }
    debug_assert!(c.arch != Arch::Llama || !c.sub_norms);
}

/// The logits of the final hidden states `x` (columns after `forward_batch`), one column of
/// `vocab` values each into `out`. The head sees x converted to the weight's vec_dot type (F16
/// for an F16 head): both engines do when they produce one logits row, and mainline always
/// does.
pub fn head(
    m: &Model,
    file: &[u8],
    in_batch: bool,
    x: &[f32],
    act: &mut ActScratch,
    out: &mut [f32],
) {
    let (_, fi) = numerics(m.engine, m.isa, in_batch);
    on_pool(act.threads, || {
        matmul(&m.weights.output.matrix(file), x, act, fi, out)
    });
}

/// Runs token `token` at position `pos` through the model, with the norm gammas `norms` (the
/// file's, or a rescaled copy): a batch of one. Fills `s.logits` when `pass.logits`, and
/// `s.probe` always.
pub fn forward(
    m: &Model,
    norms: &Norms,
    file: &[u8],
    s: &mut RunState,
    token: u32,
    pos: usize,
    pass: Pass,
) -> Result<(), ModelError> {
    let mut b = std::mem::take(&mut s.batch);
    let col = Col { token, pos, seq: 0 };
    let run = forward_batch(
        m,
        file,
        &mut b,
        &mut [(norms, &mut *s)],
        &[col],
        pass.in_batch,
    );
    if run.is_ok() && pass.logits {
        head(
            m,
            file,
            pass.in_batch,
            &b.x[..m.config.dim],
            &mut b.act,
            &mut s.logits,
        );
    }
    s.batch = b;
    run
}
