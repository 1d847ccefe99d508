//! The reflector: lists a kind, then watches it from the list's resource
//! version, keeping a [`Writer`] up to date.
//!
//! - A watch the server ends (timeout, a slow watcher closed) resumes from
//!   the last resource version seen, without listing again.
//! - `410 Gone`/`Expired` (the version fell out of the server's watch
//!   window) lists again and swaps the cache in one step
//!   ([`Writer::replace`]); the difference reaches consumers as events.
//! - Bookmarks are asked for and move the resource version, so a resumed
//!   watch starts close to now even when nothing changed.
//! - Errors back off exponentially with jitter ([`Backoff`]: 800 ms
//!   doubling to 30 s by default); any success resets the backoff.
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::api::core::ConfigMap;
//! use keelson::apiserver::ApiServer;
//! use keelson::client::{Api, LocalClient};
//! use keelson::informer::{reflector, Reflector};
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let api: Api<ConfigMap> = Api::all(LocalClient::new(&server));
//! let reflector = Reflector::new(api, reflector::Config::default());
//! let cache = reflector.reader();
//! let task = tokio::spawn(reflector.run());
//! cache.wait_until_ready().await.unwrap();
//! assert!(cache.is_ready());
//! task.abort();
//! # });
//! ```
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::api::selector::{FieldSelector, Selector};
use crate::api::{Str, WatchEvent};
use crate::apiserver::ListOptions;
use crate::client::Api;

use super::cache::{Cache, Event, Writer};
use super::Object;

/// Exponential backoff with jitter: the n-th consecutive failure waits
/// `initial · factor^n`, capped at `max`, plus up to `jitter` times that at
/// random (then capped again).
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// The growth per failure.
    pub factor: f64,
    /// The random share added (`1.0`: up to twice the delay).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: 1.0,
        }
    }
}

impl Backoff {
    /// A fresh sequence of delays.
    pub fn start(&self) -> BackoffState {
        BackoffState {
            config: self.clone(),
            current: self.initial,
        }
    }
}

/// The delays of one sequence of failures.
#[derive(Clone, Debug)]
pub struct BackoffState {
    config: Backoff,
    current: Duration,
}

impl BackoffState {
    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.current.min(self.config.max);
        let jitter = if self.config.jitter > 0.0 {
            Duration::try_from_secs_f64(base.as_secs_f64() * fastrand::f64() * self.config.jitter)
                .unwrap_or(self.config.max)
        } else {
            Duration::ZERO
        };
        let factor = if self.config.factor.is_finite() && self.config.factor >= 1.0 {
            self.config.factor
        } else {
            1.0
        };
        self.current = Duration::try_from_secs_f64(self.current.as_secs_f64() * factor)
            .unwrap_or(self.config.max)
            .min(self.config.max);
        base.saturating_add(jitter).min(self.config.max)
    }

    /// Starts over from the first delay (after a success).
    pub fn reset(&mut self) {
        self.current = self.config.initial;
    }
}

/// Settings of a [`Reflector`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Only objects whose labels match.
    pub label_selector: Option<Selector>,
    /// Only objects whose fields match.
    pub field_selector: Option<FieldSelector>,
    /// List in pages of this many objects (consistent pages from the
    /// store); `0` lists in one request, which an in-process server
    /// answers from its watch cache with shared objects.
    pub page_size: usize,
    /// Ask for bookmarks.
    pub bookmarks: bool,
    /// Ask the server to end each watch after this long (randomised up to
    /// twice as long, so that many watchers do not resume at once).
    pub watch_timeout: Option<Duration>,
    /// The backoff on errors.
    pub backoff: Backoff,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            label_selector: None,
            field_selector: None,
            page_size: 0,
            bookmarks: true,
            watch_timeout: Some(Duration::from_secs(300)),
            backoff: Backoff::default(),
        }
    }
}

