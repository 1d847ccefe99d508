//! Store benchmarks: `cargo bench --bench store`. Our own small harness; every
//! figure is printed as one line `bench <name>: <value> <unit>`.
mod memory;

#[cfg(feature = "etcd")]
mod etcd;

fn main() {
    memory::run();
    #[cfg(feature = "etcd")]
    etcd::run();
}
