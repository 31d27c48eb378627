//! Shared by every fuzz target: a counting global allocator, so a target can assert that the
//! memory a parser takes is bounded by the input, not by a length or count inside it.
//! (libFuzzer's own `-malloc_limit_mb` needs a sanitizer's malloc hooks; with
//! `--sanitizer none` this is the only allocation bound there is.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and panics if the peak of live heap bytes during it rose more than `limit` above
/// what was live before.
pub fn with_allocation_limit<R>(limit: usize, what: &str, f: impl FnOnce() -> R) -> R {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let r = f();
    let peak = PEAK.load(Relaxed).saturating_sub(before);
    assert!(
        peak <= limit,
        "{what}: allocated {peak} bytes at peak, limit {limit}"
    );
    r
}

/// The allocation bound of the file-format targets: proportional to the input, plus a
/// constant for the fsck's fixed buffers (a 64 KiB cache window, a chunk of records).
pub fn format_limit(input_len: usize) -> usize {
    64 * input_len + 4 * 1024 * 1024
}
