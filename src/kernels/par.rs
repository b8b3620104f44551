//! Row-parallel matrix-vector products: a product's rows are independent (each output is its
//! own row's dot product with the shared activation), so splitting them across threads gives
//! the same bits for any thread count. Natively only; wasm32 runs single-threaded.
//!
//! The rows are cut into a few chunks per thread, and the threads take chunks until none is
//! left: the calling thread works too, and never waits for a helper that has not started (on a
//! busy machine a helper may not get a core for milliseconds; it then finds no chunk left and
//! goes back to sleep). The helpers live in one process-wide pool, started on first use.

/// By default a product of fewer weights runs on the calling thread: waking a helper and
/// handing out chunks costs tens of microseconds, more than such a product gains on a busy
/// machine (measured on SmolLM2-135M, whose 576 x 1536 products are just below it).
pub const MIN_PARALLEL_WEIGHTS: usize = 1 << 20;

/// Chunks per thread (more balance the work when some thread gets less CPU time).
#[cfg(not(target_arch = "wasm32"))]
const CHUNKS_PER_THREAD: usize = 8;

/// Runs `f(rows_data, rows_out)` over contiguous runs of rows on up to `threads` threads (the
/// calling thread included). `data` holds `out.len()` rows of equal size.
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
    #[cfg(not(target_arch = "wasm32"))]
    if threads > 1 && out.len() > per_row {
        return pool::split(threads, data, per_row, out, &f);
    }
    #[cfg(target_arch = "wasm32")]
    let _ = threads;
    f(data, out)
}

#[cfg(not(target_arch = "wasm32"))]
mod pool {
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

    use super::CHUNKS_PER_THREAD;

    /// One chunk's work; `Sync` because several threads call it at once.
    type Task<'a> = dyn Fn(usize) + Sync + 'a;

    /// The job being run: its task with the lifetime erased (`run` does not return while any
    /// thread may still call it), chunk count and how many helpers may join.
    #[derive(Clone, Copy)]
    struct Job {
        task: *const Task<'static>,
        chunks: usize,
        helpers: usize,
    }

    // SAFETY: the task is `Sync`; the pointer is only dereferenced while `run` keeps it alive.
    unsafe impl Send for Job {}

    #[derive(Default)]
    struct State {
        job: Option<Job>,
        /// Counts jobs, so a helper joins each at most once.
        epoch: u64,
        /// The next chunk to hand out.
        next: usize,
        /// Threads running a chunk of the job.
        active: usize,
        /// Helpers that joined the job.
        joined: usize,
        /// A chunk panicked.
        panicked: bool,
        /// Helper threads started.
        helpers: usize,
    }

    #[derive(Default)]
    struct Pool {
        state: Mutex<State>,
        /// A job was posted.
        work: Condvar,
        /// A chunk finished or the job slot was freed.
        done: Condvar,
    }

    static POOL: OnceLock<Pool> = OnceLock::new();

    fn lock(p: &Pool) -> MutexGuard<'_, State> {
        // No code panics while holding the lock, so it is never poisoned.
        p.state.lock().expect("pool lock")
    }

    /// Takes the next chunk of the current job, if any is left.
    fn claim(st: &mut State) -> Option<(Job, usize)> {
        let job = st.job?;
        if st.next >= job.chunks || st.panicked {
            return None;
        }
        st.next += 1;
        st.active += 1;
        Some((job, st.next - 1))
    }

    /// Runs chunk `c` without the lock; returns the lock, with the chunk counted as finished.
    fn run_chunk<'p>(p: &'p Pool, job: Job, c: usize) -> MutexGuard<'p, State> {
        // SAFETY: `run` keeps the task alive until `active` is back to 0 (see `Job`).
        let task = unsafe { &*job.task };
        let ok = catch_unwind(AssertUnwindSafe(|| task(c))).is_ok();
        let mut st = lock(p);
        st.active -= 1;
        st.panicked |= !ok;
        p.done.notify_all();
        st
    }

    fn helper(p: &'static Pool) {
        let mut st = lock(p);
        let mut joined_epoch = 0;
        loop {
            if joined_epoch != st.epoch {
                if let Some(job) = st.job {
                    if st.joined < job.helpers && st.next < job.chunks {
                        st.joined += 1;
                        joined_epoch = st.epoch;
                    }
                }
            }
            match (joined_epoch == st.epoch).then(|| claim(&mut st)).flatten() {
                Some((job, c)) => {
                    drop(st);
                    st = run_chunk(p, job, c);
                }
                None => st = p.work.wait(st).expect("pool lock"),
            }
        }
    }

    /// Calls `task(c)` for every chunk `c < chunks` on the calling thread and up to
    /// `threads - 1` helpers; returns when all are done (re-raising a chunk's panic).
    fn run(threads: usize, chunks: usize, task: &Task<'_>) {
        let p = POOL.get_or_init(Pool::default);
        let mut st = lock(p);
        // One job at a time (callers on several threads take turns).
        while st.job.is_some() {
            st = p.done.wait(st).expect("pool lock");
        }
        while st.helpers < threads - 1 {
            std::thread::Builder::new()
                .name("bitlens-rows".into())
                .spawn(move || helper(p))
                .expect("start a helper thread");
            st.helpers += 1;
        }
        // SAFETY: only the lifetime is erased; this function does not return before every
        // claimed chunk has finished, and no chunk can be claimed after the job is removed.
        let task: *const Task<'static> = unsafe { std::mem::transmute(task as *const Task<'_>) };
        st.job = Some(Job {
            task,
            chunks,
            helpers: threads - 1,
        });
        st.epoch += 1;
        (st.next, st.active, st.joined, st.panicked) = (0, 0, 0, false);
        p.work.notify_all();
        loop {
            if let Some((job, c)) = claim(&mut st) {
                drop(st);
                st = run_chunk(p, job, c);
            } else if st.active > 0 {
                st = p.done.wait(st).expect("pool lock");
            } else {
                break;
            }
        }
        let panicked = st.panicked;
        st.job = None;
        p.done.notify_all();
        drop(st);
        if panicked {
            resume_unwind(Box::new("a row chunk panicked"));
        }
    }

    /// `split_rows` on the pool: chunk c is rows `c·per..` of `out` and of `data`.
    pub(super) fn split<F>(threads: usize, data: &[u8], per_row: usize, out: &mut [f32], f: &F)
    where
        F: Fn(&[u8], &mut [f32]) + Sync,
    {
        let rows = out.len() / per_row;
        assert_eq!(data.len() % rows, 0, "rows of equal size");
        let row_bytes = data.len() / rows;
        let per = rows.div_ceil(threads * CHUNKS_PER_THREAD);
        let chunks = rows.div_ceil(per);
        // Each chunk writes its own rows: disjoint parts of `out`, shared as a raw address.
        let out_at = out.as_mut_ptr() as usize;
        run(threads, chunks, &|c| {
            let (r0, r1) = (c * per, ((c + 1) * per).min(rows));
            // SAFETY: rows r0..r1 of `out` belong to chunk c alone, and `out` outlives `run`.
            let o = unsafe {
                std::slice::from_raw_parts_mut(
                    (out_at as *mut f32).add(r0 * per_row),
                    (r1 - r0) * per_row,
                )
            };
            f(&data[r0 * row_bytes..r1 * row_bytes], o);
        });
    }
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
