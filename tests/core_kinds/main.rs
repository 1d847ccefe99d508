//! The core/v1 kinds (other than Pod) and EndpointSlice under mutated input:
//! decoding, defaulting, validating and re-encoding never panic, and what
//! decodes re-encodes to JSON that decodes to the same object.
//!
//! Each case starts from a field-rich manifest and replaces some of its
//! values (leaves or whole subtrees) with arbitrary JSON.
use keelson::api::core::{
    ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, PersistentVolume,
    PersistentVolumeClaim, ResourceQuota, Secret, Service, ServiceAccount,
};
use keelson::api::discovery::EndpointSlice;
use keelson::api::Resource;
use proptest::prelude::*;
use serde_json::Value;

const SAMPLES: &[&str] = &[
    r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop"},
       "spec":{"ports":[{"name":"https","protocol":"TCP","appProtocol":"https","port":443,"targetPort":"https","nodePort":31443}],
               "selector":{"app":"web"},"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"type":"LoadBalancer",
               "externalIPs":["203.0.113.7"],"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":600}},
               "loadBalancerSourceRanges":["10.0.0.0/8"],"externalTrafficPolicy":"Local","healthCheckNodePort":32000,
               "ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","internalTrafficPolicy":"Cluster"},
       "status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.1","ports":[{"port":443,"protocol":"TCP"}]}]}}}"#,
    r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web"},
       "subsets":[{"addresses":[{"ip":"10.244.1.5","hostname":"web-0","nodeName":"node-1","targetRef":{"kind":"Pod","name":"web-0"}}],
                   "notReadyAddresses":[{"ip":"10.244.2.9"}],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}]}"#,
    r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"},"spec":{"finalizers":["kubernetes"]},
       "status":{"phase":"Active","conditions":[{"type":"X","status":"True","reason":"R"}]}}"#,
    r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1"},
       "spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24"],"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]},
       "status":{"capacity":{"cpu":"8","memory":"32Gi"},"conditions":[{"type":"Ready","status":"True"}],
                 "addresses":[{"type":"InternalIP","address":"172.18.0.2"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},
                 "nodeInfo":{"machineID":"m","kubeletVersion":"v1.32.0"},"images":[{"names":["nginx"],"sizeBytes":1}]}}"#,
    r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"immutable":true,"data":{"a":"b"},"binaryData":{"bin":"AAE="}}"#,
    r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/tls",
       "data":{"tls.crt":"Y2VydA==","tls.key":"a2V5"},"stringData":{"extra":"x"}}"#,
    r#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa"},"secrets":[{"name":"t"}],
       "imagePullSecrets":[{"name":"r"}],"automountServiceAccountToken":false}"#,
    r#"{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv"},
       "spec":{"capacity":{"storage":"5Gi"},"accessModes":["ReadWriteMany"],"nfs":{"path":"/k8s/nfs","server":"192.168.44.134"},
               "claimRef":{"name":"c","namespace":"d"},"nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"a","operator":"In","values":["b"]}]}]}}},
       "status":{"phase":"Bound"}}"#,
    r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"pvc"},
       "spec":{"accessModes":["ReadWriteOnce"],"selector":{"matchLabels":{"a":"b"},"matchExpressions":[{"key":"t","operator":"In","values":["x"]}]},
               "resources":{"requests":{"storage":"1Gi"},"limits":{"storage":"2Gi"}},"storageClassName":"",
               "dataSource":{"kind":"PersistentVolumeClaim","name":"src"}},
       "status":{"phase":"Bound","capacity":{"storage":"1Gi"}}}"#,
    r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"e","namespace":"default"},
       "involvedObject":{"kind":"Pod","namespace":"default","name":"p"},"reason":"BackOff","message":"m",
       "source":{"component":"kubelet"},"count":3,"type":"Warning","eventTime":"2024-04-01T10:00:00.123456Z",
       "series":{"count":2,"lastObservedTime":"2024-04-01T10:00:01.000000Z"},"action":"Pulling",
       "reportingComponent":"kubelet","reportingInstance":"kubelet-1"}"#,
    r#"{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"l"},
       "spec":{"limits":[{"type":"Container","max":{"cpu":"2"},"min":{"cpu":"10m"},"default":{"cpu":"500m"},
                          "defaultRequest":{"cpu":"100m"},"maxLimitRequestRatio":{"cpu":"10"}}]}}"#,
    r#"{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q"},
       "spec":{"hard":{"pods":"10"},"scopes":["NotTerminating"],
               "scopeSelector":{"matchExpressions":[{"scopeName":"PriorityClass","operator":"In","values":["high"]}]}},
       "status":{"hard":{"pods":"10"},"used":{"pods":"1"}}}"#,
    r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s","labels":{"kubernetes.io/service-name":"web"}},
       "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.5"],"conditions":{"ready":true},"hostname":"h",
       "nodeName":"n","zone":"z","hints":{"forZones":[{"name":"z"}]}}],"ports":[{"name":"http","protocol":"TCP","port":80}]}"#,
];

