//! The deployment files agree with the code: the compose file, the Kubernetes manifests, the
//! NATS Helm values and the Dockerfile are parsed (there is no Docker engine on the
//! development machines) and checked against the binaries the workspace builds and the
//! defaults the services use (NATS on 4222, the data API on 8470, R3 on a cluster).

use std::{collections::BTreeSet, path::PathBuf};

use serde_norway::Value;

/// The repository's root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `[[bin]]` name in the service crates: what the image can run.
fn binaries() -> BTreeSet<String> {
    ["intake", "leadership", "notify", "publish", "cli"]
        .iter()
        .flat_map(|krate| {
            let manifest: toml::Value =
                toml::from_str(&read(&format!("services/{krate}/Cargo.toml")))
                    .expect("Cargo.toml parses");
            manifest
                .get("bin")
                .and_then(|b| b.as_array())
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|bin| bin.get("name")?.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The service binaries (everything but the CLI).
const SERVICES: [&str; 4] = [
    "tandem-intake",
    "tandem-leadership",
    "tandem-notify",
    "tandem-publish",
];

fn default_port(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("an address with a port")
}

/// The data API's default port, from the code.
fn publish_port() -> u16 {
    default_port(&tandem_publish::PublishConfig::default().publish_addr)
}

/// NATS's default client port, from the code.
fn nats_port() -> u16 {
    default_port(&tandem_runtime::config::NatsConfig::default().url)
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut current = value;
    for key in path {
        current = current.get(*key)?;
    }
    current.as_str()
}

/// `environment` of a compose service as pairs, whether written as a map or a list.
fn compose_env(service: &Value) -> Vec<(String, String)> {
    match service.get("environment") {
        Some(Value::Mapping(map)) => map
            .iter()
            .filter_map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((k.as_str()?.to_string(), value))
            })
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|item| {
                let (k, v) = item.as_str()?.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect(),
        _ => vec![],
    }
}

fn env_value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Published container ports of a compose service ("host:container" → container).
fn compose_ports(service: &Value) -> BTreeSet<u16> {
    service
        .get("ports")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str()?.rsplit(':').next()?.parse().ok())
        .collect()
}

#[test]
fn the_workspace_builds_every_binary_the_deployment_runs() {
    let binaries = binaries();
    for binary in SERVICES.iter().chain(&["tandem"]) {
        assert!(
            binaries.contains(*binary),
            "{binary} is not built: {binaries:?}"
        );
    }
}

#[test]
fn the_dockerfile_builds_all_five_binaries_into_a_non_root_image() {
    let dockerfile = read("deploy/docker/Dockerfile");
    let stages = dockerfile
        .lines()
        .filter(|l| l.trim_start().starts_with("FROM "))
        .count();
    assert!(stages >= 2, "multi-stage");
    for binary in SERVICES.iter().chain(&["tandem"]) {
        let package = match *binary {
            "tandem" => "-p tandem ".to_string(),
            other => format!("-p {other} "),
        };
        assert!(dockerfile.contains(&package), "{binary} is not built");
        assert!(
            dockerfile.contains(&format!("target/release/{binary} "))
                || dockerfile.contains(&format!("target/release/{binary}\n")),
            "{binary} is not copied"
        );
    }
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("USER "))
        .expect("a USER line");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "runs as {user}"
    );
    assert!(dockerfile.contains(&format!("EXPOSE {}", publish_port())));
    assert!(dockerfile.contains("--locked"));
}

