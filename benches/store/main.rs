//! Store benchmarks: `cargo bench --bench store` for the memory store, and
//! `cargo bench --bench store --features etcd,test-util` for the etcd store
//! too (it starts its own etcd). Our own small harness; every figure is
//! printed as one line `bench <name>: <value> <unit>`.
mod memory;

#[cfg(feature = "etcd")]
mod etcd;

fn main() {
    memory::run();
    #[cfg(feature = "etcd")]
    etcd::run();
}
