//! Any bytes as cyrus.cache, with index records pointing into it.
//! Logic: `engine::fuzzing::cache_file`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limit = expunge_sim_fuzz::format_limit(data.len());
    expunge_sim_fuzz::with_allocation_limit(limit, "cache_file", || {
        engine::fuzzing::cache_file(data)
    });
});
