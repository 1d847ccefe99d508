//! A helper for finalizers: run cleanup before an object goes away.
