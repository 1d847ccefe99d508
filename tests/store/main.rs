//! The store conformance suite against [`MemoryStore`], the whole suite
//! through `run_all` and each case on its own for clearer reports.
use keelson::store::memory::Config;
use keelson::store::{conformance, MemoryStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_conformance_suite() {
    conformance::run_all(|| async { MemoryStore::new() }).await;
}

/// A small history and value limit must not change any observable behaviour
/// the suite checks, except where the limits are the point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_with_a_short_history_passes_the_model_test() {
    let store = MemoryStore::with_config(Config::default().history(200));
    conformance::model_based(&store).await;
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        mod case {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    conformance::$name(&MemoryStore::new()).await;
                }
            )*
        }
    };
}

cases!(
    prefix_isolation,
    create_get_update_delete,
    revision_monotonicity,
    cas_races,
    watch_ordering,
    watch_prev_values,
    watch_resume,
    compaction,
    list_at_revision,
    pagination,
    large_values,
    model_based,
);
