//! Whether the experimental gamma rescale is applied: off unless asked for, refused in strict mode.
//!
//! Natively the environment decides (`BITNET_RESCALE_GAMMA_ON_LOAD=1`, `BITNET_STRICT_MODE=1`,
//! each exactly "1"); in the browser the loader options do (`?rescale=1`, `?strict=1`).

use serde::Serialize;

pub const ENV_RESCALE: &str = "BITNET_RESCALE_GAMMA_ON_LOAD";
pub const ENV_STRICT: &str = "BITNET_STRICT_MODE";

pub const STRICT_REFUSAL: &str =
    "gamma rescale refused: strict mode forbids load-time changes to the weights; \
     the norms are used as stored";

/// What was asked for, by whom, and what was noticed while reading the request.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RescalePolicy {
    /// The rescale was asked for.
    pub rescale: bool,
    /// Strict mode: no load-time changes to weights.
    pub strict: bool,
    /// Where the request came from, e.g. `BITNET_RESCALE_GAMMA_ON_LOAD=1` or `loader option`.
    pub source: String,
    /// Remarks such as a variable set to something other than "1".
    pub notes: Vec<String>,
}

/// What the policy does to the norms of a load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RescaleOutcome {
    /// Not asked for: gammas as stored, no records.
    Off,
    /// Asked for and allowed: norms multiplied by sqrt(n), one record per tensor.
    Applied,
    /// Asked for, but strict mode is on: gammas as stored, and this says why.
    RefusedByStrict { reason: String },
}

impl RescaleOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            RescaleOutcome::Off => "off",
            RescaleOutcome::Applied => "applied",
            RescaleOutcome::RefusedByStrict { .. } => "refused by strict mode",
        }
    }
}

impl RescalePolicy {
    /// An explicit choice (the browser's loader options, tests).
    pub fn new(rescale: bool, strict: bool) -> RescalePolicy {
        RescalePolicy {
            rescale,
            strict,
            source: "loader option".into(),
            notes: Vec::new(),
        }
    }

    /// The native policy from `BITNET_RESCALE_GAMMA_ON_LOAD` and `BITNET_STRICT_MODE`. Logs the
    /// decision once.
    pub fn from_env() -> RescalePolicy {
        let p = RescalePolicy::from_vars(|k| std::env::var(k).ok());
        p.log_decision();
        p
    }

    /// The policy from any variable lookup (`from_env` uses the process environment).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> RescalePolicy {
        let mut notes = Vec::new();
        let rescale = exactly_one(ENV_RESCALE, get(ENV_RESCALE), "the rescale", &mut notes);
        let strict = exactly_one(ENV_STRICT, get(ENV_STRICT), "strict mode", &mut notes);
        RescalePolicy {
            rescale,
            strict,
            source: format!("{ENV_RESCALE}=1"),
            notes,
        }
    }

    pub fn outcome(&self) -> RescaleOutcome {
        match (self.rescale, self.strict) {
            (false, _) => RescaleOutcome::Off,
            (true, false) => RescaleOutcome::Applied,
            (true, true) => RescaleOutcome::RefusedByStrict {
                reason: STRICT_REFUSAL.into(),
            },
        }
    }

    /// True when norms are to be rescaled.
    pub fn applies(&self) -> bool {
        self.outcome() == RescaleOutcome::Applied
    }

    /// Logs the notes and, if the rescale was refused, why.
    pub fn log_decision(&self) {
        for n in &self.notes {
            log::warn!("{n}");
        }
        match self.outcome() {
            RescaleOutcome::Off => {}
            RescaleOutcome::Applied => log::warn!(
                "EXPERIMENTAL: norm gammas will be rescaled by sqrt(n) on load ({})",
                self.source
            ),
            RescaleOutcome::RefusedByStrict { reason } => log::warn!("{reason}"),
        }
    }
}

/// A switch is on only for the exact value "1"; anything else leaves it off, with a note.
fn exactly_one(var: &str, value: Option<String>, what: &str, notes: &mut Vec<String>) -> bool {
    match value.as_deref() {
        None | Some("") => false,
        Some("1") => true,
        Some(other) => {
            notes.push(format!(
                "{var}={other:?} is not \"1\": {what} stays off (only the exact value 1 turns it on)"
            ));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn off_without_variables() {
        let p = RescalePolicy::from_vars(vars(&[]));
        assert_eq!(p.outcome(), RescaleOutcome::Off);
        assert!(p.notes.is_empty());
    }

    #[test]
    fn only_exact_one_turns_it_on() {
        let p = RescalePolicy::from_vars(vars(&[(ENV_RESCALE, "1")]));
        assert_eq!(p.outcome(), RescaleOutcome::Applied);
        for v in ["true", "yes", "01", " 1", "2", "0"] {
            let p = RescalePolicy::from_vars(vars(&[(ENV_RESCALE, v)]));
            assert_eq!(p.outcome(), RescaleOutcome::Off, "{v}");
            assert_eq!(
                p.notes,
                vec![format!(
                    "BITNET_RESCALE_GAMMA_ON_LOAD={v:?} is not \"1\": the rescale stays off \
                     (only the exact value 1 turns it on)"
                )]
            );
        }
    }

    #[test]
    fn strict_refuses_with_reason() {
        let p = RescalePolicy::from_vars(vars(&[(ENV_RESCALE, "1"), (ENV_STRICT, "1")]));
        assert_eq!(
            p.outcome(),
            RescaleOutcome::RefusedByStrict {
                reason: STRICT_REFUSAL.into()
            }
        );
        assert!(!p.applies());
        assert_eq!(p.outcome().label(), "refused by strict mode");
        let p = RescalePolicy::new(false, true);
        assert_eq!(p.outcome(), RescaleOutcome::Off);
    }
}