#[test]
fn the_compose_file_wires_nats_jaeger_and_the_services_consistently() {
    let mut compose: Value =
        serde_norway::from_str(&read("deploy/compose/compose.yaml")).expect("compose parses");
    compose.apply_merge().expect("merge keys resolve");
    let services = compose
        .get("services")
        .and_then(Value::as_mapping)
        .expect("services");
    let names: BTreeSet<&str> = services.keys().filter_map(Value::as_str).collect();

    let nats = &compose["services"]["nats"];
    assert!(str_at(nats, &["image"]).is_some_and(|i| i.starts_with("nats:2.")));
    let command: Vec<&str> = nats["command"]
        .as_sequence()
        .expect("nats command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(command.contains(&"-js"), "JetStream enabled: {command:?}");
    assert!(compose_ports(nats).contains(&nats_port()));

    let jaeger = &compose["services"]["jaeger"];
    assert!(str_at(jaeger, &["image"]).is_some_and(|i| i.starts_with("jaegertracing/")));
    let jaeger_ports = compose_ports(jaeger);
    for port in [16686, 4317, 4318] {
        assert!(jaeger_ports.contains(&port), "Jaeger port {port}");
    }

    let mut seen_binaries = BTreeSet::new();
    for name in names.iter().filter(|n| !["nats", "jaeger"].contains(n)) {
        let service = &compose["services"][*name];
        let binary = service["command"][0].as_str().expect("command");
        assert!(SERVICES.contains(&binary), "{name} runs {binary}");
        seen_binaries.insert(binary);
        assert_eq!(str_at(service, &["image"]), Some("tandem:dev"), "{name}");
        assert_eq!(
            str_at(service, &["build", "dockerfile"]),
            Some("deploy/docker/Dockerfile")
        );
        let env = compose_env(service);
        assert_eq!(
            env_value(&env, "NATS_URL"),
            Some(format!("nats://nats:{}", nats_port()).as_str()),
            "{name}"
        );
        assert_eq!(
            env_value(&env, "OTEL_EXPORTER_OTLP_ENDPOINT"),
            Some("http://jaeger:4317"),
            "{name}"
        );
        assert_eq!(env_value(&env, "OTEL_EXPORTER_OTLP_PROTOCOL"), Some("grpc"));
        assert_eq!(env_value(&env, "OTEL_SERVICE_NAME"), Some(binary), "{name}");
        if binary == "tandem-notify" {
            let agency = env_value(&env, "TANDEM_AGENCY").expect("notify needs its agency");
            assert!(["iom", "unhcr"].contains(&agency));
        }
        if binary == "tandem-publish" {
            assert_eq!(
                env_value(&env, "TANDEM_PUBLISH_ADDR"),
                Some(format!("0.0.0.0:{}", publish_port()).as_str())
            );
            assert!(compose_ports(service).contains(&publish_port()));
        }
        for (key, _) in &env {
            assert!(
                key.starts_with("TANDEM_") || key.starts_with("OTEL_") || key == "NATS_URL",
                "{name}: {key} is not a variable the services read"
            );
        }
    }
    assert_eq!(seen_binaries, SERVICES.iter().copied().collect());
}

/// Every document of a multi-document YAML file.
fn documents(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|document| {
            use serde::Deserialize as _;
            Value::deserialize(document).expect("YAML parses")
        })
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn the_kubernetes_manifests_run_every_service_with_probes_requests_and_r3() {
    let documents = documents("deploy/k8s/tandem.yaml");
    let config_map = documents
        .iter()
        .find(|d| str_at(d, &["kind"]) == Some("ConfigMap"))
        .expect("the common ConfigMap");
    let config_name = str_at(config_map, &["metadata", "name"]).expect("name");
    assert_eq!(
        str_at(config_map, &["data", "TANDEM_STORAGE__REPLICAS"]),
        Some("3"),
        "R3 streams on the 3-node cluster"
    );
    let nats_url = str_at(config_map, &["data", "NATS_URL"]).expect("NATS_URL");
    assert!(
        nats_url.starts_with("nats://") && nats_url.ends_with(&format!(":{}", nats_port())),
        "{nats_url}"
    );
    assert!(str_at(config_map, &["data", "OTEL_EXPORTER_OTLP_ENDPOINT"]).is_some());

    let deployments: Vec<&Value> = documents
        .iter()
        .filter(|d| str_at(d, &["kind"]) == Some("Deployment"))
        .collect();
    let mut seen = BTreeSet::new();
    for deployment in &deployments {
        let name = str_at(deployment, &["metadata", "name"]).expect("name");
        assert!(
            deployment["spec"]["replicas"]
                .as_u64()
                .is_some_and(|r| r >= 1)
        );
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
        let container = &pod["containers"][0];
        assert_eq!(str_at(container, &["image"]), Some("tandem:dev"));
        let binary = container["command"][0].as_str().expect("command");
        assert!(SERVICES.contains(&binary), "{name} runs {binary}");
        seen.insert(binary);
        assert_eq!(
            container["envFrom"][0]["configMapRef"]["name"].as_str(),
            Some(config_name),
            "{name} takes the common settings"
        );
        let env: Vec<(String, String)> = container["env"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|e| Some((e["name"].as_str()?.into(), e["value"].as_str()?.into())))
            .collect();
        assert_eq!(env_value(&env, "OTEL_SERVICE_NAME"), Some(binary), "{name}");
        for key in ["cpu", "memory"] {
            assert!(
                container["resources"]["requests"].get(key).is_some(),
                "{name} requests {key}"
            );
        }
        for probe in ["readinessProbe", "livenessProbe"] {
            let probe = &container[probe];
            if binary == "tandem-publish" {
                assert_eq!(str_at(probe, &["httpGet", "path"]), Some("/healthz"));
                assert_eq!(str_at(probe, &["httpGet", "port"]), Some("http"));
            } else {
                let command: Vec<&str> = probe["exec"]["command"]
                    .as_sequence()
                    .expect("an exec probe")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let service = binary.trim_start_matches("tandem-");
                let agency = env_value(&env, "TANDEM_AGENCY");
                let expected = match agency {
                    Some(agency) => format!("{service}-{agency}"),
                    None => service.to_string(),
                };
                assert_eq!(
                    &command[..3],
                    ["tandem", "ping", expected.as_str()],
                    "{name}"
                );
            }
        }
        if binary == "tandem-publish" {
            assert_eq!(
                container["ports"][0]["containerPort"].as_u64(),
                Some(u64::from(publish_port()))
            );
            assert_eq!(
                env_value(&env, "TANDEM_PUBLISH_ADDR"),
                Some(format!("0.0.0.0:{}", publish_port()).as_str())
            );
        }
        if binary == "tandem-notify" {
            assert!(env_value(&env, "TANDEM_AGENCY").is_some(), "{name}");
        }
    }
    assert_eq!(seen, SERVICES.iter().copied().collect());
    let service = documents
        .iter()
        .find(|d| str_at(d, &["kind"]) == Some("Service"))
        .expect("the data API's Service");
    assert_eq!(
        service["spec"]["ports"][0]["port"].as_u64(),
        Some(u64::from(publish_port()))
    );

    let values: Value =
        serde_norway::from_str(&read("deploy/k8s/nats-values.yaml")).expect("values parse");
    assert_eq!(values["config"]["cluster"]["enabled"].as_bool(), Some(true));
    assert_eq!(values["config"]["cluster"]["replicas"].as_u64(), Some(3));
    assert_eq!(
        values["config"]["jetstream"]["enabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        values["config"]["jetstream"]["fileStore"]["enabled"].as_bool(),
        Some(true)
    );
}
