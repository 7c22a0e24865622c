//! The deployment files agree with the code and are secure as shipped: the compose file, the
//! Kubernetes manifests, the NATS Helm values and the Dockerfile are parsed (there is no Docker
//! engine on the development machines) and checked against the binaries the workspace builds
//! and the defaults the services use (NATS on 4222, the data API on 8470, R3 on a cluster);
//! every pod is locked down and fenced by network policies; every NATS configuration carries
//! the accounts, TLS on its listeners and monitoring on loopback, and the real `nats-server`
//! accepts each of them (with throwaway certificates made by `openssl`).

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
    // The shipped single server, with JetStream and the accounts, from the mounted directory.
    assert_eq!(command, ["-c", "/etc/nats/tandem/accounts.conf"]);
    assert!(
        nats["volumes"]
            .as_sequence()
            .expect("nats volumes")
            .iter()
            .any(|v| v.as_str() == Some("../nats:/etc/nats/tandem:ro")),
        "deploy/nats is mounted read-only"
    );
    assert!(read("deploy/nats/accounts.conf").contains("\njetstream {"));
    assert!(compose_ports(nats).contains(&nats_port()));

    let jaeger = &compose["services"]["jaeger"];
    assert!(str_at(jaeger, &["image"]).is_some_and(|i| i.starts_with("jaegertracing/")));
    let jaeger_ports = compose_ports(jaeger);
    for port in [16686, 4317, 4318] {
        assert!(jaeger_ports.contains(&port), "Jaeger port {port}");
    }

    // `tandem setup` as the admin, once NATS is up; every service waits for it to finish.
    let setup = &compose["services"]["setup"];
    assert_eq!(
        seq_of_str(&setup["command"]),
        ["tandem", "setup"],
        "the setup step"
    );
    assert_eq!(
        str_at(setup, &["depends_on", "nats", "condition"]),
        Some("service_healthy")
    );
    let setup_env = compose_env(setup);
    assert_eq!(env_value(&setup_env, "TANDEM_NATS__USER"), Some("admin"));
    assert_eq!(
        env_value(&setup_env, "NATS_URL"),
        Some(format!("nats://nats:{}", nats_port()).as_str())
    );

    let mut seen_binaries = BTreeSet::new();
    for name in names
        .iter()
        .filter(|n| !["nats", "jaeger", "setup"].contains(n))
    {
        let service = &compose["services"][*name];
        let binary = service["command"][0].as_str().expect("command");
        assert!(SERVICES.contains(&binary), "{name} runs {binary}");
        seen_binaries.insert(binary);
        assert_eq!(str_at(service, &["image"]), Some("tandem:dev"), "{name}");
        assert_eq!(
            str_at(service, &["depends_on", "setup", "condition"]),
            Some("service_completed_successfully"),
            "{name} starts after tandem setup"
        );
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
        // Each service is its own NATS user (development passwords, as in tenants.conf).
        assert_eq!(env_value(&env, "TANDEM_NATS__USER"), Some(*name), "{name}");
        assert_eq!(
            env_value(&env, "TANDEM_NATS__PASSWORD"),
            Some(format!("{name}-dev-password").as_str()),
            "{name}"
        );
        if binary == "tandem-notify" {
            let agency = env_value(&env, "TANDEM_AGENCY").expect("notify needs its agency");
            assert!(["iom", "unhcr"].contains(&agency));
            assert_eq!(
                env_value(&env, "TANDEM_NATS__INBOX_PREFIX"),
                Some(format!("_INBOX_NOTIFY_{}", agency.to_uppercase()).as_str())
            );
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

/// A sequence of strings (a command).
fn seq_of_str(value: &Value) -> Vec<&str> {
    value
        .as_sequence()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
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
        nats_url.starts_with("tls://") && nats_url.ends_with(&format!(":{}", nats_port())),
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

/// The entries of a sequence at `value` (none when it is missing).
fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_sequence().into_iter().flatten()
}

fn strings(value: &Value) -> Vec<&str> {
    items(value).filter_map(Value::as_str).collect()
}

/// A container's `securityContext` (the container's or, for the chart, its `merge`) forbids
/// privilege escalation and writes to the image, and drops every capability.
fn assert_locked_container(context: &Value, what: &str) {
    assert_eq!(
        context["allowPrivilegeEscalation"].as_bool(),
        Some(false),
        "{what}"
    );
    assert_eq!(
        context["readOnlyRootFilesystem"].as_bool(),
        Some(true),
        "{what}"
    );
    assert_eq!(strings(&context["capabilities"]["drop"]), ["ALL"], "{what}");
}

/// A pod spec runs as a non-root user under the runtime's seccomp profile, without a
/// service-account token.
fn assert_locked_pod(pod: &Value, what: &str) {
    let context = &pod["securityContext"];
    assert_eq!(context["runAsNonRoot"].as_bool(), Some(true), "{what}");
    assert!(
        context["runAsUser"].as_u64().is_some_and(|uid| uid > 0),
        "{what} runs as a numbered non-root user"
    );
    assert_eq!(
        str_at(context, &["seccompProfile", "type"]),
        Some("RuntimeDefault"),
        "{what}"
    );
    assert_eq!(
        pod["automountServiceAccountToken"].as_bool(),
        Some(false),
        "{what}"
    );
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|d| str_at(d, &["kind"]) == Some(kind))
        .collect()
}

#[test]
fn every_kubernetes_pod_is_locked_down_and_connects_as_its_own_user_over_tls() {
    let documents = documents("deploy/k8s/tandem.yaml");
    let config_map = of_kind(&documents, "ConfigMap")[0];
    assert_eq!(
        str_at(config_map, &["data", "TANDEM_NATS__REQUIRE_TLS"]),
        Some("true")
    );
    let ca = str_at(config_map, &["data", "TANDEM_NATS__TLS_CA"]).expect("the CA services trust");
    // The five services, and the admin's `tandem setup` Job (its secret holds the admin).
    let workloads: Vec<&Value> = ["Deployment", "StatefulSet", "DaemonSet", "Job"]
        .iter()
        .flat_map(|kind| of_kind(&documents, kind))
        .collect();
    assert_eq!(workloads.len(), 6);
    for workload in workloads {
        let name = str_at(workload, &["metadata", "name"]).expect("name");
        let pod = &workload["spec"]["template"]["spec"];
        assert_locked_pod(pod, name);
        for container in items(&pod["containers"]) {
            assert_locked_container(&container["securityContext"], name);
            // The service's own NATS user, from a secret named after it.
            assert!(
                items(&container["envFrom"]).any(|source| str_at(source, &["secretRef", "name"])
                    == Some(&format!(
                        "tandem-nats-{}",
                        name.trim_start_matches("tandem-")
                    ))),
                "{name} takes its NATS user from its own secret"
            );
            // The CA file is mounted, from the secret cert-manager writes.
            let mount = items(&container["volumeMounts"])
                .find(|mount| {
                    str_at(mount, &["mountPath"])
                        .is_some_and(|path| ca.starts_with(&format!("{path}/")))
                })
                .unwrap_or_else(|| panic!("{name} does not mount {ca}"));
            let volume = items(&pod["volumes"])
                .find(|volume| volume["name"] == mount["name"])
                .expect("the mounted volume");
            assert_eq!(
                str_at(volume, &["secret", "secretName"]),
                Some("nats-server-tls")
            );
        }
    }
}

/// The TCP ports a policy rule lists.
fn ports(rule: &Value) -> BTreeSet<u64> {
    items(&rule["ports"])
        .filter_map(|port| port["port"].as_u64())
        .collect()
}

#[test]
fn network_policies_deny_by_default_and_open_only_what_each_service_needs() {
    let documents = documents("deploy/k8s/tandem.yaml");
    let policies = of_kind(&documents, "NetworkPolicy");
    let everyone: Vec<&Value> = policies
        .iter()
        .copied()
        .filter(|policy| {
            policy["spec"]["podSelector"]
                .as_mapping()
                .is_some_and(|selector| selector.is_empty())
        })
        .collect();
    // Deny by default: a policy over every pod, for both directions, that allows nothing.
    assert!(
        everyone.iter().any(|policy| {
            strings(&policy["spec"]["policyTypes"]) == ["Ingress", "Egress"]
                && policy["spec"].get("ingress").is_none()
                && policy["spec"].get("egress").is_none()
        }),
        "no default-deny policy"
    );
    // What every pod may do besides: DNS only.
    for policy in &everyone {
        assert!(policy["spec"].get("ingress").is_none());
        for rule in items(&policy["spec"]["egress"]) {
            assert_eq!(ports(rule), BTreeSet::from([53]), "only DNS for every pod");
        }
    }

    let selecting = |name: &str| -> &Value {
        policies
            .iter()
            .find(|policy| {
                str_at(
                    &policy["spec"]["podSelector"],
                    &["matchLabels", "app.kubernetes.io/name"],
                ) == Some(name)
            })
            .unwrap_or_else(|| panic!("no network policy selects {name}"))
    };
    const OTLP: u64 = 4317;
    let nats = u64::from(nats_port());
    for deployment in of_kind(&documents, "Deployment") {
        let name = str_at(deployment, &["metadata", "name"]).expect("name");
        let spec = &selecting(name)["spec"];
        assert_eq!(
            strings(&spec["policyTypes"]),
            ["Ingress", "Egress"],
            "{name}"
        );
        let ingress: BTreeSet<u64> = items(&spec["ingress"]).flat_map(ports).collect();
        let egress: Vec<&Value> = items(&spec["egress"]).collect();
        // NATS, and only the NATS pods, on the client port.
        assert!(
            egress.iter().any(|rule| {
                ports(rule) == BTreeSet::from([nats])
                    && items(&rule["to"]).all(|to| {
                        str_at(
                            to,
                            &["podSelector", "matchLabels", "app.kubernetes.io/name"],
                        ) == Some("nats")
                    })
            }),
            "{name} reaches NATS"
        );
        let other_egress: BTreeSet<u64> = egress
            .iter()
            .flat_map(|rule| ports(rule))
            .filter(|port| ![nats, OTLP].contains(port))
            .collect();
        match name {
            "tandem-publish" => {
                assert_eq!(
                    ingress,
                    BTreeSet::from([u64::from(publish_port())]),
                    "{name}"
                );
                assert!(other_egress.is_empty(), "{name}: {other_egress:?}");
            }
            "tandem-notify-iom" | "tandem-notify-unhcr" => {
                assert_eq!(ingress, BTreeSet::from([8471]), "{name}: the ack links");
                assert_eq!(other_egress, BTreeSet::from([443, 465, 587]), "{name}");
                // Webhooks and mail go out to public addresses, never to private ranges.
                for rule in egress.iter().filter(|rule| ports(rule).contains(&443)) {
                    for to in items(&rule["to"]) {
                        let except = strings(&to["ipBlock"]["except"]);
                        for private in [
                            "10.0.0.0/8",
                            "172.16.0.0/12",
                            "192.168.0.0/16",
                            "169.254.0.0/16",
                            "100.64.0.0/10",
                            "127.0.0.0/8",
                        ] {
                            assert!(except.contains(&private), "{name} may reach {private}");
                        }
                    }
                }
            }
            _ => {
                assert!(ingress.is_empty(), "{name} serves nothing: {ingress:?}");
                assert!(
                    spec["ingress"].as_sequence().is_some_and(Vec::is_empty),
                    "{name}: an empty ingress list"
                );
                assert!(other_egress.is_empty(), "{name}: {other_egress:?}");
            }
        }
    }
    // NATS itself: clients on 4222 from tandem's pods, routes only between its own pods, leaf
    // nodes from outside.
    let spec = &selecting("nats")["spec"];
    let ingress: BTreeSet<u64> = items(&spec["ingress"]).flat_map(ports).collect();
    assert_eq!(ingress, BTreeSet::from([nats, 6222, 7422]));
    let egress: BTreeSet<u64> = items(&spec["egress"]).flat_map(ports).collect();
    assert_eq!(egress, BTreeSet::from([6222]));
}

#[test]
fn the_nats_chart_runs_the_accounts_with_tls_everywhere_and_monitoring_inside() {
    let values: Value =
        serde_norway::from_str(&read("deploy/k8s/nats-values.yaml")).expect("values parse");
    let config = &values["config"];
    let certificates = documents("deploy/k8s/nats-tls.yaml");
    let issued: BTreeSet<&str> = of_kind(&certificates, "Certificate")
        .into_iter()
        .filter_map(|c| str_at(c, &["spec", "secretName"]))
        .collect();
    for listener in ["nats", "cluster", "leafnodes"] {
        let tls = &config[listener]["tls"];
        assert_eq!(tls["enabled"].as_bool(), Some(true), "TLS on {listener}");
        let secret = str_at(tls, &["secretName"]).expect("a certificate secret");
        assert!(
            issued.contains(secret),
            "{secret} is not issued: {issued:?}"
        );
    }
    // A CA on the routes makes the chart set `verify`: mutual TLS between the servers.
    assert_eq!(str_at(&config["cluster"]["tls"], &["ca"]), Some("ca.crt"));
    // The chart's monitor listens on every interface: off, and on loopback instead.
    assert_eq!(config["monitor"]["enabled"].as_bool(), Some(false));
    assert!(str_at(&config["merge"], &["http"]).is_some_and(|h| h.starts_with("127.0.0.1:")));
    // The accounts: tenants.conf from a secret, included relative to /etc/nats-config.
    let include = str_at(&config["merge"], &["$include"]).expect("an include");
    assert!(include.ends_with("/tenants.conf"), "{include}");
    let mount_dir = format!(
        "/etc/nats-config/{}",
        include
            .trim_start_matches("./")
            .trim_end_matches("/tenants.conf")
    );
    let volume = items(&values["podTemplate"]["patch"])
        .map(|op| &op["value"])
        .find(|value| str_at(value, &["secret", "secretName"]) == Some("nats-tenants"))
        .expect("a volume of the nats-tenants secret");
    for container in ["container", "reloader"] {
        assert!(
            items(&values[container]["patch"]).any(|op| {
                op["value"]["name"] == volume["name"]
                    && str_at(&op["value"], &["mountPath"]) == Some(mount_dir.as_str())
            }),
            "{container} mounts tenants.conf at {mount_dir}"
        );
        assert_locked_container(&values[container]["merge"]["securityContext"], container);
    }
    assert_locked_pod(&values["podTemplate"]["merge"]["spec"], "nats");
    assert_eq!(values["natsBox"]["enabled"].as_bool(), Some(false));
    // The probes ask the loopback monitor from inside the container.
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let command = strings(&values["container"]["merge"][probe]["exec"]["command"]);
        assert!(
            command
                .last()
                .is_some_and(|url| url.starts_with("http://127.0.0.1:8222/healthz")),
            "{probe}: {command:?}"
        );
    }
}

