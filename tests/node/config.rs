//! Env, volumes, static pods and logs.
use std::time::Duration;

use futures::StreamExt;
use keelson::api::core::{
    ConfigMap, ConfigMapKeySelector, ConfigMapVolumeSource, EnvFromSource, EnvVar, EnvVarSource,
    ObjectFieldSelector, Secret, SecretEnvSource, Volume, VolumeMount,
};
use keelson::api::ObjectMeta;
use keelson::apiserver::PodLogOptions;
use keelson::client::Api;
use keelson::runtime::fake::Behavior;
use keelson::runtime::FakeRuntime;
use tokio::time::Instant;

use super::{config, pod, running, Node};

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: value.into(),
        value_from: None,
    }
}

fn from(source: EnvVarSource) -> Option<Box<EnvVarSource>> {
    Some(Box::new(source))
}

#[tokio::test(start_paused = true)]
async fn env_sources_and_expansion() {
    let node = Node::start(config(), FakeRuntime::new()).await;
    let cms: Api<ConfigMap> = Api::namespaced(node.client.clone(), "default");
    let mut cm = ConfigMap {
        metadata: ObjectMeta::named("settings"),
        ..Default::default()
    };
    cm.data.insert("colour", "blue");
    cms.create(&cm).await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(node.client.clone(), "default");
    let mut s = Secret {
        metadata: ObjectMeta::named("creds"),
        ..Default::default()
    };
    s.insert_bytes("PASSWORD", b"hunter2");
    secrets.create(&s).await.unwrap();

    let mut p = pod("envy", &[("app", "x")]);
    p.metadata.labels.insert("tier", "web");
    let c = &mut p.spec.containers[0];
    c.env_from.push(EnvFromSource {
        prefix: "S_".into(),
        config_map_ref: None,
        secret_ref: Some(SecretEnvSource {
            name: "creds".into(),
            optional: None,
        }),
    });
    c.env = vec![
        env("GREETING", "hello"),
        env("MESSAGE", "$(GREETING) world, $$(GREETING) $(UNKNOWN)"),
        EnvVar {
            name: "POD".into(),
            value: Default::default(),
            value_from: from(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: "v1".into(),
                    field_path: "metadata.name".into(),
                }),
                ..Default::default()
            }),
        },
        EnvVar {
            name: "TIER".into(),
            value: Default::default(),
            value_from: from(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: "v1".into(),
                    field_path: "metadata.labels['tier']".into(),
                }),
                ..Default::default()
            }),
        },
        EnvVar {
            name: "IP".into(),
            value: Default::default(),
            value_from: from(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: "v1".into(),
                    field_path: "status.podIP".into(),
                }),
                ..Default::default()
            }),
        },
        EnvVar {
            name: "COLOUR".into(),
            value: Default::default(),
            value_from: from(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: "settings".into(),
                    key: "colour".into(),
                    optional: None,
                }),
                ..Default::default()
            }),
        },
        EnvVar {
            name: "MAYBE".into(),
            value: Default::default(),
            value_from: from(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: "settings".into(),
                    key: "absent".into(),
                    optional: Some(true),
                }),
                ..Default::default()
            }),
        },
    ];
    c.command = vec!["echo".into()];
    c.args = vec!["$(MESSAGE)".into(), "$(COLOUR)-$(S_PASSWORD)".into()];
    node.create(p).await;
    let running_pod = node.wait("envy", "Running", running).await;
    let cfg = node.runtime.config_of("app").unwrap();
    let get = |k: &str| {
        cfg.envs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("S_PASSWORD"), Some("hunter2"));
    assert_eq!(get("MESSAGE"), Some("hello world, $(GREETING) $(UNKNOWN)"));
    assert_eq!(get("POD"), Some("envy"));
    assert_eq!(get("TIER"), Some("web"));
    assert_eq!(get("IP"), Some(running_pod.status.pod_ip.as_str()));
    assert_eq!(get("COLOUR"), Some("blue"));
    assert_eq!(get("MAYBE"), None);
    assert_eq!(
        cfg.args,
        ["hello world, $(GREETING) $(UNKNOWN)", "blue-hunter2"]
    );

    // A required key that does not exist: CreateContainerConfigError.
    let mut p = pod("broken", &[("app", "x")]);
    p.spec.containers[0].env.push(EnvVar {
        name: "X".into(),
        value: Default::default(),
        value_from: from(EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name: "settings".into(),
                key: "absent".into(),
                optional: None,
            }),
            ..Default::default()
        }),
    });
    node.create(p).await;
    let p = node
        .wait("broken", "CreateContainerConfigError", |p| {
            p.status
                .container_statuses
                .first()
                .and_then(|s| s.state.waiting.as_ref())
                .is_some_and(|w| w.reason == "CreateContainerConfigError")
        })
        .await;
    assert_eq!(p.status.phase, "Pending");
    // Once the key exists, the container starts.
    let mut cm = cms.get("settings").await.unwrap();
    cm.data.insert("absent", "present");
    cms.update(&cm).await.unwrap();
    node.wait("broken", "Running", running).await;
}

