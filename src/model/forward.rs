//! The forward pass for one token, top to bottom (after llama2.c's `forward`).

use super::config::{Arch, FfnAct};
use super::error::ModelError;
use super::state::RunState;
use super::weights::{Norms, Projection};
use super::{Engine, Model};
use crate::kernels::attention::{attend, AttnNumerics};
use crate::kernels::float::DotOrder;
use crate::kernels::math::{silu_isa, Isa};
use crate::kernels::matrix::FloatInput;
use crate::kernels::norm::{rms, rmsnorm_inplace};
use crate::kernels::rope::{rope_cache, rope_neox, rope_norm};
use crate::kernels::{matvec, rmsnorm, ActScratch};

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

/// `out = W x` for projection `p`, times its output scale when the file gives one.
fn project(
    p: &Projection,
    file: &[u8],
    fi: FloatInput,
    x: &[f32],
    out: &mut [f32],
    act: &mut ActScratch,
) {
    matvec(&p.weight.matrix(file), x, act, fi, out);
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

/// `x += delta` (the residual connection); returns the RMS of the new `x` for the probe.
fn residual(x: &mut [f32], delta: &[f32]) -> f32 {
    for (x, &d) in x.iter_mut().zip(delta) {
        *x += d;
    }
    rms(x)
}

/// Runs token `token` at position `pos` through the model, with the norm gammas `norms` (the
/// file's, or a rescaled copy). Fills `s.logits` when `pass.logits`, and `s.probe` always.
pub fn forward(
    m: &Model,
    norms: &Norms,
    file: &[u8],
    s: &mut RunState,
    token: u32,
    pos: usize,
    pass: Pass,
) -> Result<(), ModelError> {
    let c = &m.config;
    if token as usize >= c.vocab_size {
        return Err(ModelError::BadToken {
            token,
            vocab: c.vocab_size,
        });
    }
    if pos >= s.n_ctx {
        return Err(ModelError::ContextFull {
            pos,
            n_ctx: s.n_ctx,
        });
    }
    let (dim, kv_dim, q_dim, eps) = (c.dim, c.kv_dim(), s.q.len(), c.rms_eps);
    let (attn, fi) = numerics(m.engine, m.isa, pass.in_batch);

    m.weights.embed(file, token as usize, &mut s.x);
    rope_cache(pos, c.n_rot, m.theta_scale, &mut s.rope);
    let rope = if c.rope_neox { rope_neox } else { rope_norm };

    for (l, (w, n)) in m.weights.layers.iter().zip(&norms.layers).enumerate() {
        let probe = &mut s.probe.layers[l];

        // Attention: norm, q/k/v, rotary embedding, cache, scaled dot-product attention.
        let xb = &mut s.xb[..dim];
        probe.attn_norm = norm(&s.x, &n.attn, eps, xb);
        project(&w.wq, file, fi, xb, &mut s.q, &mut s.act);
        project(&w.wk, file, fi, xb, &mut s.k, &mut s.act);
        project(&w.wv, file, fi, xb, &mut s.v, &mut s.act);
        rope(&mut s.q, c.head_dim, c.n_rot, &s.rope);
        rope(&mut s.k, c.head_dim, c.n_rot, &s.rope);
        let cache = &mut s.kv[l];
        for i in 0..kv_dim {
            cache.k[pos * kv_dim + i] = half::f16::from_f32(s.k[i]);
            cache.v[pos * kv_dim + i] = half::f16::from_f32(s.v[i]);
        }
        let att_out = &mut s.xb[..q_dim];
        attend(
            &s.q,
            cache,
            pos,
            c.n_heads,
            c.n_kv_heads,
            c.head_dim,
            attn,
            &mut s.att,
            &mut s.qh,
            att_out,
        );
        probe.attn_sub_norm = sub_norm(c.sub_norms, att_out, &n.attn_sub, eps);
        project(&w.wo, file, fi, att_out, &mut s.xb2, &mut s.act);
        probe.resid_attn = residual(&mut s.x, &s.xb2);

        // Feed-forward: norm, gate and up, activation, (sub-norm), down.
        let xb = &mut s.xb[..dim];
        probe.ffn_norm = norm(&s.x, &n.ffn, eps, xb);
        project(&w.w_gate, file, fi, xb, &mut s.hb, &mut s.act);
        project(&w.w_up, file, fi, xb, &mut s.hb2, &mut s.act);
        for (g, &u) in s.hb.iter_mut().zip(&s.hb2) {
            let a = match c.ffn_act {
                FfnAct::ReluSquared => {
                    let r = g.max(0.0);
                    r * r
                }
                FfnAct::Silu => silu_isa(m.isa, *g),
            };
            *g = a * u;
        }
        probe.ffn_sub_norm = sub_norm(c.sub_norms, &mut s.hb, &n.ffn_sub, eps);
        project(&w.w_down, file, fi, &s.hb, &mut s.xb2, &mut s.act);
        probe.resid_ffn = residual(&mut s.x, &s.xb2);
    }

    rmsnorm_inplace(&mut s.x, &norms.output, eps);
    s.probe.output_norm = rms(&s.x);
    if pass.logits {
        // The head sees x converted to the weight's vec_dot type (F16 for an F16 head): both
        // engines do when they produce one logits row, and mainline always does.
        let head = m.weights.output.matrix(file);
        matvec(&head, &s.x, &mut s.act, fi, &mut s.logits);
    }
    debug_assert!(c.arch != Arch::Llama || !c.sub_norms);
    Ok(())
}
