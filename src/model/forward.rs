//! The forward pass for one token, top to bottom (after llama2.c's `forward`).

use super::config::{Arch, FfnAct};
use super::error::ModelError;
use super::state::RunState;
use super::weights::{Norms, TensorRef};
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

/// `out = (W x) * scale`, for a projection with its optional `.scale` tensor.
fn mv(
    float_input: FloatInput,
    w: &TensorRef,
    file: &[u8],
    x: &[f32],
    out: &mut [f32],
    act: &mut ActScratch,
    scale: f32,
) {
    matvec(&w.matrix(file), x, act, float_input, out);
    if scale != 1.0 {
        for o in out.iter_mut() {
            *o *= scale;
        }
    }
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
    let (dim, kv_dim, eps) = (c.dim, c.kv_dim(), c.rms_eps);
    // Where the engines' float products differ (fixtures README item 2; checked bit-exact
    // against bitnet.cpp's trace and mainline's logits).
    let (vec_dot, tiny_blas) = match m.isa {
        Isa::Avx2 => (DotOrder::GgmlVecDot, DotOrder::TinyBlas),
        Isa::Avx512 => (DotOrder::GgmlVecDotAvx512, DotOrder::TinyBlasAvx512),
    };
    let (kq_order, probs_f16, kqv_order, float_input) = match m.engine {
        Engine::BitnetCpp if pass.in_batch => (
            vec_dot,
            false,
            tiny_blas,
            FloatInput {
                convert: true,
                order: vec_dot,
            },
        ),
        Engine::BitnetCpp => (
            vec_dot,
            true,
            vec_dot,
            FloatInput {
                convert: true,
                order: vec_dot,
            },
        ),
        Engine::LlamaCpp if !pass.in_batch => (
            vec_dot,
            true,
            vec_dot,
            FloatInput {
                convert: true,
                order: vec_dot,
            },
        ),
        Engine::LlamaCpp => (
            tiny_blas,
            true,
            tiny_blas,
            FloatInput {
                convert: true,
                order: tiny_blas,
            },
        ),
    };
    let attn = AttnNumerics {
        kq_order,
        probs_f16,
        kqv_order,
        isa: m.isa,
    };

    m.weights.embed(file, token as usize, &mut s.x);
    rope_cache(pos, c.n_rot, m.theta_scale, &mut s.rope);
    let rope = if c.rope_neox { rope_neox } else { rope_norm };

    for (l, (w, n)) in m.weights.layers.iter().zip(&norms.layers).enumerate() {
        let probe = &mut s.probe.layers[l];

        // Attention: norm, q/k/v, rotary embedding, cache, scaled dot-product attention.
        let xb = &mut s.xb[..dim];
        rmsnorm(&s.x, &n.attn, eps, xb);
        probe.attn_norm = rms(xb);
        mv(
            float_input,
            &w.wq,
            file,
            xb,
            &mut s.q,
            &mut s.act,
            w.wq_scale,
        );
        mv(
            float_input,
            &w.wk,
            file,
            xb,
            &mut s.k,
            &mut s.act,
            w.wk_scale,
        );
        mv(
            float_input,
            &w.wv,
            file,
            xb,
            &mut s.v,
            &mut s.act,
            w.wv_scale,
        );
        rope(&mut s.q, c.head_dim, c.n_rot, &s.rope);
        rope(&mut s.k, c.head_dim, c.n_rot, &s.rope);
        let cache = &mut s.kv[l];
        for i in 0..kv_dim {
            cache.k[pos * kv_dim + i] = half::f16::from_f32(s.k[i]);
            cache.v[pos * kv_dim + i] = half::f16::from_f32(s.v[i]);
        }
        let q_dim = s.q.len();
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
        if c.sub_norms {
            rmsnorm_inplace(att_out, &n.attn_sub, eps);
            probe.attn_sub_norm = rms(att_out);
        }
        mv(
            float_input,
            &w.wo,
            file,
            att_out,
            &mut s.xb2,
            &mut s.act,
            w.wo_scale,
        );
        for (x, &a) in s.x.iter_mut().zip(&s.xb2) {
            *x += a;
        }
        probe.resid_attn = rms(&s.x);

        // Feed-forward: norm, gate and up, activation, (sub-norm), down.
        let xb = &mut s.xb[..dim];
        rmsnorm(&s.x, &n.ffn, eps, xb);
        probe.ffn_norm = rms(xb);
        mv(
            float_input,
            &w.w_gate,
            file,
            xb,
            &mut s.hb,
            &mut s.act,
            w.w_gate_scale,
        );
        mv(
            float_input,
            &w.w_up,
            file,
            xb,
            &mut s.hb2,
            &mut s.act,
            w.w_up_scale,
        );
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
        if c.sub_norms {
            rmsnorm_inplace(&mut s.hb, &n.ffn_sub, eps);
            probe.ffn_sub_norm = rms(&s.hb);
        }
        mv(
            float_input,
            &w.w_down,
            file,
            &s.hb,
            &mut s.xb2,
            &mut s.act,
            w.w_down_scale,
        );
        for (x, &a) in s.x.iter_mut().zip(&s.xb2) {
            *x += a;
        }
        probe.resid_ffn = rms(&s.x);
    }

    rmsnorm_inplace(&mut s.x, &norms.output, eps);
    s.probe.output_norm = rms(&s.x);
    if pass.logits {
        // The head sees x converted to the weight's vec_dot type (F16 for an F16 head): both
        // engines do when they produce one logits row, and mainline always does.
        matvec(
            &m.weights.output.matrix(file),
            &s.x,
            &mut s.act,
            float_input,
            &mut s.logits,
        );
    }
    debug_assert!(c.arch != Arch::Llama || !c.sub_norms);
    Ok(())
}