impl Config {
    /// Only objects whose labels match.
    #[must_use]
    pub fn labels(mut self, selector: Selector) -> Self {
        self.label_selector = Some(selector);
        self
    }

    /// Only objects whose fields match.
    #[must_use]
    pub fn fields(mut self, selector: FieldSelector) -> Self {
        self.field_selector = Some(selector);
        self
    }

    /// Set the page size.
    #[must_use]
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n;
        self
    }

    /// Ask for bookmarks or not.
    #[must_use]
    pub fn bookmarks(mut self, on: bool) -> Self {
        self.bookmarks = on;
        self
    }

    /// Set the watch timeout.
    #[must_use]
    pub fn watch_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.watch_timeout = timeout;
        self
    }

    /// Set the backoff.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    fn list_options(&self) -> ListOptions {
        ListOptions {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            ..Default::default()
        }
    }

    /// A string naming the selection (for registries of informers).
    pub(crate) fn selection(&self) -> String {
        format!(
            "{}|{}",
            self.label_selector
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            self.field_selector
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default()
        )
    }
}

/// What the reflector asks its writer to do.
#[derive(Debug)]
// The watch event's rare `Error` variant makes it large; boxing it would
// cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Update<K> {
    /// A complete list: replace the content.
    Listed {
        /// The objects.
        items: Vec<Arc<K>>,
        /// The list's resource version.
        resource_version: Str,
    },
    /// One watch event (never an `Error`).
    Watched(WatchEvent<Arc<K>>),
}

impl<K: Object> Update<K> {
    /// Applies the update to `writer`; returns the changes.
    pub fn apply_to(self, writer: &mut Writer<K>) -> Vec<Event<K>> {
        match self {
            Update::Listed {
                items,
                resource_version,
            } => writer.replace(items, resource_version),
            Update::Watched(e) => writer.apply(e).into_iter().collect(),
        }
    }
}

/// Lists and watches one kind through an [`Api`] into a cache.
#[doc(alias = "watcher")]
pub struct Reflector<K> {
    api: Api<K>,
    config: Config,
    writer: Writer<K>,
}

impl<K> std::fmt::Debug for Reflector<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reflector")
            .field("api", &self.api)
            .field("config", &self.config)
            .finish()
    }
}

/// How one watch ended.
enum WatchEnd {
    /// The server closed it: watch again from the last version.
    Closed {
        events: usize,
        asked: Option<Duration>,
    },
    /// The version is too old: list again.
    Gone,
    /// Something failed: back off, then watch again.
    Failed,
}

impl<K: Object> Reflector<K> {
    /// A reflector with a fresh cache.
    pub fn new(api: Api<K>, config: Config) -> Self {
        Self::with_writer(api, config, Writer::new())
    }

    /// A reflector filling `writer` (built with indexes).
    pub fn with_writer(api: Api<K>, config: Config, writer: Writer<K>) -> Self {
        Reflector {
            api,
            config,
            writer,
        }
    }

    /// A reader of the cache.
    pub fn reader(&self) -> Cache<K> {
        self.writer.reader()
    }

    /// Runs until dropped, applying updates to the cache.
    pub async fn run(self) {
        self.run_with(|writer, update| {
            update.apply_to(writer);
        })
        .await
    }

