#!/usr/bin/env python3
"""Writes src/http/protobuf.schema, the table of protobuf message descriptors
the HTTP server reads request bodies with.

Field numbers and types come from the `k8s-pb` crate (prost code generated
from the `generated.proto` files of k8s.io/api and k8s.io/apimachinery);
JSON names and which fields are embedded Go structs (inline in JSON) come
from the `k8s-openapi` crate (serde code generated from the OpenAPI
document). Both are read from the cargo registry:

    cargo fetch   # with k8s-openapi and k8s-pb somewhere in a lockfile
    scripts/protobuf-schema.py > src/http/protobuf.schema

Which scalar fields are Go pointers (whose zero value is sent and kept)
is not in either source; POINTERS below lists them, from k8s.io/api's
types.go.
"""
import glob
import os
import re
import sys

REGISTRY = glob.glob(os.path.expanduser("~/.cargo/registry/src/*/"))
PB = next(g for r in REGISTRY for g in sorted(glob.glob(r + "k8s-pb-*/src")))
OPENAPI = next(g for r in REGISTRY for g in sorted(glob.glob(r + "k8s-openapi-*/src")))
OPENAPI = sorted(glob.glob(OPENAPI + "/v1_*"))[-1]

# The kinds keelson serves (its built-in scheme) and the option types
# client-go sends as bodies.
ROOTS = """
core.v1: Pod PodTemplate Binding Node Service Endpoints Namespace ConfigMap
  Secret ServiceAccount PersistentVolume PersistentVolumeClaim Event LimitRange
  ResourceQuota
apps.v1: Deployment ReplicaSet DaemonSet StatefulSet ControllerRevision
batch.v1: Job CronJob
discovery.v1: EndpointSlice
coordination.v1: Lease
rbac.v1: Role ClusterRole RoleBinding ClusterRoleBinding
networking.v1: Ingress IngressClass NetworkPolicy
storage.v1: StorageClass
scheduling.v1: PriorityClass
policy.v1: PodDisruptionBudget Eviction
autoscaling.v1: HorizontalPodAutoscaler Scale
autoscaling.v2: HorizontalPodAutoscaler
meta.v1: DeleteOptions Status
"""

