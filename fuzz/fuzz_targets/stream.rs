//! The streaming parser, fed the input in chunks whose sizes come from the input itself, ends
//! with exactly what parsing the whole buffer gives.
#![no_main]

use bitlens::gguf::{Gguf, HeaderStream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&step, data)) = input.split_first() else {
        return;
    };
    let step = step as usize + 1;
    let mut s = HeaderStream::new(data.len() as u64);
    let mut loaded = 0;
    loop {
        if s.poll(&data[..loaded]).is_some() {
            break;
        }
        assert!(loaded < data.len(), "no result once the whole file is in");
        loaded = (loaded + step).min(data.len());
    }
    let streamed = s.take().unwrap();
    assert_eq!(fingerprint(&streamed), fingerprint(&Gguf::parse(data)));
});

/// Equality that holds for NaN metadata values too (`Gguf: PartialEq` follows f32's NaN != NaN).
fn fingerprint(r: &Result<Gguf, bitlens::gguf::GgufError>) -> String {
    match r {
        Ok(g) => format!(
            "{:?} {:?} {} {} {:?}",
            g.metadata, g.tensors, g.data_offset, g.header_len, g.notes
        ),
        Err(e) => format!("{e:?}"),
    }
}
