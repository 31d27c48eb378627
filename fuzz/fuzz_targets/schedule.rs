//! A typed, bounded schedule run through THE executor under each complete fix, with the
//! oracles as the assertion. Logic: `scenarios::fuzzing::schedule`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scenarios::fuzzing::FuzzSchedule;

fuzz_target!(|s: FuzzSchedule| {
    scenarios::fuzzing::schedule(&s);
});