# Go pointer scalars (`*int32`, `*bool`, `*int64`, `*string`) whose zero is
# meaningful: MESSAGE.jsonName.
POINTERS = set("""
meta.v1.ObjectMeta.deletionGracePeriodSeconds meta.v1.ListMeta.remainingItemCount
meta.v1.OwnerReference.controller meta.v1.OwnerReference.blockOwnerDeletion
meta.v1.DeleteOptions.gracePeriodSeconds meta.v1.DeleteOptions.orphanDependents
meta.v1.DeleteOptions.propagationPolicy
meta.v1.DeleteOptions.ignoreStoreReadErrorWithClusterBreakingPotential
meta.v1.Preconditions.uid meta.v1.Preconditions.resourceVersion
core.v1.ConfigMap.immutable core.v1.Secret.immutable
core.v1.ServiceAccount.automountServiceAccountToken
core.v1.PodSpec.terminationGracePeriodSeconds core.v1.PodSpec.activeDeadlineSeconds
core.v1.PodSpec.automountServiceAccountToken core.v1.PodSpec.shareProcessNamespace
core.v1.PodSpec.priority core.v1.PodSpec.preemptionPolicy
core.v1.PodSpec.enableServiceLinks core.v1.PodSpec.setHostnameAsFQDN
core.v1.PodSpec.hostUsers core.v1.PodSpec.runtimeClassName
core.v1.PodSpec.hostnameOverride
core.v1.Container.restartPolicy
core.v1.EphemeralContainerCommon.restartPolicy
core.v1.Probe.terminationGracePeriodSeconds
core.v1.GRPCAction.service
core.v1.SecurityContext.privileged core.v1.SecurityContext.runAsUser
core.v1.SecurityContext.runAsGroup core.v1.SecurityContext.runAsNonRoot
core.v1.SecurityContext.readOnlyRootFilesystem
core.v1.SecurityContext.allowPrivilegeEscalation core.v1.SecurityContext.procMount
core.v1.PodSecurityContext.runAsUser core.v1.PodSecurityContext.runAsGroup
core.v1.PodSecurityContext.runAsNonRoot core.v1.PodSecurityContext.fsGroup
core.v1.PodSecurityContext.fsGroupChangePolicy
core.v1.PodSecurityContext.supplementalGroupsPolicy
core.v1.PodSecurityContext.seLinuxChangePolicy
core.v1.WindowsSecurityContextOptions.gmsaCredentialSpecName
core.v1.WindowsSecurityContextOptions.gmsaCredentialSpec
core.v1.WindowsSecurityContextOptions.runAsUserName
core.v1.WindowsSecurityContextOptions.hostProcess
core.v1.SeccompProfile.localhostProfile core.v1.AppArmorProfile.localhostProfile
core.v1.Toleration.tolerationSeconds
core.v1.EmptyDirVolumeSource.sizeLimit
core.v1.HostPathVolumeSource.type
core.v1.ConfigMapVolumeSource.defaultMode core.v1.ConfigMapVolumeSource.optional
core.v1.SecretVolumeSource.defaultMode core.v1.SecretVolumeSource.optional
core.v1.ProjectedVolumeSource.defaultMode
core.v1.ConfigMapProjection.optional core.v1.SecretProjection.optional
core.v1.ServiceAccountTokenProjection.expirationSeconds
core.v1.DownwardAPIVolumeSource.defaultMode core.v1.DownwardAPIVolumeFile.mode
core.v1.KeyToPath.mode
core.v1.ConfigMapKeySelector.optional core.v1.SecretKeySelector.optional
core.v1.ConfigMapEnvSource.optional core.v1.SecretEnvSource.optional
core.v1.FileKeySelector.optional
core.v1.VolumeMount.mountPropagation core.v1.VolumeMount.recursiveReadOnly
core.v1.VolumeMountStatus.recursiveReadOnly
core.v1.CSIVolumeSource.readOnly core.v1.CSIVolumeSource.fsType
core.v1.PersistentVolumeClaimSpec.storageClassName core.v1.PersistentVolumeClaimSpec.volumeMode
core.v1.PersistentVolumeClaimSpec.volumeAttributesClassName
core.v1.PersistentVolumeSpec.volumeMode core.v1.PersistentVolumeSpec.volumeAttributesClassName
core.v1.TypedLocalObjectReference.apiGroup core.v1.TypedObjectReference.apiGroup
core.v1.TypedObjectReference.namespace
core.v1.ServiceSpec.allocateLoadBalancerNodePorts core.v1.ServiceSpec.loadBalancerClass
core.v1.ServiceSpec.internalTrafficPolicy core.v1.ServiceSpec.ipFamilyPolicy
core.v1.ServiceSpec.trafficDistribution
core.v1.ServicePort.appProtocol core.v1.EndpointPort.appProtocol
core.v1.ClientIPConfig.timeoutSeconds
core.v1.LoadBalancerIngress.ipMode
core.v1.EndpointAddress.nodeName
core.v1.ContainerStatus.started core.v1.ContainerStatus.stopSignal
core.v1.NodeSpec.unschedulable
core.v1.Event.series core.v1.EventSeries.count
core.v1.ResourceClaim.request core.v1.PodResourceClaim.resourceClaimName
core.v1.PodResourceClaim.resourceClaimTemplateName
core.v1.ContainerResizePolicy.restartPolicy
core.v1.Sysctl.value
apps.v1.DeploymentSpec.replicas apps.v1.DeploymentSpec.revisionHistoryLimit
apps.v1.DeploymentSpec.progressDeadlineSeconds
apps.v1.DeploymentStatus.terminatingReplicas
apps.v1.ReplicaSetSpec.replicas apps.v1.ReplicaSetStatus.terminatingReplicas
apps.v1.StatefulSetSpec.replicas apps.v1.StatefulSetSpec.revisionHistoryLimit
apps.v1.StatefulSetStatus.collisionCount apps.v1.DeploymentStatus.collisionCount
apps.v1.DaemonSetStatus.collisionCount apps.v1.DaemonSetSpec.revisionHistoryLimit
apps.v1.RollingUpdateStatefulSetStrategy.partition
apps.v1.StatefulSetOrdinals.start
batch.v1.JobSpec.parallelism batch.v1.JobSpec.completions
batch.v1.JobSpec.activeDeadlineSeconds batch.v1.JobSpec.backoffLimit
batch.v1.JobSpec.backoffLimitPerIndex batch.v1.JobSpec.maxFailedIndexes
batch.v1.JobSpec.manualSelector batch.v1.JobSpec.ttlSecondsAfterFinished
batch.v1.JobSpec.completionMode batch.v1.JobSpec.suspend
batch.v1.JobSpec.podReplacementPolicy batch.v1.JobSpec.managedBy
batch.v1.JobStatus.terminating batch.v1.JobStatus.ready
batch.v1.JobStatus.failedIndexes
batch.v1.PodFailurePolicyOnExitCodesRequirement.containerName
batch.v1.CronJobSpec.timeZone batch.v1.CronJobSpec.startingDeadlineSeconds
batch.v1.CronJobSpec.suspend batch.v1.CronJobSpec.successfulJobsHistoryLimit
batch.v1.CronJobSpec.failedJobsHistoryLimit
autoscaling.v1.HorizontalPodAutoscalerSpec.minReplicas
autoscaling.v1.HorizontalPodAutoscalerSpec.targetCPUUtilizationPercentage
autoscaling.v1.HorizontalPodAutoscalerStatus.observedGeneration
autoscaling.v1.HorizontalPodAutoscalerStatus.currentCPUUtilizationPercentage
autoscaling.v2.HorizontalPodAutoscalerSpec.minReplicas
autoscaling.v2.HorizontalPodAutoscalerStatus.observedGeneration
autoscaling.v2.MetricTarget.averageUtilization
autoscaling.v2.MetricValueStatus.averageUtilization
autoscaling.v2.HPAScalingRules.stabilizationWindowSeconds
autoscaling.v2.HPAScalingRules.selectPolicy
policy.v1.PodDisruptionBudgetSpec.unhealthyPodEvictionPolicy
scheduling.v1.PriorityClass.preemptionPolicy
networking.v1.IngressSpec.ingressClassName networking.v1.IngressBackend.service
networking.v1.HTTPIngressPath.pathType
networking.v1.IngressClassParametersReference.apiGroup
networking.v1.IngressClassParametersReference.scope
networking.v1.IngressClassParametersReference.namespace
networking.v1.NetworkPolicyPort.protocol networking.v1.NetworkPolicyPort.endPort
networking.v1.IngressPortStatus.error
storage.v1.StorageClass.reclaimPolicy storage.v1.StorageClass.allowVolumeExpansion
storage.v1.StorageClass.volumeBindingMode
discovery.v1.EndpointSlice.addressType
discovery.v1.Endpoint.hostname discovery.v1.Endpoint.nodeName discovery.v1.Endpoint.zone
discovery.v1.EndpointConditions.ready discovery.v1.EndpointConditions.serving
discovery.v1.EndpointConditions.terminating
discovery.v1.EndpointPort.name discovery.v1.EndpointPort.protocol
discovery.v1.EndpointPort.port discovery.v1.EndpointPort.appProtocol
coordination.v1.LeaseSpec.holderIdentity coordination.v1.LeaseSpec.leaseDurationSeconds
coordination.v1.LeaseSpec.leaseTransitions coordination.v1.LeaseSpec.strategy
coordination.v1.LeaseSpec.preferredHolder
rbac.v1.Subject.apiGroup
""".lower().split())

