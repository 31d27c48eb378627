//! The same schedule under fix1-complete and fix2-delayed-then-cleanup ends with the same
//! live, expunged and purged UIDs. Logic: `scenarios::fuzzing::fixes_agree`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scenarios::fuzzing::FuzzSchedule;

fuzz_target!(|s: FuzzSchedule| {
    scenarios::fuzzing::fixes_agree(&s);
});
