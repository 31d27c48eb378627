//! Any bytes as cyrus.index and cyrus.expunge, through the checked reader and the fsck.
//! Logic: `engine::fuzzing::index_file`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limit = expunge_sim_fuzz::format_limit(data.len());
    expunge_sim_fuzz::with_allocation_limit(limit, "index_file", || {
        engine::fuzzing::index_file(data)
    });
});
