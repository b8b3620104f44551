//! Scoring the prompt: how well a mode predicts the text it was given. For every prompt token
//! after the first, the negative log-likelihood the model assigned to it from the tokens before;
//! their mean and its exponential, the perplexity. Sampling cannot tell baseline from rescaled
//! gammas on one short run; the prompt's perplexity under each mode is a number that can.

use serde::Serialize;

/// `-ln softmax(logits)[target]` in f64 (log-sum-exp around the maximum, so no overflow).
/// NaN when the logits are not finite, which the page shows as it is.
pub fn nll(logits: &[f32], target: u32) -> f64 {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &l| m.max(l)) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    let Some(&l) = logits.get(target as usize) else {
        return f64::NAN;
    };
    max + sum.ln() - l as f64
}

/// The prompt's per-token negative log-likelihoods (nats), in prompt order from its second
/// token.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PromptScore {
    pub nll: Vec<f64>,
}

impl PromptScore {
    pub fn push(&mut self, logits: &[f32], target: u32) {
        self.nll.push(nll(logits, target));
    }

    pub fn tokens(&self) -> usize {
        self.nll.len()
    }

    /// Mean negative log-likelihood per token in nats; None with nothing scored.
    pub fn mean_nll(&self) -> Option<f64> {
        (!self.nll.is_empty()).then(|| self.nll.iter().sum::<f64>() / self.nll.len() as f64)
    }

    pub fn perplexity(&self) -> Option<f64> {
        self.mean_nll().map(f64::exp)
    }

    /// `{tokens, meanNll, perplexity, nll}` for JSON (None when nothing was scored).
    pub fn summary(&self) -> Option<ScoreSummary> {
        Some(ScoreSummary {
            tokens: self.tokens(),
            mean_nll: self.mean_nll()?,
            perplexity: self.perplexity()?,
            nll: self.nll.clone(),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreSummary {
    pub tokens: usize,
    pub mean_nll: f64,
    pub perplexity: f64,
    pub nll: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn nll_is_minus_log_softmax() {
        // Uniform over 4: ln 4 each.
        assert!((nll(&[0.5; 4], 2) - 4f64.ln()).abs() < 1e-12);
        // softmax([0, ln 3]) = (1/4, 3/4).
        let l = [0.0, 3f32.ln()];
        assert!((nll(&l, 0) - 4f64.ln()).abs() < 1e-7);
        assert!((nll(&l, 1) - (4.0f64 / 3.0).ln()).abs() < 1e-7);
        // Large logits do not overflow.
        assert!((nll(&[1000.0, 1000.0], 1) - 2f64.ln()).abs() < 1e-12);
        assert!(nll(&[0.0, 1.0], 5).is_nan());
    }

    #[test]
    fn perplexity_is_exp_mean_nll() {
        let mut s = PromptScore::default();
        assert_eq!(s.summary(), None);
        s.push(&[0.0; 8], 1); // ln 8
        s.push(&[0.0, 0.0], 0); // ln 2
        assert_eq!(s.tokens(), 2);
        let mean = (8f64.ln() + 2f64.ln()) / 2.0;
        assert!((s.mean_nll().unwrap() - mean).abs() < 1e-12);
        assert!((s.perplexity().unwrap() - 4.0).abs() < 1e-12);
    }
}
