//! `EtcdStore` against the bare `etcd-client` crate, on one etcd member
//! started for the run (features `etcd` and `test-util`).
//!
//! - `etcd_client_puts` / `etcd_store_puts`: writes of fresh 256-byte values
//!   with 64 in flight: a bare `Put`, and `EtcdStore::create` (a transaction
//!   `create_revision == 0 → Put`, the store's only unconditional way to add
//!   a key). `etcd_client_create_txn` runs the store's transaction through
//!   the bare client. `etcd_put_overhead` (target ≥ 0.9) is the store's rate
//!   over that same operation through the bare client: what `EtcdStore`
//!   itself costs. `etcd_store_create_vs_bare_put` is the store's rate over
//!   the unconditional put: that gap is etcd's price for a conditional write
//!   (every store write is one, to keep create-if-absent and CAS semantics),
//!   not the store's.
//! - `etcd_client_txn` / `etcd_store_cas`: compare-and-swap updates with 64 in
//!   flight, each worker on its own key: a bare `Txn(mod_revision == r) →
//!   Put`, and `EtcdStore::update`.
//! - `etcd_watch_latency_p50` / `_p99`: from the start of a create to the
//!   delivery of its event through an `EtcdStore` watch, one write at a time.
//!
//! The two sides of each comparison run in alternating rounds against the
//! same member, so that the growing database affects both alike.

/// Run the etcd benchmarks (prints nothing but a notice without
/// `test-util`, which holds the helper that starts etcd).
#[cfg(not(feature = "test-util"))]
pub fn run() {
    eprintln!("etcd benchmarks need the `test-util` feature (to start etcd); skipped");
}

#[cfg(feature = "test-util")]
pub use imp::run;

