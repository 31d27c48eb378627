//! Scenario language, runner and reports for `expunge-sim`.

pub mod report;

pub mod cli;
pub mod export;
pub mod plot;
pub mod progress;
pub mod sweep;
