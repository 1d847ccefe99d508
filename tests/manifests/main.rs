//! The manifest loader against real input: the seed manifests with their
//! expected outcomes, a JSON round trip of every built-in kind, a table of
//! validation errors with their field paths and lines, and property tests
//! that no input (arbitrary or mutated seeds) makes loading, defaulting or
//! validating panic.
mod no_panic;
mod round_trip;
mod seeds;
mod validation;
