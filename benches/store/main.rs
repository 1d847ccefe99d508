//! Store benchmarks: `cargo bench --bench store --features etcd,test-util`.
//! Each prints `bench <name>: <value> <unit>` lines.
#[cfg(feature = "etcd")]
mod etcd;

fn main() {
    #[cfg(feature = "etcd")]
    etcd::run();
}
