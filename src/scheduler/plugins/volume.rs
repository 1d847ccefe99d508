//! VolumeBinding, for claims that are already bound: every
//! PersistentVolumeClaim the pod mounts must exist and be bound, and the
//! node must satisfy the bound volumes' `nodeAffinity` (local volumes,
//! zonal disks). Dynamic provisioning and delayed binding are not
//! handled: a pod with an unbound claim waits until the claim is bound.
use std::sync::Arc;

use crate::api::core::PersistentVolume;
use crate::scheduler::cache::Snapshot;
use crate::scheduler::framework::{ClusterEvent, CycleState, Filter, Plugin, PreFilter, Status};
use crate::scheduler::info::{NodeInfo, PodInfo};

use super::node_affinity::NodeSelectorMatcher;

/// Bound PVCs: PV node affinity.
#[derive(Clone, Copy, Debug, Default)]
pub struct VolumeBinding;

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        super::VOLUME_BINDING
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[
            ClusterEvent::NodeAdd,
            ClusterEvent::NodeUpdate,
            ClusterEvent::PvChange,
            ClusterEvent::PvcChange,
        ]
    }
}

#[derive(Clone)]
struct Volumes(Vec<(Arc<PersistentVolume>, NodeSelectorMatcher)>);

impl PreFilter for VolumeBinding {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let claims: Vec<&str> = pod
            .pod
            .spec
            .volumes
            .iter()
            .filter_map(|v| v.persistent_volume_claim.as_deref())
            .map(|c| c.claim_name.as_str())
            .collect();
        if claims.is_empty() {
            return Status::skip();
        }
        let cluster = snapshot.cluster();
        let mut volumes = Vec::new();
        for name in claims {
            let key = format!("{}/{}", pod.namespace(), name);
            let Some(pvc) = cluster.pvcs.get(key.as_str()) else {
                return Status::unresolvable(format!("persistentvolumeclaim \"{name}\" not found"));
            };
            if pvc.metadata.deletion_timestamp.is_some() {
                return Status::unresolvable(format!(
                    "persistentvolumeclaim \"{name}\" is being deleted"
                ));
            }
            if pvc.spec.volume_name.is_empty() {
                return Status::unschedulable("pod has unbound immediate PersistentVolumeClaims");
            }
            let Some(pv) = cluster.pvs.get(pvc.spec.volume_name.as_str()) else {
                return Status::unschedulable("pvc(s) bound to non-existent pv(s)");
            };
            if let Some(req) = pv
                .spec
                .node_affinity
                .as_ref()
                .and_then(|a| a.required.as_ref())
            {
                match NodeSelectorMatcher::parse(req) {
                    Ok(m) => volumes.push((pv.clone(), m)),
                    Err(e) => return Status::unresolvable(e),
                }
            }
        }
        if volumes.is_empty() {
            return Status::skip();
        }
        state.write(Volumes(volumes));
        Status::success()
    }
}

impl Filter for VolumeBinding {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(vs) = state.read::<Volumes>() else {
            return Status::success();
        };
        if vs
            .0
            .iter()
            .all(|(_, m)| m.matches(node.name(), node.labels()))
        {
            Status::success()
        } else {
            Status::unresolvable("node(s) had volume node affinity conflict")
        }
    }
}
