//! Row-parallel matrix-vector products: a product's rows are independent (each output is its
//! own row's dot product with the shared activation), so splitting them across threads gives
//! the same bits for any thread count. Natively only; wasm32 runs single-threaded.

/// Below this many weights a product runs on the calling thread (starting a thread costs tens
/// of microseconds, about a 256 x 256 product).
pub const MIN_PARALLEL_WEIGHTS: usize = 1 << 16;

/// Runs `f(rows_data, rows_out)` over contiguous runs of rows on up to `threads` threads (the
/// calling thread takes the first run). `data` holds `out.len()` rows of equal size.
pub fn split_rows<F>(threads: usize, data: &[u8], cols: usize, out: &mut [f32], f: F)
where
    F: Fn(&[u8], &mut [f32]) + Sync,
{
    #[cfg(not(target_arch = "wasm32"))]
    if threads > 1 && out.len() > 1 && out.len() * cols >= MIN_PARALLEL_WEIGHTS {
        return on_threads(threads.min(out.len()), data, out, &f);
    }
    #[cfg(target_arch = "wasm32")]
    let _ = (threads, cols);
    f(data, out)
}

#[cfg(not(target_arch = "wasm32"))]
fn on_threads<F>(n: usize, data: &[u8], out: &mut [f32], f: &F)
where
    F: Fn(&[u8], &mut [f32]) + Sync,
{
    let rows = out.len();
    assert_eq!(data.len() % rows, 0, "rows of equal size");
    let per = rows.div_ceil(n);
    let run_bytes = per * (data.len() / rows);
    std::thread::scope(|scope| {
        let mut runs = out.chunks_mut(per).zip(data.chunks(run_bytes));
        let first = runs.next();
        for (o, d) in runs {
            scope.spawn(move || f(d, o));
        }
        if let Some((o, d)) = first {
            f(d, o);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_row_once_in_order() {
        // 300 rows of 3 bytes (row r holds r % 256 in its first byte); 4 threads, 75 rows each.
        let rows = 300;
        let data: Vec<u8> = (0..rows).flat_map(|r| [r as u8, 0, 0]).collect();
        for threads in [1, 2, 4, 7, 1000] {
            let mut out = vec![-1f32; rows];
            split_rows(threads, &data, 1 << 10, &mut out, |d, o| {
                assert_eq!(d.len(), 3 * o.len());
                for (v, row) in o.iter_mut().zip(d.chunks_exact(3)) {
                    *v = row[0] as f32;
                }
            });
            let want: Vec<f32> = (0..rows).map(|r| (r % 256) as f32).collect();
            assert_eq!(out, want, "{threads} threads");
        }
    }
}