#[tokio::test(start_paused = true)]
async fn configmap_volume_is_written_and_kept_up_to_date() {
    let root = tempfile::tempdir().unwrap();
    let node = Node::start(
        config()
            .root_dir(root.path())
            .volume_sync_period(Duration::from_secs(30)),
        FakeRuntime::new(),
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(node.client.clone(), "default");
    let mut cm = ConfigMap {
        metadata: ObjectMeta::named("site"),
        ..Default::default()
    };
    cm.data.insert("index.html", "<h1>one</h1>");
    cms.create(&cm).await.unwrap();
    let mut p = pod("web", &[("web", "httpd")]);
    p.spec.volumes = vec![
        Volume {
            name: "site".into(),
            config_map: Some(Box::new(ConfigMapVolumeSource {
                name: "site".into(),
                ..Default::default()
            })),
            ..Default::default()
        },
        Volume::empty_dir("scratch"),
    ];
    p.spec.containers[0].volume_mounts = vec![
        VolumeMount {
            name: "site".into(),
            mount_path: "/www".into(),
            read_only: true,
            ..Default::default()
        },
        VolumeMount {
            name: "scratch".into(),
            mount_path: "/tmp".into(),
            ..Default::default()
        },
    ];
    node.create(p).await;
    node.wait("web", "Running", running).await;
    let cfg = node.runtime.config_of("web").unwrap();
    let www = cfg
        .mounts
        .iter()
        .find(|m| m.container_path == "/www")
        .unwrap();
    assert!(www.readonly);
    let file = std::path::Path::new(&www.host_path).join("index.html");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "<h1>one</h1>");
    let scratch = cfg
        .mounts
        .iter()
        .find(|m| m.container_path == "/tmp")
        .unwrap();
    assert!(std::path::Path::new(&scratch.host_path).is_dir());

    cm = cms.get("site").await.unwrap();
    cm.data.insert("index.html", "<h1>two</h1>");
    cms.update(&cm).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::fs::read_to_string(&file).unwrap() != "<h1>two</h1>" {
        assert!(Instant::now() < deadline, "the volume was not updated");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // The pod's directories go with it.
    node.pods
        .delete("web", &keelson::api::meta::DeleteOptions::default())
        .await
        .unwrap();
    node.wait_gone("web").await;
    assert!(!std::path::Path::new(&scratch.host_path).exists());
}

#[tokio::test(start_paused = true)]
async fn static_pods_run_and_are_mirrored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("etcd.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\nspec:\n  containers:\n  - name: etcd\n    image: etcd\n",
    )
    .unwrap();
    let node = Node::start(config().static_pod_dir(dir.path()), FakeRuntime::new()).await;
    let pods: Api<keelson::api::core::Pod> = Api::namespaced(node.client.clone(), "kube-system");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mirror = loop {
        if let Some(p) = pods.get_opt("etcd-node-1").await.unwrap() {
            if running(&p) {
                break p;
            }
        }
        assert!(Instant::now() < deadline, "no running mirror pod");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(mirror
        .metadata
        .annotations
        .contains_key("kubernetes.io/config.mirror"));
    assert_eq!(mirror.spec.node_name, "node-1");
    // Removing the manifest stops the pod and removes the mirror.
    std::fs::remove_file(dir.path().join("etcd.yaml")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while pods.get_opt("etcd-node-1").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the mirror pod stayed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(node.runtime.inner.sandbox_count(), 0);
}

async fn read_all(mut s: keelson::apiserver::PodLogStream) -> String {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(start_paused = true)]
async fn logs_reach_the_agent_through_the_api_server() {
    let runtime = FakeRuntime::new().script(
        "talker",
        Behavior::exit_after(Duration::from_secs(5), 1)
            .log("one")
            .log("two")
            .log("three"),
    );
    let node = Node::start(config(), runtime).await;
    node.create(pod("talk", &[("talker", "talker")])).await;
    node.wait("talk", "Running", running).await;
    let logs = node
        .server
        .pod_logs("default", "talk", &PodLogOptions::default())
        .await
        .unwrap();
    assert_eq!(read_all(logs).await, "one\ntwo\nthree\n");
    let tail = PodLogOptions {
        tail_lines: Some(1),
        ..Default::default()
    };
    let logs = node
        .server
        .pod_logs("default", "talk", &tail)
        .await
        .unwrap();
    assert_eq!(read_all(logs).await, "three\n");
    // After a restart, `previous` reads the terminated instance.
    node.wait("talk", "a restart", |p| {
        p.status.container_statuses[0].restart_count >= 1
    })
    .await;
    let previous = PodLogOptions {
        previous: true,
        ..Default::default()
    };
    let logs = node
        .server
        .pod_logs("default", "talk", &previous)
        .await
        .unwrap();
    assert_eq!(read_all(logs).await, "one\ntwo\nthree\n");

    // Several containers and none named: 400, as Kubernetes.
    node.create(pod("two", &[("a", "x"), ("b", "x")])).await;
    node.wait("two", "Running", running).await;
    let err = node
        .server
        .pod_logs("default", "two", &PodLogOptions::default())
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), 400);
    assert!(
        err.status().message.contains("choose one of: [a b]"),
        "{}",
        err.status().message
    );
    let named = PodLogOptions {
        container: Some("b".into()),
        ..Default::default()
    };
    assert!(node.server.pod_logs("default", "two", &named).await.is_ok());
}
