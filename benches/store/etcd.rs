//! `EtcdStore` against the bare `etcd-client` crate, on one etcd member
//! started for the run (features `etcd` and `test-util`).
//!
//! - `etcd_client_puts` / `etcd_store_puts`: unconditional writes of
//!   256-byte values to fresh keys with 64 in flight: a bare `Put`, and
//!   `EtcdStore::put` (a `Put` with `prev_kv`, whose previous key-value gives
//!   the new version). `etcd_put_overhead` (target ≥ 0.9) is the store's rate
//!   over the bare one. `etcd_client_puts_prev_kv` is the bare client doing
//!   exactly the store's request, to tell the store's own cost from etcd's.
//! - `etcd_client_create_txn` / `etcd_store_creates`: `EtcdStore::create` (a
//!   transaction `create_revision == 0 → Put`) and the same transaction
//!   through the bare client; `etcd_create_overhead` is their ratio.
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
    use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp};
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
            client_puts(&client, &value, "warm", false),
        )
        .await?;
        rate(
            Duration::from_millis(500),
            store_creates(&store, &value, "warm"),
        )
        .await?;

        rate(
            Duration::from_millis(500),
            store_puts(&store, &value, "warm"),
        )
        .await?;

        let mut client_ops = Totals::default();
        let mut prev_kv_ops = Totals::default();
        let mut store_ops = Totals::default();
        let mut create_txn_ops = Totals::default();
        let mut store_create_ops = Totals::default();
        for round in 0..ROUNDS {
            let tag = format!("r{round}");
            client_ops.add(rate(ROUND, client_puts(&client, &value, &tag, false)).await?);
            store_ops.add(rate(ROUND, store_puts(&store, &value, &tag)).await?);
            prev_kv_ops.add(rate(ROUND, client_puts(&client, &value, &tag, true)).await?);
            create_txn_ops.add(rate(ROUND, client_create_txns(&client, &value, &tag)).await?);
            store_create_ops.add(rate(ROUND, store_creates(&store, &value, &tag)).await?);
        }
        let client_rate = client_ops.per_second();
        let store_rate = store_ops.per_second();
        println!("bench etcd_client_puts: {client_rate:.0} puts/s");
        println!("bench etcd_store_puts: {store_rate:.0} puts/s");
        println!(
            "bench etcd_put_overhead: {:.3} ratio",
            store_rate / client_rate
        );
        println!(
            "bench etcd_client_puts_prev_kv: {:.0} puts/s",
            prev_kv_ops.per_second()
        );
        let create_txn_rate = create_txn_ops.per_second();
        let store_create_rate = store_create_ops.per_second();
        println!("bench etcd_client_create_txn: {create_txn_rate:.0} txns/s");
        println!("bench etcd_store_creates: {store_create_rate:.0} creates/s");
        println!(
            "bench etcd_create_overhead: {:.3} ratio",
            store_create_rate / create_txn_rate
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

    /// Bare puts, with `prev_kv` (the store's request) or without.
    fn client_puts<'a>(
        client: &'a Client,
        value: &'a Bytes,
        tag: &'a str,
        prev_kv: bool,
    ) -> impl Fn(usize, Instant, Arc<AtomicU64>) -> Work + 'a {
        move |worker, deadline, done| {
            let mut kv = client.kv_client();
            let (value, tag) = (value.clone(), tag.to_owned());
            let (path, options) = if prev_kv {
                ("cpp", Some(PutOptions::new().with_prev_key()))
            } else {
                ("cp", None)
            };
            Box::pin(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    kv.put(
                        format!("/bench/{path}/{tag}/{worker}-{n}"),
                        value.to_vec(),
                        options.clone(),
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

    fn store_puts<'a>(
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
                        .put(&format!("/spp/{tag}/{worker}-{n}"), value.clone())
                        .await?;
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
