//! Row-parallel matrix-vector products: a product's rows are independent (each output is its
//! own row's dot product with the shared activation), so splitting them across threads gives
//! the same bits for any thread count.
//!
//! One mechanism natively and in the browser: rayon's global pool. Natively rayon starts it
//! on first use (one thread per core, or `RAYON_NUM_THREADS`); in the threaded wasm build
//! (`+atomics`) wasm-bindgen-rayon's `initThreadPool(n)` starts it on Web Workers sharing the
//! module's memory, before the first product. The one-thread wasm builds have no pool and
//! run every product on the calling thread.
//!
//! A product asking for `threads` threads is cut into a few chunks per thread, and the
//! calling thread and `threads - 1` tasks on the pool take chunks until none is left: the
//! caller starts at once (handing the whole product to the pool would cost a second wake-up per
//! product), and a task that starts late (on a busy machine a pool thread may not get a core for
//! milliseconds) finds no chunk left and ends. A forward pass runs on a pool thread
//! (`on_pool`), so a pool of `n` threads serves runs of up to `n` threads; at most the pool's
//! size of tasks run at once.

/// By default a product of fewer weights runs on the calling thread: waking a helper and
/// handing out chunks costs tens of microseconds, more than such a product gains on a busy
/// machine (measured on SmolLM2-135M, whose 576 x 1536 products are just below it).
pub const MIN_PARALLEL_WEIGHTS: usize = 1 << 20;

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
use {super::team::Team, std::ops::Range};

/// Chunks per thread (more balance the work when some thread gets less CPU time).
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
const CHUNKS_PER_THREAD: usize = 8;

/// Runs `f` on one of the pool's threads when `threads > 1` (else here), so that the products
/// inside it are split from a pool thread: the pool threads stay awake between the products of
/// a forward pass (rayon spins a while before a thread sleeps) and one that has finished its
/// chunks waits for the others by stealing and spinning. Split from a thread outside the pool,
/// each product would wake a sleeping helper and then sleep on a lock until it ends: two
/// wake-ups per product, 210 products per 2B-4T token. The calling thread blocks meanwhile, so
/// the pool needs as many threads as a run may ask for.
pub fn on_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    if threads > 1 && rayon::current_thread_index().is_none() {
        let team = Team::new(threads);
        return rayon::scope(|s| team.own(s, f));
    }
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    let _ = threads;
    f()
}

/// Runs `f(rows_data, rows_out)` over contiguous runs of rows on up to `threads` threads (the
/// calling thread included).
/// `data` holds `out.len()` rows of equal size.
pub fn split_rows<F>(threads: usize, data: &[u8], out: &mut [f32], f: F)
where
    F: Fn(&[u8], &mut [f32]) + Sync,
{
    split_rows_by(threads, data, 1, out, f)
}

/// `split_rows` where each row has `per_row` outputs (a batch of columns, row after row):
/// `data` holds `out.len() / per_row` rows of equal size.
pub fn split_rows_by<F>(threads: usize, data: &[u8], per_row: usize, out: &mut [f32], f: F)
where
    F: Fn(&[u8], &mut [f32]) + Sync,
{
    assert!(per_row > 0 && out.len().is_multiple_of(per_row));
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    if threads > 1 && out.len() > per_row {
        return split(threads, data, per_row, out, &f);
    }
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    let _ = threads;
    f(data, out)
}

/// `split_rows_by` on rayon's pool: chunk c is rows `c·per..` of `out` and of `data`.
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
fn split<F>(threads: usize, data: &[u8], per_row: usize, out: &mut [f32], f: &F)
where
    F: Fn(&[u8], &mut [f32]) + Sync,
{
    let rows = out.len() / per_row;
    assert_eq!(data.len() % rows, 0, "rows of equal size");
    let row_bytes = data.len() / rows;
    // Each chunk writes its own rows: disjoint parts of `out`, shared as a raw address.
    let out_at = out.as_mut_ptr() as usize;
    run_chunks(threads, rows, &|r: Range<usize>, _| {
        // SAFETY: a chunk's rows r belong to it alone, and `out` outlives `run_chunks`, which
        // returns only when every chunk has ended.
        let o = unsafe {
            std::slice::from_raw_parts_mut(
                (out_at as *mut f32).add(r.start * per_row),
                r.len() * per_row,
            )
        };
        f(&data[r.start * row_bytes..r.end * row_bytes], o);
    });
}