/// Decodes `value` as `T`; when it decodes, defaults, validates (old and
/// new) and checks that the encoding decodes back to the same object.
/// Returns the errors of the defaulted object, or `None` when `value` does
/// not decode.
fn exercise<T: Resource>(value: &Value) -> Option<String> {
    let obj = serde_json::from_value::<T>(value.clone()).ok()?;
    let encoded = serde_json::to_value(&obj).expect("typed objects always encode");
    let again: T = serde_json::from_value(encoded).expect("our own encoding decodes");
    assert_eq!(again, obj, "round trip changed the object");
    let _ = obj.validate();
    let mut defaulted = obj.clone();
    defaulted.apply_defaults();
    let _ = defaulted.validate();
    let _ = defaulted.validate_update(&obj);
    let mut twice = defaulted.clone();
    twice.apply_defaults();
    assert_eq!(twice, defaulted, "defaulting is idempotent");
    Some(defaulted.validate().to_string())
}

fn exercise_all(value: &Value) -> Option<String> {
    match value.get("kind").and_then(Value::as_str) {
        Some("Service") => exercise::<Service>(value),
        Some("Endpoints") => exercise::<Endpoints>(value),
        Some("Namespace") => exercise::<Namespace>(value),
        Some("Node") => exercise::<Node>(value),
        Some("ConfigMap") => exercise::<ConfigMap>(value),
        Some("Secret") => exercise::<Secret>(value),
        Some("ServiceAccount") => exercise::<ServiceAccount>(value),
        Some("PersistentVolume") => exercise::<PersistentVolume>(value),
        Some("PersistentVolumeClaim") => exercise::<PersistentVolumeClaim>(value),
        Some("Event") => exercise::<Event>(value),
        Some("LimitRange") => exercise::<LimitRange>(value),
        Some("ResourceQuota") => exercise::<ResourceQuota>(value),
        Some("EndpointSlice") => exercise::<EndpointSlice>(value),
        _ => None,
    }
}

/// Arbitrary small JSON values.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-zA-Z0-9 ./:=_-]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("None"),
            Just("0"),
            Just("-1Gi"),
            Just("1Gi"),
            Just("ClientIP"),
            Just("ExternalName"),
            Just("NodePort"),
            Just("Container"),
            Just("Pod"),
            Just("IPv6"),
            Just("FQDN"),
            Just("::1"),
            Just("10.0.0.1"),
            Just("10.0.0.0/33"),
            Just("=="),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the node at the `pick`-th position of a depth-first walk.
fn mutate(value: &mut Value, pick: &mut usize, replacement: &Value) -> bool {
    if *pick == 0 {
        *value = replacement.clone();
        return true;
    }
    *pick -= 1;
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                // Keep the kind so the right type is exercised.
                if key == "kind" || key == "apiVersion" {
                    continue;
                }
                if mutate(child, pick, replacement) {
                    return true;
                }
            }
            false
        }
        Value::Array(items) => items
            .iter_mut()
            .any(|child| mutate(child, pick, replacement)),
        _ => false,
    }
}

#[test]
fn samples_are_valid_and_round_trip() {
    for sample in SAMPLES {
        let value: Value = serde_json::from_str(sample).unwrap();
        assert_eq!(exercise_all(&value).as_deref(), Some(""), "{sample}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_manifests_never_panic(
        sample in 0..SAMPLES.len(),
        edits in prop::collection::vec((0usize..64, any_json()), 1..4),
    ) {
        let mut value: Value = serde_json::from_str(SAMPLES[sample]).unwrap();
        for (pick, replacement) in &edits {
            let mut pick = *pick;
            mutate(&mut value, &mut pick, replacement);
        }
        exercise_all(&value);
    }
}
