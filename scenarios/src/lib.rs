//! Scenario language, runner and reports for `expunge-sim`.