#[test]
fn compose_publishes_ports_on_loopback_and_locks_every_container() {
    let mut compose: Value =
        serde_norway::from_str(&read("deploy/compose/compose.yaml")).expect("compose parses");
    compose.apply_merge().expect("merge keys resolve");
    let services = compose["services"].as_mapping().expect("services");
    let mut published = 0;
    for (name, service) in services {
        let name = name.as_str().expect("a name");
        for port in strings(&service["ports"]) {
            published += 1;
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name} publishes {port} beyond this machine"
            );
        }
        assert_eq!(service["read_only"].as_bool(), Some(true), "{name}");
        assert_eq!(strings(&service["cap_drop"]), ["ALL"], "{name}");
        assert!(
            strings(&service["security_opt"]).contains(&"no-new-privileges:true"),
            "{name}"
        );
    }
    assert!(published >= 5, "NATS, Jaeger's three and the data API");
}

/// The lines of a NATS configuration, each with the names of the blocks it is in (`cluster.tls`;
/// the entries of a list count as its block), comments dropped. A block opened and closed on
/// one line counts as a line of its own block.
fn nats_lines(text: &str) -> Vec<(String, String)> {
    let mut path: Vec<String> = vec![];
    let mut lines = vec![];
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let name = line
            .split(['{', '[', ':', ' '])
            .next()
            .unwrap_or_default()
            .to_string();
        let count = |set: [char; 2]| line.chars().filter(|c| set.contains(c)).count();
        let (opened, closed) = (count(['{', '[']), count(['}', ']']));
        let within = |extra: &str| {
            path.iter()
                .map(String::as_str)
                .chain([extra])
                .filter(|name| !name.is_empty())
                .collect::<Vec<_>>()
                .join(".")
        };
        if opened > closed {
            path.push(name);
            path.extend(std::iter::repeat_n(String::new(), opened - closed - 1));
        } else if closed > opened {
            path.truncate(path.len().saturating_sub(closed - opened));
        } else if opened > 0 {
            lines.push((within(&name), line.to_string()));
        } else {
            lines.push((within(""), line.to_string()));
        }
    }
    lines
}

