//! Store benchmarks: `cargo bench --bench store`. Our own small harness; every
//! figure is printed as one line `bench <name>: <value> <unit>`.
mod memory;

// `etcd.rs` comes with the etcd backend; rustfmt must not look for it before.
#[cfg(feature = "etcd")]
#[rustfmt::skip]
mod etcd;

fn main() {
    memory::run();
    #[cfg(feature = "etcd")]
    etcd::run();
}
