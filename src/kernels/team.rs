//! A team of threads that stays awake for one forward pass (as llama.cpp's threads spin between
//! graph nodes): its helpers spin, waiting for the next product, instead of going to sleep
//! between products as rayon's idle threads do. Waking a sleeping thread costs tens of
//! microseconds (a futex, or `Atomics.wait` in a Web Worker), and a 2B-4T token has about 240
//! products and attention layers, so that cost was a sixth of a two-thread token in the page.
//!
//! `par::on_pool` makes a team of `threads` threads for a forward pass: the thread running the
//! pass (the owner, worker 0) and `threads - 1` helpers, rayon tasks that spin until the pass
//! ends. The owner publishes each product as a job of chunks; the owner and the helpers claim
//! chunks until none is left, and the owner waits for the chunks the helpers took. A helper that
//! does not get a core in time finds no chunk left: the owner has done them.

use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// A job's chunk function: `f(items, worker)`.
pub type ChunkFn<'a> = &'a (dyn Fn(Range<usize>, usize) + Sync);

pub struct Team {
    /// Number of threads (the owner included).
    pub size: usize,
    /// The current job's number (high 32 bits) and its next unclaimed chunk (low 32 bits): one
    /// atomic, so a chunk is claimed for the job it belongs to or not at all.
    next: AtomicU64,
    /// Chunks of the current job that have ended.
    done: AtomicUsize,
    /// The current job: its chunk function (the address of a `ChunkFn` on the owner's stack),
    /// items, items per chunk and chunks. Written by the owner before it publishes the job in
    /// `next`, read by a thread that has claimed one of its chunks: the job cannot end, nor the
    /// next be published, before that chunk is done.
    f: AtomicUsize,
    items: AtomicUsize,
    per: AtomicUsize,
    chunks: AtomicUsize,
    /// The pass has ended: helpers return.
    quit: AtomicBool,
    /// A chunk panicked on a helper.
    panicked: AtomicBool,
}

thread_local! {
    /// The team whose owner is this thread, while its pass runs.
    static CURRENT: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
}

impl Team {
    /// A team of `size` threads (the owner included), for `own`.
    pub fn new(size: usize) -> Team {
        Team {
            size,
            next: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            f: AtomicUsize::new(0),
            items: AtomicUsize::new(0),
            per: AtomicUsize::new(0),
            chunks: AtomicUsize::new(0),
            quit: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
        }
    }

    /// Runs `f` on this thread as the team's owner, its helpers spawned on `scope` (rayon's
    /// pool); they return when `f` returns or panics.
    pub fn own<'s, R>(&'s self, scope: &rayon::Scope<'s>, f: impl FnOnce() -> R) -> R {
        for worker in 1..self.size {
            scope.spawn(move |_| self.help(worker));
        }
        // Helpers quit and this thread stops owning the team however `f` ends.
        struct End<'a>(&'a Team);
        impl Drop for End<'_> {
            fn drop(&mut self) {
                self.0.quit.store(true, Ordering::Release);
                CURRENT.with(|c| c.set(std::ptr::null()));
            }
        }
        let _end = End(self);
        CURRENT.with(|c| c.set(self));
        f()
    }

    /// The team this thread owns, if its pass is running.
    pub fn current() -> Option<&'static Team> {
        let t = CURRENT.with(|c| c.get());
        // SAFETY: set only while `Team::own`'s `f` runs on this thread, and the team outlives it.
        unsafe { t.as_ref() }
    }

    /// Runs `f` over chunks of `0..items` on the team (the owner is worker 0) and returns when
    /// every chunk has ended.
    pub fn split(&self, items: usize, chunks_per_thread: usize, f: ChunkFn<'_>) {
        let per = items.div_ceil(self.size * chunks_per_thread).max(1);
        let chunks = items.div_ceil(per);
        // The helpers see these once the job is published (release) and they claim a chunk
        // (acquire); `f` stays on this stack until every chunk has ended.
        self.f
            .store(&f as *const ChunkFn<'_> as usize, Ordering::Relaxed);
        self.items.store(items, Ordering::Relaxed);
        self.per.store(per, Ordering::Relaxed);
        self.chunks.store(chunks, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        let job = (self.next.load(Ordering::Relaxed) >> 32) + 1;
        self.next.store(job << 32, Ordering::Release);
        self.take(job, 0);
        while self.done.load(Ordering::Acquire) < chunks {
            assert!(
                !self.panicked.load(Ordering::Relaxed),
                "a chunk panicked on another thread"
            );
            std::hint::spin_loop();
        }
    }

    /// Claims and runs chunks of job `job` until none is left (or another job is current).
    fn take(&self, job: u64, worker: usize) {
        loop {
            let v = self.next.load(Ordering::Acquire);
            if v >> 32 != job || (v as u32 as usize) >= self.chunks.load(Ordering::Relaxed) {
                return;
            }
            // A stale `chunks` (a newer job's) comes with a changed `next`: the exchange fails.
            if self
                .next
                .compare_exchange_weak(v, v + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            let c = v as u32 as usize;
            let (items, per) = (
                self.items.load(Ordering::Relaxed),
                self.per.load(Ordering::Relaxed),
            );
            // SAFETY: chunk c of the current job is claimed and not done, so the job has not
            // ended and its function is still on the owner's stack.
            let f = unsafe { *(self.f.load(Ordering::Relaxed) as *const ChunkFn<'_>) };
            // The chunk counts as ended however it ends (a panic is reported to the owner).
            struct Done<'a>(&'a Team);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    if std::thread::panicking() {
                        self.0.panicked.store(true, Ordering::Relaxed);
                    }
                    self.0.done.fetch_add(1, Ordering::Release);
                }
            }
            let _done = Done(self);
            f(c * per..((c + 1) * per).min(items), worker);
        }
    }

    /// A helper: takes chunks of each new job until the pass ends, spinning in between.
    fn help(&self, worker: usize) {
        let mut seen = 0;
        loop {
            let job = self.next.load(Ordering::Acquire) >> 32;
            if job != seen {
                seen = job;
                self.take(job, worker);
            } else if self.quit.load(Ordering::Acquire) {
                return;
            } else {
                std::hint::spin_loop();
            }
        }
    }
}
