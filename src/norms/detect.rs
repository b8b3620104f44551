//! Which tensors are norm gammas, and where they sit in the model.

/// True for a 1-D norm gamma: `blk.N.attn_norm.weight`, `attn_sub_norm`, `ffn_norm`,
/// `ffn_sub_norm`, `output_norm.weight`, and in general any 1-D tensor whose name ends in
/// `norm.weight`. Biases and anything with more than one dimension are not gammas.
pub fn is_layernorm_weight(name: &str, dims: &[u64]) -> bool {
    dims.len() == 1 && name.ends_with("norm.weight")
}

/// The block index of `blk.N.<...>`, or `None` for tensors outside the blocks (`output_norm`).
pub fn norm_layer(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("blk.")?;
    let (index, _) = rest.split_once('.')?;
    index.parse().ok()
}

/// What kind of norm this is: the name without `blk.N.` and `.weight`, e.g. `attn_sub_norm`.
pub fn norm_kind(name: &str) -> &str {
    let base = name.strip_suffix(".weight").unwrap_or(name);
    match norm_layer(base) {
        Some(_) => base
            .split_once('.')
            .and_then(|(_, r)| r.split_once('.'))
            .map_or(base, |(_, kind)| kind),
        None => base,
    }
}

/// Display order of the kinds within a layer: the order the forward pass uses them.
pub fn kind_rank(kind: &str) -> usize {
    const ORDER: [&str; 5] = [
        "attn_norm",
        "attn_sub_norm",
        "ffn_norm",
        "ffn_sub_norm",
        "output_norm",
    ];
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn detects_bitnet_norms() {
        for name in [
            "blk.0.attn_norm.weight",
            "blk.12.attn_sub_norm.weight",
            "blk.3.ffn_norm.weight",
            "blk.29.ffn_sub_norm.weight",
            "output_norm.weight",
            "enc.final_layernorm.weight",
        ] {
            assert!(is_layernorm_weight(name, &[2560]), "{name}");
        }
    }

    #[test]
    fn rejects_biases_matrices_and_others() {
        assert!(!is_layernorm_weight("blk.0.attn_norm.bias", &[2560]));
        assert!(!is_layernorm_weight("blk.0.attn_norm.weight", &[2560, 1]));
        assert!(!is_layernorm_weight("blk.0.attn_norm.weight", &[]));
        assert!(!is_layernorm_weight("blk.0.attn_q.weight", &[2560, 2560]));
        assert!(!is_layernorm_weight("token_embd.weight", &[2560]));
        assert!(!is_layernorm_weight("blk.0.attn_q.scale", &[1]));
    }

    #[test]
    fn layer_and_kind() {
        assert_eq!(norm_layer("blk.17.ffn_sub_norm.weight"), Some(17));
        assert_eq!(norm_layer("output_norm.weight"), None);
        assert_eq!(norm_layer("blk.x.attn_norm.weight"), None);
        assert_eq!(norm_kind("blk.17.ffn_sub_norm.weight"), "ffn_sub_norm");
        assert_eq!(norm_kind("output_norm.weight"), "output_norm");
        assert_eq!(norm_kind("blk.2.attn_norm.weight"), "attn_norm");
        assert!(kind_rank("attn_norm") < kind_rank("attn_sub_norm"));
        assert!(kind_rank("ffn_sub_norm") < kind_rank("something_norm"));
    }
}
