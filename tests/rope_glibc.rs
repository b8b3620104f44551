//! The native `cosf`/`sinf` values (glibc's on Linux, as the reference engines use) for the RoPE
//! angles the Chromium test compares wasm's libm against: positions 0..512, 64 rotary dims,
//! bases 500000 and 10000. `BITLENS_WRITE_ROPE=1 cargo test --test rope_glibc` rewrites the file.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod common;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn table() -> Vec<u8> {
    use bitlens::kernels::rope::{rope_cache, theta_scale};
    let mut out = Vec::new();
    let mut cs = vec![(0f32, 0f32); 32];
    for base in [500000.0f32, 10000.0] {
        let ts = theta_scale(base, 64);
        for pos in 0..512 {
            rope_cache(pos, 64, ts, &mut cs);
            for &(c, s) in &cs {
                out.extend_from_slice(&c.to_le_bytes());
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
    }
    out
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn table_is_this_platforms_libm() {
    let path = common::fixture("data/rope_glibc_cos_sin.bin");
    let t = table();
    if std::env::var_os("BITLENS_WRITE_ROPE").is_some() {
        std::fs::write(&path, &t).unwrap();
    }
    assert_eq!(std::fs::read(&path).unwrap(), t);
}