    /// Runs until dropped, handing each update to `apply` with the writer
    /// (a shared informer applies it and tells its consumers under one
    /// lock).
    pub async fn run_with(mut self, mut apply: impl FnMut(&mut Writer<K>, Update<K>) + Send) {
        let mut backoff = self.config.backoff.start();
        let mut need_list = true;
        let resource = self.api.resource().plural.clone();
        loop {
            if need_list {
                match self.list().await {
                    Ok((items, resource_version)) => {
                        tracing::debug!(%resource, items = items.len(), %resource_version, "listed");
                        apply(
                            &mut self.writer,
                            Update::Listed {
                                items,
                                resource_version,
                            },
                        );
                        backoff.reset();
                        need_list = false;
                    }
                    Err(e) => {
                        let delay = backoff.next_delay();
                        tracing::warn!(%resource, error = %e, ?delay, "list failed; retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                }
            }
            let started = tokio::time::Instant::now();
            match self.watch(&mut apply, &mut backoff).await {
                WatchEnd::Closed { events, asked } => {
                    // A watch that ends at once without news, before the
                    // timeout asked for, is a failure in disguise: do not
                    // spin.
                    let elapsed = started.elapsed();
                    let early = asked.is_none_or(|t| elapsed < t);
                    if events == 0 && early && elapsed < Duration::from_secs(1) {
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                }
                WatchEnd::Gone => {
                    tracing::info!(%resource, "resource version too old; listing again");
                    need_list = true;
                }
                WatchEnd::Failed => {
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    async fn list(&self) -> crate::client::Result<(Vec<Arc<K>>, Str)> {
        let mut opts = self.config.list_options();
        if self.config.page_size == 0 {
            return self.api.list_shared(&opts).await;
        }
        opts.limit = self.config.page_size;
        let mut items = Vec::new();
        loop {
            let page = self.api.list(&opts).await?;
            items.extend(page.items.into_iter().map(Arc::new));
            let token = page.metadata.continue_token;
            if token.is_empty() {
                return Ok((items, page.metadata.resource_version));
            }
            opts.continue_token = Some(token.to_string());
        }
    }

    async fn watch(
        &mut self,
        apply: &mut (impl FnMut(&mut Writer<K>, Update<K>) + Send),
        backoff: &mut BackoffState,
    ) -> WatchEnd {
        let resource = self.api.resource().plural.clone();
        let mut opts = self.config.list_options();
        opts.resource_version = self.writer.resource_version();
        opts.allow_bookmarks = self.config.bookmarks;
        let asked = self.config.watch_timeout.map(|t| {
            Duration::try_from_secs_f64(t.as_secs_f64() * (1.0 + fastrand::f64())).unwrap_or(t)
        });
        opts.timeout = asked;
        let mut stream = match self.api.watch(&opts).await {
            Ok(s) => s,
            Err(e) if e.is_gone() => return WatchEnd::Gone,
            Err(e) => {
                tracing::warn!(%resource, error = %e, "watch failed; retrying");
                return WatchEnd::Failed;
            }
        };
        let mut events = 0;
        while let Some(item) = stream.next().await {
            match item {
                Ok(WatchEvent::Error(status)) if status.code == 410 => return WatchEnd::Gone,
                Ok(WatchEvent::Error(status)) => {
                    tracing::warn!(%resource, message = %status.message, code = status.code, "watch error; retrying");
                    return WatchEnd::Failed;
                }
                Ok(event) => {
                    events += 1;
                    backoff.reset();
                    apply(&mut self.writer, Update::Watched(event));
                }
                Err(e) => {
                    tracing::warn!(%resource, error = %e, "watch stream failed; retrying");
                    return WatchEnd::Failed;
                }
            }
        }
        WatchEnd::Closed { events, asked }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter_and_resets() {
        let cfg = Backoff::default();
        let mut b = cfg.start();
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        let ms = |d: &Duration| d.as_millis();
        assert!((800..1600).contains(&ms(&delays[0])), "{delays:?}");
        assert!((1600..3200).contains(&ms(&delays[1])), "{delays:?}");
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(30)));
        assert_eq!(delays[9], Duration::from_secs(30));
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(1600));
    }

    #[test]
    fn backoff_without_jitter_is_exact_and_odd_settings_do_not_panic() {
        let mut b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            factor: 3.0,
            jitter: 0.0,
        }
        .start();
        let got: Vec<u128> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, [100, 300, 900, 1000]);
        let mut odd = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
            factor: f64::INFINITY,
            jitter: f64::NAN,
        }
        .start();
        for _ in 0..3 {
            odd.next_delay();
        }
    }
}