/// The lines of `block` (a dotted path; "" is the top level).
fn in_block<'a>(lines: &'a [(String, String)], block: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|(path, _)| path == block)
        .map(|(_, line)| line.as_str())
        .collect()
}

/// Every NATS configuration a server runs from deploy/nats.
const SERVER_CONFIGS: [&str; 4] = [
    "accounts.conf",
    "cluster-node1.conf",
    "cluster-node2.conf",
    "cluster-node3.conf",
];

/// A size as NATS and Kubernetes write it (`8GB`, `256MB`, `16Gi`), in bytes.
fn bytes(size: &str) -> u64 {
    let size = size.trim().trim_matches('"');
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &size[digits.len()..] {
        "" | "B" => 1,
        "K" | "KB" | "Ki" => 1 << 10,
        "M" | "MB" | "Mi" => 1 << 20,
        "G" | "GB" | "Gi" => 1 << 30,
        "T" | "TB" | "Ti" => 1 << 40,
        other => panic!("unknown unit {other} in {size}"),
    };
    digits.parse::<u64>().expect("a number") * unit
}

/// The value of `key` in a `{ key: value, ... }` line or a `key: value` line.
fn setting<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(&format!("{key}:"))? + key.len() + 1..];
    rest.split([',', '}']).next().map(str::trim)
}

