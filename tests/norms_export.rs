//! The corrected GGUF: a round trip through the reader, byte identity of untouched tensors,
//! F16/BF16/Q8_0 norms becoming F32, metadata, no double rescale, and the shared fixtures.

#[path = "common/paths.rs"]
mod paths;
#[path = "common/synth.rs"]
mod synth;

use bitlens::gguf::{Gguf, Value};
use bitlens::norms::export::{
    KEY_FACTORS, KEY_RMS_AFTER, KEY_RMS_BEFORE, KEY_RULE, KEY_TENSORS, RULE,
};
use bitlens::norms::{
    norm_report, plan_export, rescale_factor, write_export, write_export_from, RescaleOutcome,
    RescalePolicy, SegmentSource,
};
use half::f16;
use synth::*;

fn export(bytes: &[u8], policy: &RescalePolicy) -> Vec<u8> {
    let g = Gguf::parse(bytes).unwrap();
    let plan = plan_export(&g, bytes, policy).unwrap();
    let mut out = Vec::new();
    let n = write_export(&mut out, bytes, &plan).unwrap();
    assert_eq!(n, out.len() as u64);
    // The segments + header the browser uses describe the same bytes.
    let (lay, segments) = plan.layout();
    let mut again = lay.header.clone();
    for s in &segments {
        again.extend(std::iter::repeat_n(0u8, s.pad as usize));
        again.extend_from_slice(plan.bytes(bytes, &s.source));
    }
    assert_eq!(again, out);
    assert_eq!(lay.total_len, out.len() as u64);
    // Streaming from a reader (the native CLI) writes the same bytes.
    let mut streamed = Vec::new();
    write_export_from(&mut streamed, &mut std::io::Cursor::new(bytes), &plan).unwrap();
    assert_eq!(streamed, out);
    out
}

/// A Q8_0 block: d = 0.5, q = -16..16.
fn q8_0_norm() -> (Vec<u8>, Vec<f32>) {
    let mut b = f16::from_f32(0.5).to_le_bytes().to_vec();
    b.extend((0..32).map(|i| (i - 16) as i8 as u8));
    (b, (0..32).map(|i| 0.5 * (i - 16) as f32).collect())
}

fn mixed_file() -> (Vec<u8>, Vec<f32>, Vec<f32>) {
    let a = gamma_with_rms(2560, 0.018, 1);
    let f = gamma_with_rms(6912, 0.012, 2);
    let (q8, _) = q8_0_norm();
    let bytes = file(vec![
        raw(
            "token_embd.weight",
            &[8, 4],
            1,
            (0..64).map(|i| i as u8).collect(),
        ),
        norm("blk.0.attn_norm.weight", Store::F16, &a),
        raw(
            "blk.0.attn_q.weight",
            &[256, 2],
            35,
            (0..132).map(|i| (i * 7) as u8).collect(),
        ),
        norm("blk.0.ffn_sub_norm.weight", Store::BF16, &f),
        raw("blk.0.ffn_norm.weight", &[32], 8, q8),
        norm("output_norm.weight", Store::F32, &[1.0; 100]),
        raw("blk.0.attn_norm.bias", &[3], 0, vec![1; 12]),
    ]);
    (bytes, Store::F16.round_trip(&a), Store::BF16.round_trip(&f))
}

