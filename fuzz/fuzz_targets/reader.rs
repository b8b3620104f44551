//! Any bytes: parse never panics; an accepted file's tensors lie inside it and their rows
//! convert (or fail with an error) without panicking.
#![no_main]

use bitlens::gguf::Gguf;
use bitlens::quant::dequant::can_dequantize;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::parse(data) else { return };
    for t in &g.tensors {
        assert!(t.data_end() <= data.len() as u64);
        assert_eq!(t.offset % g.alignment, 0);
        let bytes = g
            .tensor_data(data, t)
            .expect("an accepted tensor is inside the file");
        assert_eq!(bytes.len() as u64, t.n_bytes);
        if can_dequantize(t.ggml_type) && t.n_elements <= 1 << 16 {
            let _ = g.tensor_rows_f32(data, &t.name, 0..t.n_rows() as usize);
        }
    }
    // The same bytes seen as the first part of a longer file parse to the same header (only
    // the extents inferred for size-less fork types may grow).
    let h = Gguf::parse_prefix(data, data.len() as u64 + 1000).expect("a longer file is fine too");
    let keys = |g: &Gguf| g.metadata.iter().map(|e| e.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&h), keys(&g));
    assert_eq!(format!("{:?}", h.metadata), format!("{:?}", g.metadata));
    let names = |g: &Gguf| g.tensors.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&h), names(&g));
});