SCALARS = {"string": "string", "bool": "bool", "int32": "int32", "int64": "int64",
           "double": "double", "bytes": "bytes"}
# apimachinery messages with their own JSON form.
SPECIAL = {"meta.v1.Time": "meta.v1.Time", "meta.v1.MicroTime": "meta.v1.MicroTime",
           "resource.Quantity": "resource.Quantity", "intstr.IntOrString": "intstr.IntOrString",
           "runtime.RawExtension": "runtime.RawExtension", "meta.v1.FieldsV1": "runtime.RawExtension",
           "meta.v1.Duration": "meta.v1.Duration"}


def package_of(path):
    rel = os.path.relpath(os.path.dirname(path), PB).split(os.sep)
    if rel[0] == "api" and len(rel) == 3:
        return f"{rel[1]}.{rel[2]}"
    if rel[:3] == ["apimachinery", "pkg", "apis"] and len(rel) == 5:
        return f"{rel[3]}.{rel[4]}"
    if rel[:3] in (["apimachinery", "pkg", "api"], ["apimachinery", "pkg", "util"]) and len(rel) == 4:
        return rel[3]
    if rel[:2] == ["apimachinery", "pkg"] and len(rel) == 3:
        return rel[2]
    if rel[0] == "apiextensions_apiserver" and len(rel) == 5:
        return f"{rel[3]}.{rel[4]}"
    return None