fn f32s(g: &Gguf, file: &[u8], name: &str) -> Vec<f32> {
    let t = g.tensor(name).unwrap();
    assert_eq!(t.type_id, 0, "{name} is F32");
    g.tensor_data(file, t)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn rescaled_export_round_trip() {
    let (input, attn, ffn_sub) = mixed_file();
    let out = export(&input, &RescalePolicy::new(true, false));
    let (gi, go) = (Gguf::parse(&input).unwrap(), Gguf::parse(&out).unwrap());
    assert!(go.notes.is_empty(), "{:?}", go.notes);
    // Untouched tensors: same type, same bytes.
    for name in [
        "token_embd.weight",
        "blk.0.attn_q.weight",
        "blk.0.attn_norm.bias",
    ] {
        let (ti, to) = (gi.tensor(name).unwrap(), go.tensor(name).unwrap());
        assert_eq!((ti.type_id, &ti.dims), (to.type_id, &to.dims), "{name}");
        assert_eq!(
            gi.tensor_data(&input, ti),
            go.tensor_data(&out, to),
            "{name}"
        );
    }
    // F16 and BF16 norms are now F32 (half the bytes more) holding gamma * sqrt(n).
    let a = f32s(&go, &out, "blk.0.attn_norm.weight");
    let fs = f32s(&go, &out, "blk.0.ffn_sub_norm.weight");
    for (x, g) in a.iter().zip(&attn) {
        assert_eq!(*x, (*g as f64 * rescale_factor(2560)) as f32);
    }
    for (x, g) in fs.iter().zip(&ffn_sub) {
        assert_eq!(*x, (*g as f64 * rescale_factor(6912)) as f32);
    }
    assert_eq!(
        go.tensor("blk.0.ffn_sub_norm.weight").unwrap().n_bytes,
        6912 * 4
    );
    // The Q8_0 norm is dequantized, rescaled and written F32.
    let q = f32s(&go, &out, "blk.0.ffn_norm.weight");
    let (_, q_values) = q8_0_norm();
    assert_eq!(q[0], (q_values[0] as f64 * rescale_factor(32)) as f32);
    // Statistics of the export: RMS multiplied by sqrt(n).
    let (ri, ro) = (norm_report(&gi, &input), norm_report(&go, &out));
    for s in ri.all() {
        let after = ro.get(&s.name).unwrap();
        let want = s.moments.rms * rescale_factor(s.moments.n);
        assert!(
            ((after.moments.rms - want) / want).abs() < 1e-7,
            "{}",
            s.name
        );
    }
    assert_eq!(ri.n_prescaled, 2);
    assert_eq!(ro.n_prescaled, 0);
    assert!(ri.get("blk.0.ffn_norm.weight").unwrap().quantized);
    assert!(!ro.get("blk.0.ffn_norm.weight").unwrap().quantized);
    // Metadata: the rule, and per tensor name, factor, RMS before and after.
    assert_eq!(go.get_str(KEY_RULE), Some(RULE));
    let names = go.get_array(KEY_TENSORS).unwrap().as_strings().unwrap();
    assert_eq!(
        names,
        [
            "blk.0.attn_norm.weight",
            "blk.0.ffn_sub_norm.weight",
            "blk.0.ffn_norm.weight",
            "output_norm.weight"
        ]
    );
    let factors = go.get_array(KEY_FACTORS).unwrap().as_f32s().unwrap();
    assert_eq!(
        factors,
        [2560f32.sqrt(), 6912f32.sqrt(), 32f32.sqrt(), 10.0]
    );
    let before = go.get_array(KEY_RMS_BEFORE).unwrap().as_f32s().unwrap();
    let after = go.get_array(KEY_RMS_AFTER).unwrap().as_f32s().unwrap();
    assert_eq!(before[3], 1.0);
    assert_eq!(after[3], 10.0);
    assert_eq!(go.get_str("general.architecture"), Some("bitnet-b1.58"));
}

#[test]
fn reexport_does_not_rescale_twice() {
    let (input, _, _) = mixed_file();
    let policy = RescalePolicy::new(true, false);
    let once = export(&input, &policy);
    let g1 = Gguf::parse(&once).unwrap();
    let plan = plan_export(&g1, &once, &policy).unwrap();
    assert!(plan.records.is_empty());
    assert!(plan
        .sources
        .iter()
        .all(|s| matches!(s, SegmentSource::Original { .. })));
    let twice = export(&once, &policy);
    assert_eq!(twice, once);
}

#[test]
fn export_with_rescale_off_or_refused_keeps_tensor_data() {
    let (input, _, _) = mixed_file();
    let gi = Gguf::parse(&input).unwrap();
    for policy in [
        RescalePolicy::new(false, false),
        RescalePolicy::new(true, true),
    ] {
        let plan = plan_export(&gi, &input, &policy).unwrap();
        assert!(plan.records.is_empty());
        assert!(plan.corrected.is_empty());
        let out = export(&input, &policy);
        let go = Gguf::parse(&out).unwrap();
        assert_eq!(go.tensors.len(), gi.tensors.len());
        for (ti, to) in gi.tensors.iter().zip(&go.tensors) {
            assert_eq!((&ti.name, ti.type_id), (&to.name, to.type_id));
            assert_eq!(gi.tensor_data(&input, ti), go.tensor_data(&out, to));
        }
        assert!(go.get(KEY_TENSORS).is_none());
        // Written by the same writer, the whole file comes back identical.
        assert_eq!(out, input);
    }
    let refused = plan_export(&gi, &input, &RescalePolicy::new(true, true)).unwrap();
    assert!(matches!(
        refused.outcome,
        RescaleOutcome::RefusedByStrict { .. }
    ));
}

#[test]
fn fixture_exports() {
    for path in [
        "fixtures/bitnet-b158-tiny-i2_s.gguf",
        "fixtures/bitnet-tiny-tq2_0.gguf",
    ] {
        let input = paths::read_fixture(path);
        let gi = Gguf::parse(&input).unwrap();
        // Off: tensor data identical (and here the whole file, written by ggml's rules).
        let off = export(&input, &RescalePolicy::new(false, false));
        assert_eq!(off, input, "{path}");
        // On: the 9 norms rescaled, every other tensor byte-identical.
        let on = export(&input, &RescalePolicy::new(true, false));
        let go = Gguf::parse(&on).unwrap();
        let names = go.get_array(KEY_TENSORS).unwrap().as_strings().unwrap();
        assert_eq!(names.len(), 9, "{path}");
        for ti in &gi.tensors {
            let to = go.tensor(&ti.name).unwrap();
            if names.contains(&ti.name) {
                let n = ti.dims[0];
                let (a, b) = (norm_report(&gi, &input), norm_report(&go, &on));
                let (ra, rb) = (a.get(&ti.name).unwrap(), b.get(&ti.name).unwrap());
                let want = ra.moments.rms * (n as f64).sqrt();
                assert!(((rb.moments.rms - want) / want).abs() < 1e-7);
            } else {
                assert_eq!(
                    gi.tensor_data(&input, ti),
                    go.tensor_data(&on, to),
                    "{}",
                    ti.name
                );
            }
        }
        assert!(matches!(go.get(KEY_FACTORS), Some(Value::Array(_))));
    }
}

#[test]
fn streamed_export_reports_a_short_input() {
    let (input, _, _) = mixed_file();
    let g = Gguf::parse(&input).unwrap();
    let plan = plan_export(&g, &input, &RescalePolicy::new(false, false)).unwrap();
    let cut = &input[..input.len() - 5];
    let e = write_export_from(&mut Vec::new(), &mut std::io::Cursor::new(cut), &plan).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tensor 'blk.0.attn_norm.bias': the input ended after 7 of its 12 bytes"
    );
}
