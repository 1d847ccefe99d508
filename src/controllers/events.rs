//! An event recorder: core/v1 Events, with repeats aggregated into counts.