def resolve_path(package_dir, rust_type):
    """`super::super::core::v1::PodSpec` seen from package_dir → package.Name."""
    parts = rust_type.split("::")
    name = parts[-1]
    d = package_dir
    rest = []
    for p in parts[:-1]:
        if p == "super":
            d = os.path.dirname(d)
        elif p:
            rest.append(p)
    full = os.path.join(d, *rest, "mod.rs")
    return package_of(full), name


MESSAGES = {}  # "pkg.Name" -> list of (tag, snake, kind, repeated, target)
FIELD_RE = re.compile(r"#\[prost\((.*)\)\]")
for path in glob.glob(PB + "/**/mod.rs", recursive=True):
    pkg = package_of(path)
    if pkg is None:
        continue
    lines = open(path).read().splitlines()
    current = None
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        m = re.match(r"pub struct (\w+) \{", line)
        if m:
            current = f"{pkg}.{m.group(1)}"
            MESSAGES[current] = []
        elif line == "}":
            current = None
        elif current and line.startswith("#[prost("):
            attr = FIELD_RE.match(line).group(1)
            # The field's declaration may span lines.
            decl = ""
            j = i + 1
            while not (decl.rstrip().endswith(",") and decl.count("<") == decl.count(">")):
                decl += lines[j].strip()
                j += 1
            i = j - 1
            decl = re.sub(r",\s*>", ">", decl)
            fm = re.match(r"pub (r#)?(\w+):\s*(.*),$", decl)
            snake, rtype = fm.group(2), fm.group(3)
            tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
            first = attr.split(",")[0].strip()
            repeated = ", repeated" in attr
            if first.startswith("btree_map") or first.startswith("hash_map"):
                kv = re.search(r'map = "([^"]+)"', attr).group(1).split(",")
                value = kv[1].strip()
                if value == "message":
                    inner = re.search(r"BTreeMap<[^,]+,\s*(.*)>$", rtype).group(1)
                    target = resolve_path(os.path.dirname(path), inner)
                    target = f"{target[0]}.{target[1]}"
                else:
                    target = value
                MESSAGES[current].append((tag, snake, "map", False, target))
            elif first == "message":
                m = re.search(r"(?:Option|Vec)<(.*)>$", rtype)
                if m is None:
                    sys.exit(f"{path}: {current}: cannot read {decl!r}")
                inner = m.group(1)
                b = re.match(r"(?:::prost::alloc::boxed::)?Box<(.*)>$", inner)
                if b:
                    inner = b.group(1)
                target = resolve_path(os.path.dirname(path), inner)
                MESSAGES[current].append((tag, snake, "message", repeated, f"{target[0]}.{target[1]}"))
            else:
                kind = first.split("=")[0].strip()
                MESSAGES[current].append((tag, snake, kind, repeated, None))
        i += 1


