//! The Namespace controller: empties a namespace that is being deleted,
//! then lets it go, as Kubernetes' namespace lifecycle controller does.
//!
//! Deleting a namespace does not remove it at once: the API server gives
//! it a `deletionTimestamp` and the phase `Terminating` (namespaces are
//! created with the `kubernetes` entry in `spec.finalizers`), and refuses
//! new content in it (admission `NamespaceLifecycle`). This controller then,
//! for each terminating namespace that still lists `kubernetes`:
//!
//! 1. lists every namespaced kind — the built-in kinds
//!    ([`gc::builtin_resources`](super::gc::builtin_resources)) and the
//!    kinds of every established CustomResourceDefinition (read live, so a
//!    CRD created a moment ago counts) — and deletes each object in the
//!    namespace (`Background` propagation);
//! 2. writes the conditions `NamespaceDeletionDiscoveryFailure`,
//!    `NamespaceDeletionContentFailure`, `NamespaceContentRemaining` and
//!    `NamespaceFinalizersRemaining` (as Kubernetes names them) while
//!    something is left, and looks again after
//!    [`Config::recheck`] — objects with finalizers or graceful pods take
//!    their time;
//! 3. once nothing is left, removes `kubernetes` from `spec.finalizers`
//!    through the `finalize` subresource; the API server then deletes the
//!    namespace (unless other finalizers remain).
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;

use super::clock::Clock;
use super::{Action, Controller, Reconciler};
use crate::api::apiextensions::CustomResourceDefinition;
use crate::api::core::{Namespace, NamespaceCondition};
use crate::api::meta::DeleteOptions;
use crate::api::{ApiResource, Str};
use crate::apiserver::{ListOptions, WriteOptions};
use crate::client::{Api, Body, Client};
use crate::informer::{InformerFactory, ObjectKey};

/// The finalizer (in `spec.finalizers`) this controller owns.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

/// What can go wrong in a reconcile of the Namespace controller.
pub use super::ReconcileError as Error;

/// Settings of the Namespace controller.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Namespaces emptied at once (Kubernetes' `--concurrent-namespace-syncs`, 10).
    pub concurrency: usize,
    /// How soon to look again while content remains (1 s).
    pub recheck: Duration,
    /// The kinds to empty (default: the built-in kinds; CRDs are added).
    pub resources: Vec<ApiResource>,
    /// Where "now" comes from (condition times).
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            concurrency: 10,
            recheck: Duration::from_secs(1),
            resources: super::gc::builtin_resources()
                .into_iter()
                .filter(|r| r.scope.is_namespaced())
                .collect(),
            clock: Clock::new(),
        }
    }
}

impl Config {
    /// Sets [`recheck`](Self::recheck).
    #[must_use]
    pub fn recheck(mut self, d: Duration) -> Self {
        self.recheck = d;
        self
    }

    /// Sets [`clock`](Self::clock).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

/// The Namespace controller's [`Reconciler`]; see the [module guide](self).
pub struct NamespaceReconciler {
    client: Arc<dyn Client>,
    config: Config,
}

impl std::fmt::Debug for NamespaceReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamespaceReconciler")
            .finish_non_exhaustive()
    }
}

/// What one pass over a namespace's kinds found.
#[derive(Default)]
struct Pass {
    remaining: usize,
    kinds_remaining: Vec<String>,
    finalizers_remaining: Vec<String>,
    content_failures: Vec<String>,
    discovery_failure: Option<String>,
}

impl NamespaceReconciler {
    /// A reconciler writing through `factory`'s client.
    pub fn new(factory: &InformerFactory, config: Config) -> Self {
        NamespaceReconciler {
            client: factory.client().clone(),
            config,
        }
    }

