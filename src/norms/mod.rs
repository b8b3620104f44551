//! Norm gammas: which tensors they are, their statistics, and the experimental gamma rescale.
//!
//! Background: the official BitNet b1.58 2B-4T GGUF stores `attn_norm` gammas with an RMS near
//! 1/sqrt(2560). One port guessed that the reference engine multiplies gammas by sqrt(n) on load
//! and added an opt-in switch to try it (bitnet.cpp in fact uses the stored gammas verbatim).
//! This module measures the gammas of any file and implements that switch as an explicit,
//! recorded, off-by-default correction so both choices can be compared:
//!
//! - [`detect`]: `is_layernorm_weight`, layer and kind of a norm tensor.
//! - [`values`]: a norm tensor's values as f32, from F32/F16/BF16 (quantized norms are flagged).
//! - [`stats`]: per-tensor statistics and the report grouped by layer and kind.
//! - [`policy`]: whether the rescale is asked for (`BITNET_RESCALE_GAMMA_ON_LOAD`, strict mode).
//! - [`rescale`]: the ordered load-time correction pipeline, the rescale step, records, logs;
//!   `load_norm` is what the model calls for each norm vector.
//! - [`export`]: a corrected GGUF, streamed from slices of the original file.

pub mod detect;
pub mod error;
pub mod export;
pub mod policy;
pub mod rescale;
pub mod stats;
pub mod values;

pub use detect::{is_layernorm_weight, norm_kind, norm_layer};
pub use error::NormError;
pub use export::{
    plan_export, plan_export_from, write_export, write_export_from, ExportPlan, ExportSegment,
    SegmentSource,
};
pub use policy::{RescaleOutcome, RescalePolicy, ENV_RESCALE, ENV_STRICT};
pub use rescale::{
    correct_norm, load_norm, load_norm_with, rescale_factor, CorrectionPipeline, CorrectionRecord,
    GammaRescale, LoadCorrection,
};
pub use stats::{norm_report, norm_report_from, NormReport, NormStats};
pub use values::{decode_norm, norm_values};
