//! Scenario language, runner and reports for `expunge-sim`.

pub mod report;