/// Runs `f(i, out_i, scratch_part)` for every item `i < out.len() / per_item`, where `out_i` is
/// `out[i·per_item..][..per_item]`, on up to `threads` threads (the calling thread included),
/// each with a part of `scratch` of its own (`scratch.len() / threads` values; items on the
/// same thread share it one after the other). Each item's result depends on the item alone,
/// so it is the same for any thread count.
pub fn for_each_item<T, S, F>(
    threads: usize,
    out: &mut [T],
    per_item: usize,
    scratch: &mut [S],
    f: F,
) where
    T: Send,
    S: Send,
    F: Fn(usize, &mut [T], &mut [S]) + Sync,
{
    assert!(per_item > 0 && out.len().is_multiple_of(per_item) && threads > 0);
    let part = scratch.len() / threads;
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    if threads > 1 && out.len() > per_item {
        let (out_at, scratch_at) = (out.as_mut_ptr() as usize, scratch.as_mut_ptr() as usize);
        return run_chunks(threads, out.len() / per_item, &|r: Range<usize>, worker| {
            // SAFETY: worker indices are below `threads` and each is one task's alone, so the
            // scratch parts are disjoint and each used by one thread; a chunk's items r belong
            // to it alone; both slices outlive `run_chunks`.
            let s = unsafe {
                std::slice::from_raw_parts_mut((scratch_at as *mut S).add(worker * part), part)
            };
            for i in r {
                let o = unsafe {
                    std::slice::from_raw_parts_mut((out_at as *mut T).add(i * per_item), per_item)
                };
                f(i, o, s);
            }
        });
    }
    for (i, o) in out.chunks_exact_mut(per_item).enumerate() {
        f(i, o, &mut scratch[..part]);
    }
}

/// Runs `f(items, worker)` over chunks of `0..items` (a few per thread) on up to `threads`
/// threads: the caller (worker 0) and `threads - 1` tasks on the pool (workers 1..) take chunks
/// until none is left.
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
fn run_chunks<F>(threads: usize, items: usize, f: &F)
where
    F: Fn(Range<usize>, usize) + Sync,
{
    use std::sync::atomic::{AtomicUsize, Ordering};

    if let Some(team) = Team::current().filter(|t| t.size <= threads) {
        return team.split(items, CHUNKS_PER_THREAD, f);
    }
    let per = items.div_ceil(threads * CHUNKS_PER_THREAD);
    let chunks = items.div_ceil(per);
    let next = AtomicUsize::new(0);
    let take_chunks = |worker: usize| loop {
        let c = next.fetch_add(1, Ordering::Relaxed);
        if c >= chunks {
            return;
        }
        f(c * per..((c + 1) * per).min(items), worker);
    };
    // A chunk's panic reaches the caller.
    rayon::in_place_scope(|s| {
        let take_chunks = &take_chunks;
        for worker in 1..threads.min(chunks) {
            s.spawn(move |_| take_chunks(worker));
        }
        take_chunks(0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_row_once_in_order() {
        // 300 rows of 3 bytes (row r holds r % 256 in its first byte).
        let rows = 300;
        let data: Vec<u8> = (0..rows).flat_map(|r| [r as u8, 0, 0]).collect();
        for threads in [1, 2, 4, 7, 1000] {
            let mut out = vec![-1f32; rows];
            split_rows(threads, &data, &mut out, |d, o| {
                assert_eq!(d.len(), 3 * o.len());
                for (v, row) in o.iter_mut().zip(d.chunks_exact(3)) {
                    *v = row[0] as f32;
                }
            });
            let want: Vec<f32> = (0..rows).map(|r| (r % 256) as f32).collect();
            assert_eq!(out, want, "{threads} threads");
        }
    }

    #[test]
    fn every_item_once_with_its_own_scratch() {
        // 301 items of 2 outputs; each item fills its scratch part with its index, then checks
        // no other thread wrote there before it reads it back.
        for threads in [1, 2, 3, 8] {
            let mut out = vec![0u32; 2 * 301];
            let mut scratch = vec![0u32; 5 * threads + 2];
            for_each_item(threads, &mut out, 2, &mut scratch, |i, o, s| {
                assert_eq!((o.len(), s.len()), (2, 5 + 2 / threads));
                s.fill(i as u32);
                let mut spin = 0u32;
                for _ in 0..1000 {
                    spin = std::hint::black_box(spin.wrapping_add(1));
                }
                assert!(s.iter().all(|&v| v == i as u32), "scratch shared");
                o.copy_from_slice(&[i as u32, spin]);
            });
            let want: Vec<u32> = (0..301).flat_map(|i| [i, 1000]).collect();
            assert_eq!(out, want, "{threads} threads");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn callers_on_several_threads_and_panics() {
        // Four threads using the pool at once, each with its own product.
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    let data: Vec<u8> = (0..1000u32).map(|r| (r * 7 + t) as u8).collect();
                    for _ in 0..50 {
                        let mut out = vec![0f32; 1000];
                        split_rows(3, &data, &mut out, |d, o| {
                            for (v, &b) in o.iter_mut().zip(d) {
                                *v = b as f32;
                            }
                        });
                        assert!(out.iter().zip(&data).all(|(&v, &b)| v == b as f32));
                    }
                });
            }
        });
        // A panicking chunk reaches the caller, and the pool keeps working.
        let data = vec![0u8; 100];
        let r = std::panic::catch_unwind(|| {
            split_rows(2, &data, &mut [0f32; 100], |_, o| {
                assert!(o.len() > 100, "chunk panic");
            })
        });
        assert!(r.is_err());
        let mut out = [1f32; 100];
        split_rows(2, &data, &mut out, |_, o| o.fill(2.0));
        assert_eq!(out, [2.0; 100]);
    }
}