def norm(s):
    return s.replace("_", "").rstrip("_").lower().replace("r#", "")


USED_POINTERS = set()
INLINE_NAMES = {}  # embedded message -> its parent's JSON names
JSON_NAMES = {}  # "pkg.Name" -> {normalized: json}


def openapi_names(message):
    if message in JSON_NAMES:
        return JSON_NAMES[message]
    pkg, name = message.rsplit(".", 1)
    group, version = pkg.split(".") if "." in pkg else (pkg, "")
    if group == "meta":
        d = f"{OPENAPI}/apimachinery/pkg/apis/meta/{version}"
    elif group == "apiextensions":
        d = f"{OPENAPI}/apiextensions_apiserver/pkg/apis/apiextensions/{version}"
    else:
        d = f"{OPENAPI}/api/{group}/{version}"
    names = None
    for f in glob.glob(d + "/*.rs"):
        text = open(f).read()
        if re.search(rf"pub struct {name}\b", text, re.IGNORECASE):
            names = {}
            for json, key in re.findall(r'"([^"]+)" => Field::Key_(\w+),', text):
                names[norm(key)] = json
            break
    JSON_NAMES[message] = names
    return names


def emit(message, out, seen):
    if message in seen or message in SPECIAL:
        return
    seen.add(message)
    fields = MESSAGES.get(message)
    if fields is None:
        sys.exit(f"no protobuf message {message}")
    names = openapi_names(message) or INLINE_NAMES.get(message)
    if names is None:
        print(f"# note: {message} is not in k8s-openapi", file=sys.stderr)
    lines = [f"message {message}"]
    pending = []
    for tag, snake, kind, repeated, target in sorted(fields):
        json = (names or {}).get(norm(snake))
        inline = False
        if json is None:
            embedded = {norm(f[1]) for f in MESSAGES.get(target, [])} if kind == "message" else None
            if embedded and not repeated and names and embedded <= set(names):
                # A Go embedded struct: its fields are the parent's in JSON.
                inline = True
                json = snake
                INLINE_NAMES.setdefault(target, {}).update(names)
            elif snake in ("type_meta",):
                continue
            else:
                if names is not None:
                    print(f"# note: {message}.{snake} is not in k8s-openapi", file=sys.stderr)
                parts = snake.split("_")
                json = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
        if kind == "map":
            ty = f"map<string,{SPECIAL.get(target, SCALARS.get(target, target))}>"
            if target not in SCALARS:
                pending.append(target)
        elif kind == "message":
            ty = SPECIAL.get(target, target)
            pending.append(target)
        else:
            ty = SCALARS[kind]
        words = [str(tag), json]
        if repeated:
            words.append("repeated")
        words.append(ty)
        key = f"{message}.{json}".lower()
        if key in POINTERS:
            words.append("ptr")
            USED_POINTERS.add(key)
        if inline:
            words.append("inline")
        lines.append(" ".join(words))
    out.append("\n".join(lines))
    for p in pending:
        emit(p, out, seen)


def main():
    out, seen = [], set()
    for line in ROOTS.replace("\n  ", " ").strip().splitlines():
        pkg, kinds = line.split(":")
        for kind in kinds.split():
            emit(f"{pkg}.{kind}", out, seen)
    for p in sorted(POINTERS - USED_POINTERS):
        print(f"# note: POINTERS names a field not emitted: {p}", file=sys.stderr)
    print(open(os.path.join(os.path.dirname(__file__), "protobuf-schema.head")).read().rstrip())
    print()
    print("\n\n".join(out))


main()