#[test]
fn every_shipped_nats_server_includes_the_accounts_and_keeps_monitoring_on_loopback() {
    // The limits every server takes with the accounts.
    let tenants = read("deploy/nats/tenants.conf");
    let lines = nats_lines(&tenants);
    let top = in_block(&lines, "");
    for limit in ["max_connections:", "max_subscriptions:", "max_pending:"] {
        assert!(top.iter().any(|line| line.starts_with(limit)), "{limit}");
    }
    let jetstream = in_block(&lines, "accounts.TANDEM.jetstream")
        .pop()
        .expect("TANDEM's JetStream");
    for limit in ["max_streams", "max_consumers"] {
        assert!(
            setting(jetstream, limit).is_some(),
            "TANDEM's JetStream has no {limit}"
        );
    }
    // Each tenant account's own limits: connections in all (together under the server's, so
    // the tenants cannot lock tandem's services out), subscriptions and payload per connection,
    // leaf nodes (none for the partners). A tenant's message may be as large as its intake
    // stream stores, and no larger.
    let server_connections: u64 = top
        .iter()
        .find_map(|line| setting(line, "max_connections"))
        .and_then(|value| value.parse().ok())
        .expect("the server's max_connections");
    let stored = tandem_runtime::topology::intake_streams(&Default::default())[0].max_message_size;
    let mut tenant_connections = 0;
    for account in ["IOM", "UNHCR", "PARTNERS"] {
        let limits = in_block(&lines, &format!("accounts.{account}.limits"));
        assert_eq!(
            limits.len(),
            1,
            "{account} has one limits block: {limits:?}"
        );
        let limit =
            |key: &str| setting(limits[0], key).unwrap_or_else(|| panic!("{account} has no {key}"));
        let number = |key: &str| limit(key).parse::<u64>().expect("a number");
        tenant_connections += number("max_connections");
        assert!(number("max_subscriptions") > 0, "{account}");
        assert_eq!(
            bytes(limit("max_payload")),
            u64::try_from(stored).expect("a size"),
            "{account}"
        );
        let leaf_nodes = number("max_leafnodes");
        if account == "PARTNERS" {
            assert_eq!(leaf_nodes, 0, "partners attach no leaf node");
        } else {
            assert!(leaf_nodes > 0, "{account} may attach its leaf node");
        }
    }
    assert!(
        tenant_connections < server_connections,
        "the tenants' {tenant_connections} connections leave none of the server's \
         {server_connections} to tandem"
    );
    let account_file = bytes(setting(jetstream, "max_file").expect("TANDEM's max_file"));
    let account_memory = bytes(setting(jetstream, "max_mem").expect("TANDEM's max_mem"));
    // Only TANDEM has JetStream.
    for account in ["IOM", "UNHCR", "PARTNERS", "SYS"] {
        assert!(
            lines.iter().all(|(path, line)| {
                !path.starts_with(&format!("accounts.{account}")) || !line.starts_with("jetstream")
            }),
            "{account}"
        );
    }

    for file in SERVER_CONFIGS {
        let lines = nats_lines(&read(&format!("deploy/nats/{file}")));
        let top = in_block(&lines, "");
        assert!(
            top.contains(&"include ./tenants.conf"),
            "{file}: no accounts"
        );
        let monitoring: Vec<&&str> = top
            .iter()
            .filter(|line| line.starts_with("http") || line.starts_with("monitor"))
            .collect();
        assert_eq!(monitoring.len(), 1, "{file}: {monitoring:?}");
        assert!(
            monitoring[0].starts_with("http: 127.0.0.1:"),
            "{file}: monitoring on {}",
            monitoring[0]
        );
        assert!(top.contains(&"max_payload: 2MB"), "{file}");
        // A server whose store is smaller than the account's limit refuses to start.
        let store = in_block(&lines, "jetstream");
        let size = |key: &str| {
            store
                .iter()
                .find_map(|line| setting(line, key))
                .map(bytes)
                .unwrap_or_else(|| panic!("{file}: no {key}"))
        };
        assert!(size("max_file_store") >= account_file, "{file}");
        assert!(size("max_memory_store") >= account_memory, "{file}");
    }
    let values: Value =
        serde_norway::from_str(&read("deploy/k8s/nats-values.yaml")).expect("values parse");
    let store = &values["config"]["jetstream"];
    let size = |path: &[&str]| bytes(str_at(store, path).expect("a store size"));
    assert!(size(&["fileStore", "maxSize"]) >= account_file);
    assert!(size(&["fileStore", "pvc", "size"]) >= size(&["fileStore", "maxSize"]));
    assert!(size(&["memoryStore", "maxSize"]) >= account_memory);
}