    /// The namespaced kinds: the configured ones and established CRDs'.
    async fn kinds(&self, pass: &mut Pass) -> Vec<ApiResource> {
        let mut kinds = self.config.resources.clone();
        match Api::<CustomResourceDefinition>::all(&self.client)
            .list(&ListOptions::default())
            .await
        {
            Ok(list) => {
                for crd in list.items.iter().filter(|c| c.is_established()) {
                    let storage = crd.storage_version().map(|v| v.name.clone());
                    let resources = crd.api_resources();
                    if let Some(r) = resources
                        .iter()
                        .find(|r| Some(&r.version) == storage.as_ref())
                        .or(resources.first())
                    {
                        if r.scope.is_namespaced() {
                            kinds.push(r.clone());
                        }
                    }
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => pass.discovery_failure = Some(e.to_string()),
        }
        kinds
    }

    /// Deletes what is left of one kind in `ns`.
    async fn empty_kind(&self, ns: &str, r: &ApiResource) -> Result<(usize, Vec<String>), String> {
        let api = Api::dynamic(self.client.clone(), r, ns);
        let items = match api.list(&ListOptions::default()).await {
            Ok(l) => l.items,
            // A kind that cannot be listed (create-only) holds nothing.
            Err(e) if e.is_not_found() || e.code() == Some(405) => return Ok((0, Vec::new())),
            Err(e) => return Err(format!("listing {}: {e}", r.plural)),
        };
        if items.is_empty() {
            return Ok((0, Vec::new()));
        }
        let mut finalizers = Vec::new();
        let opts = DeleteOptions {
            propagation_policy: Some(Str::from_static("Background")),
            ..Default::default()
        };
        let results = join_all(items.iter().map(|o| {
            let api = api.clone();
            let opts = opts.clone();
            async move {
                if o.metadata.is_deleting() {
                    return Ok(());
                }
                api.delete(&o.metadata.name, &opts).await.map(|_| ())
            }
        }))
        .await;
        let mut failure = None;
        for (o, r) in items.iter().zip(results) {
            finalizers.extend(o.metadata.finalizers.iter().map(|f| f.to_string()));
            match r {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    failure.get_or_insert(format!("deleting {}/{}: {e}", r_name(o), ns));
                }
            }
        }
        if let Some(f) = failure {
            return Err(f);
        }
        // What is still there after the deletes (finalizers, grace periods).
        let left = match api.list(&ListOptions::default()).await {
            Ok(l) => l.items.len(),
            Err(e) => return Err(format!("listing {}: {e}", r.plural)),
        };
        finalizers.sort();
        finalizers.dedup();
        Ok((left, finalizers))
    }

    fn conditions(&self, ns: &Namespace, pass: &Pass) -> Vec<NamespaceCondition> {
        let now = self.config.clock.now();
        let mut out = Vec::new();
        let mut push = |type_: &str, failed: Option<(&str, String)>| {
            let (status, reason, message) = match failed {
                Some((reason, message)) => ("True", reason.to_string(), message),
                None => ("False", default_reason(type_).to_string(), String::new()),
            };
            let previous = ns.status.conditions.iter().find(|c| c.type_ == type_);
            let since = previous
                .filter(|c| c.status == status)
                .and_then(|c| c.last_transition_time)
                .unwrap_or(now);
            out.push(NamespaceCondition {
                type_: Str::from(type_),
                status: Str::from(status),
                last_transition_time: Some(since),
                reason: Str::from(reason),
                message: Str::from(message),
            });
        };
        push(
            "NamespaceDeletionDiscoveryFailure",
            pass.discovery_failure
                .clone()
                .map(|m| ("DiscoveryFailed", m)),
        );
        push("NamespaceDeletionGroupVersionParsingFailure", None);
        push(
            "NamespaceDeletionContentFailure",
            (!pass.content_failures.is_empty())
                .then(|| ("ContentDeletionFailed", pass.content_failures.join("; "))),
        );
        push(
            "NamespaceContentRemaining",
            (pass.remaining > 0).then(|| {
                (
                    "SomeResourcesRemain",
                    format!(
                        "Some resources are remaining: {}",
                        pass.kinds_remaining.join(", ")
                    ),
                )
            }),
        );
        push(
            "NamespaceFinalizersRemaining",
            (!pass.finalizers_remaining.is_empty()).then(|| {
                (
                    "SomeFinalizersRemain",
                    format!(
                        "Some content in the namespace has finalizers remaining: {}",
                        pass.finalizers_remaining.join(", ")
                    ),
                )
            }),
        );
        out
    }
}

fn r_name(o: &crate::api::DynamicObject) -> String {
    format!("{}/{}", o.type_meta().kind, o.metadata.name)
}

fn default_reason(type_: &str) -> &'static str {
    match type_ {
        "NamespaceDeletionDiscoveryFailure" => "ResourcesDiscovered",
        "NamespaceDeletionGroupVersionParsingFailure" => "ParsedGroupVersions",
        "NamespaceDeletionContentFailure" => "ContentDeleted",
        "NamespaceContentRemaining" => "ContentRemoved",
        _ => "ContentHasNoFinalizers",
    }
}

