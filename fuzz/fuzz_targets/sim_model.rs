//! Random `Vfs` calls on `SimFs` against a tiny reference model of names, file contents,
//! sizes, fds and maps. Logic: `sim::testing::sim_model`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sim::testing::sim_model(data);
});