#[test]
fn the_cluster_and_leaf_configurations_take_tls_on_every_listener() {
    for file in &SERVER_CONFIGS[1..] {
        let lines = nats_lines(&read(&format!("deploy/nats/{file}")));
        for block in ["tls", "cluster.tls", "leafnodes.tls"] {
            let tls = in_block(&lines, block);
            for key in ["cert_file:", "key_file:"] {
                assert!(
                    tls.iter()
                        .any(|line| line.starts_with(key) && line.contains("/etc/nats/tls/")),
                    "{file}: {block} has no {key}"
                );
            }
        }
        // Routes: mutual TLS, so a server without a certificate of the CA cannot join.
        let routes = in_block(&lines, "cluster.tls");
        assert!(routes.contains(&"verify: true"), "{file}");
        assert!(
            routes.iter().any(|line| line.starts_with("ca_file:")),
            "{file}"
        );
    }
    let leaf = read("deploy/nats/leafnode-agency.conf");
    let lines = nats_lines(&leaf);
    let remote = in_block(&lines, "leafnodes.remotes.urls");
    assert!(
        remote
            .iter()
            .any(|line| line.starts_with("urls: [\"tls://")),
        "the leaf connects over TLS: {remote:?}"
    );
    assert!(
        in_block(&lines, "leafnodes.remotes.tls")
            .iter()
            .any(|line| line.contains("ca_file: \"/etc/nats/tls/ca.crt\"")),
        "the leaf checks the hub's certificate"
    );
    assert!(
        in_block(&lines, "")
            .iter()
            .all(|line| !line.starts_with("http")),
        "the leaf serves no monitoring"
    );
}