#[cfg(feature = "test-util")]
mod imp {
    use std::error::Error;
    use std::future::Future;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};
    use futures::StreamExt;
    use keelson::store::etcd_process::EtcdProcess;
    use keelson::store::{EtcdStore, Store};
    use tokio::time::Instant;

    type BoxError = Box<dyn Error + Send + Sync>;
    /// One benchmark worker's loop.
    type Work = std::pin::Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>>;

    const IN_FLIGHT: usize = 64;
    const VALUE_BYTES: usize = 256;
    const ROUNDS: usize = 5;
    const ROUND: Duration = Duration::from_millis(1500);
    const LATENCY_SAMPLES: usize = 2000;

    /// Run the etcd benchmarks on a runtime of their own.
    pub fn run() {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                eprintln!("etcd benchmarks: cannot build a runtime: {err}");
                return;
            }
        };
        if let Err(err) = runtime.block_on(all()) {
            eprintln!("etcd benchmarks failed: {err}");
        }
    }

    async fn all() -> Result<(), BoxError> {
        let etcd = EtcdProcess::start().await?;
        let store = EtcdStore::connect(etcd.config().prefix("/bench")).await?;
        let client = Client::connect([etcd.endpoint()], None).await?;
        let value = Bytes::from(vec![b'x'; VALUE_BYTES]);

        // Warm up both paths (connections, etcd's caches).
        rate(
            Duration::from_millis(500),
            client_puts(&client, &value, "warm"),
        )
        .await?;
        rate(
            Duration::from_millis(500),
            store_creates(&store, &value, "warm"),
        )
        .await?;

        let mut client_ops = Totals::default();
        let mut create_txn_ops = Totals::default();
        let mut store_ops = Totals::default();
        for round in 0..ROUNDS {
            let tag = format!("r{round}");
            client_ops.add(rate(ROUND, client_puts(&client, &value, &tag)).await?);
            create_txn_ops.add(rate(ROUND, client_create_txns(&client, &value, &tag)).await?);
            store_ops.add(rate(ROUND, store_creates(&store, &value, &tag)).await?);
        }
        let client_rate = client_ops.per_second();
        let create_txn_rate = create_txn_ops.per_second();
        let store_rate = store_ops.per_second();
        println!("bench etcd_client_puts: {client_rate:.0} puts/s");
        println!("bench etcd_store_puts: {store_rate:.0} puts/s");
        // The same operation as `EtcdStore::create`, through the bare client:
        // what the store itself costs, apart from etcd's price for a
        // conditional write.
        println!("bench etcd_client_create_txn: {create_txn_rate:.0} txns/s");
        println!(
            "bench etcd_put_overhead: {:.3} ratio",
            store_rate / create_txn_rate
        );
        println!(
            "bench etcd_store_create_vs_bare_put: {:.3} ratio",
            store_rate / client_rate
        );

        let (mut client_ops, mut store_ops) = (Totals::default(), Totals::default());
        for round in 0..ROUNDS {
            let tag = format!("c{round}");
            client_ops.add(rate(ROUND, client_txns(&client, &value, &tag)).await?);
            store_ops.add(rate(ROUND, store_updates(&store, &value, &tag)).await?);
        }
        println!(
            "bench etcd_client_txn: {:.0} txns/s",
            client_ops.per_second()
        );
        println!(
            "bench etcd_store_cas: {:.0} updates/s",
            store_ops.per_second()
        );

        let (p50, p99) = watch_latency(&store, &value).await?;
        println!("bench etcd_watch_latency_p50: {p50:.3} ms");
        println!("bench etcd_watch_latency_p99: {p99:.3} ms");
        Ok(())
    }

    #[derive(Default)]
    struct Totals {
        ops: u64,
        elapsed: Duration,
    }

    impl Totals {
        fn add(&mut self, (ops, elapsed): (u64, Duration)) {
            self.ops += ops;
            self.elapsed += elapsed;
        }

        fn per_second(&self) -> f64 {
            self.ops as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
        }
    }

    /// Run `IN_FLIGHT` workers of `work` for `length`; operations done and
    /// the time taken. `work(worker, deadline, counter)` loops until the
    /// deadline, counting its operations.
    async fn rate<W, F>(length: Duration, work: W) -> Result<(u64, Duration), BoxError>
    where
        W: Fn(usize, Instant, Arc<AtomicU64>) -> F,
        F: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let done = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let deadline = started + length;
        let workers: Vec<_> = (0..IN_FLIGHT)
            .map(|worker| tokio::spawn(work(worker, deadline, done.clone())))
            .collect();
        for worker in workers {
            worker.await??;
        }
        Ok((done.load(Ordering::Relaxed), started.elapsed()))
    }

    fn client_puts<'a>(
        client: &'a Client,
        value: &'a Bytes,
        tag: &'a str,
    ) -> impl Fn(usize, Instant, Arc<AtomicU64>) -> Work + 'a {
        move |worker, deadline, done| {
            let mut kv = client.kv_client();
            let (value, tag) = (value.clone(), tag.to_owned());
            Box::pin(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    kv.put(
                        format!("/bench/cp/{tag}/{worker}-{n}"),
                        value.to_vec(),
                        None,
                    )
                    .await?;
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
                Ok(())
            })
        }
    }

    fn client_create_txns<'a>(
        client: &'a Client,
        value: &'a Bytes,
        tag: &'a str,
    ) -> impl Fn(usize, Instant, Arc<AtomicU64>) -> Work + 'a {
        move |worker, deadline, done| {
            let mut kv = client.kv_client();
            let (value, tag) = (value.clone(), tag.to_owned());
            Box::pin(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let key = format!("/bench/cc/{tag}/{worker}-{n}");
                    let txn = Txn::new()
                        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                        .and_then([TxnOp::put(key, value.to_vec(), None)]);
                    if !kv.txn(txn).await?.succeeded() {
                        return Err("a fresh key existed".into());
                    }
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
                Ok(())
            })
        }
    }

    fn store_creates<'a>(
        store: &'a EtcdStore,
        value: &'a Bytes,
        tag: &'a str,
    ) -> impl Fn(usize, Instant, Arc<AtomicU64>) -> Work + 'a {
        move |worker, deadline, done| {
            let (store, value, tag) = (store.clone(), value.clone(), tag.to_owned());
            Box::pin(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    store
                        .create(&format!("/sp/{tag}/{worker}-{n}"), value.clone())
                        .await?;
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
                Ok(())
            })
        }
    }

    fn client_txns<'a>(
        client: &'a Client,
        value: &'a Bytes,
        tag: &'a str,
    ) -> impl Fn(usize, Instant, Arc<AtomicU64>) -> Work + 'a {
        move |worker, deadline, done| {
            let mut kv = client.kv_client();
            let (value, tag) = (value.clone(), tag.to_owned());
            Box::pin(async move {
                let key = format!("/bench/ct/{tag}/{worker}");
                let put = kv.put(key.clone(), value.to_vec(), None).await?;
                let mut revision = put.header().map_or(0, |h| h.revision());
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let txn = Txn::new()
                        .when([Compare::mod_revision(
                            key.clone(),
                            CompareOp::Equal,
                            revision,
                        )])
                        .and_then([TxnOp::put(key.clone(), value.to_vec(), None)]);
                    let resp = kv.txn(txn).await?;
                    if !resp.succeeded() {
                        return Err("bare CAS lost a race it cannot lose".into());
                    }
                    revision = resp.header().map_or(0, |h| h.revision());
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
                Ok(())
            })
        }
    }

    fn store_updates<'a>(
        store: &'a EtcdStore,
        value: &'a Bytes,
        tag: &'a str,
    ) -> impl Fn(usize, Instant, Arc<AtomicU64>) -> Work + 'a {
        move |worker, deadline, done| {
            let (store, value, tag) = (store.clone(), value.clone(), tag.to_owned());
            Box::pin(async move {
                let key = format!("/su/{tag}/{worker}");
                let mut revision = store.create(&key, value.clone()).await?.mod_revision;
                let mut n = 0u64;
                while Instant::now() < deadline {
                    revision = store
                        .update(&key, value.clone(), revision)
                        .await?
                        .mod_revision;
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
                Ok(())
            })
        }
    }

    /// p50 and p99, in milliseconds, from the start of a create to the
    /// delivery of its event, one write at a time.
    async fn watch_latency(store: &EtcdStore, value: &Bytes) -> Result<(f64, f64), BoxError> {
        let mut watch = store.watch("/wl/", 0).await?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let consumer = tokio::spawn(async move {
            while let Some(Ok(event)) = watch.next().await {
                if tx.send((event.revision(), Instant::now())).is_err() {
                    break;
                }
            }
        });
        let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
        for n in 0..LATENCY_SAMPLES {
            let started = Instant::now();
            let created = store.create(&format!("/wl/{n}"), value.clone()).await?;
            loop {
                let Some((revision, at)) = rx.recv().await else {
                    return Err("the watch ended".into());
                };
                if revision == created.mod_revision {
                    samples.push(at.duration_since(started).as_secs_f64() * 1000.0);
                    break;
                }
            }
        }
        consumer.abort();
        samples.sort_by(f64::total_cmp);
        let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
        Ok((at(50), at(99)))
    }
}