#[async_trait]
impl Reconciler<Namespace> for NamespaceReconciler {
    type Error = Error;

    async fn reconcile(
        &self,
        _key: &ObjectKey,
        ns: Option<Arc<Namespace>>,
    ) -> Result<Action, Error> {
        let Some(ns) = ns else {
            return Ok(Action::Done);
        };
        if !ns.metadata.is_deleting()
            || !ns.spec.finalizers.iter().any(|f| f == KUBERNETES_FINALIZER)
        {
            return Ok(Action::Done);
        }
        let name = ns.metadata.name.to_string();
        let mut pass = Pass::default();
        let kinds = self.kinds(&mut pass).await;
        let results = join_all(kinds.iter().map(|r| self.empty_kind(&name, r))).await;
        for (r, result) in kinds.iter().zip(results) {
            match result {
                Ok((0, _)) => {}
                Ok((n, finalizers)) => {
                    pass.remaining += n;
                    pass.kinds_remaining
                        .push(format!("{} has {n} resource instances", r.plural));
                    pass.finalizers_remaining.extend(finalizers);
                }
                Err(e) => {
                    pass.content_failures.push(e);
                    pass.remaining += 1;
                }
            }
        }
        pass.finalizers_remaining.sort();
        pass.finalizers_remaining.dedup();
        let api = Api::<Namespace>::all(&self.client);
        if pass.remaining > 0 || pass.discovery_failure.is_some() {
            let conditions = self.conditions(&ns, &pass);
            if conditions != ns.status.conditions {
                let mut updated = (*ns).clone();
                updated.status.conditions = conditions;
                match api.update_status(&updated).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() || e.is_conflict() => {}
                    Err(e) => {
                        return Err(Error::Api {
                            action: format!("writing the status of namespace {name}"),
                            source: e,
                        })
                    }
                }
            }
            return Ok(Action::requeue(self.config.recheck));
        }
        // Empty: let it go.
        let mut finalized = (*ns).clone();
        finalized
            .spec
            .finalizers
            .retain(|f| f != KUBERNETES_FINALIZER);
        let target = api.target(&name, "finalize");
        match self
            .client
            .update(
                &target,
                Body::Object(Box::new(finalized)),
                &WriteOptions::default(),
            )
            .await
        {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(Error::Api {
                action: format!("finalizing namespace {name}"),
                source: e,
            }),
        }
    }
}

/// The Namespace controller, ready to [`run`](Controller::run) with a
/// [`NamespaceReconciler`].
pub fn controller(factory: &InformerFactory, config: &Config) -> Controller<Namespace> {
    Controller::<Namespace>::new(factory)
        .name("namespace")
        .concurrency(config.concurrency)
}

/// Runs the Namespace controller with default settings until `shutdown`.
pub fn run(
    factory: &InformerFactory,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    run_with(factory, Config::default(), shutdown)
}

/// [`run`] with settings.
pub fn run_with(
    factory: &InformerFactory,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    let controller = controller(factory, &config).graceful_shutdown_on(shutdown);
    let reconciler = NamespaceReconciler::new(factory, config);
    controller.run(reconciler)
}