/// Every nats-server the tests run: the default one, and the current release the clusters run
/// on when `NATS_CLUSTER_SERVER_BIN` names it (`scripts/test` fetches it).
fn server_binaries() -> Vec<PathBuf> {
    let mut binaries =
        vec![tandem_runtime::nats::server_binary().expect("nats-server is installed")];
    binaries.extend(std::env::var_os("NATS_CLUSTER_SERVER_BIN").map(PathBuf::from));
    binaries
}

#[test]
fn the_real_server_accepts_every_shipped_nats_configuration() {
    for binary in server_binaries() {
        accepts_every_shipped_configuration(&binary);
    }
}

fn accepts_every_shipped_configuration(binary: &std::path::Path) {
    let dir = tempfile::tempdir().expect("a directory");
    let tls = dir.path().join("tls");
    std::fs::create_dir(&tls).expect("tls directory");
    tandem_testkit::certs::throwaway(&tls);
    std::fs::write(
        dir.path().join("tenants.conf"),
        read("deploy/nats/tenants.conf"),
    )
    .expect("tenants.conf");
    let store = dir.path().join("jetstream");
    for file in SERVER_CONFIGS.iter().chain(&["leafnode-agency.conf"]) {
        // Only the certificates' and the store's directories are moved here.
        let text = read(&format!("deploy/nats/{file}"))
            .replace("/etc/nats/tls/", &format!("{}/", tls.display()))
            .replace("/var/lib/nats/jetstream", &store.display().to_string());
        let path = dir.path().join(file);
        std::fs::write(&path, text).expect("write");
        let output = std::process::Command::new(binary)
            .arg("-t")
            .arg("-c")
            .arg(&path)
            .output()
            .expect("nats-server runs");
        let said = String::from_utf8_lossy(&output.stderr).into_owned()
            + &String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && said.contains("is valid"),
            "{file} is refused by {}: {said}",
            binary.display()
        );
    }
}
