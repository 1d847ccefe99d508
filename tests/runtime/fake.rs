//! The conformance suite on `FakeRuntime` (real time: the suite sleeps and
//! measures the grace period), its containers scripted through the
//! `keelson-fake` command form.
use keelson::runtime::conformance::{self, Capabilities, FakeScripts};
use keelson::runtime::FakeRuntime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_the_fake_runtime() {
    conformance::run(
        || async { FakeRuntime::new() },
        &Capabilities {
            // Simulated containers keep their logs in memory, read back
            // through `container_logs`; there is no log file to parse.
            log_files: false,
            ..Capabilities::all()
        },
        &FakeScripts,
    )
    .await;
}
