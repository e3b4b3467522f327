//! The deployment files: the systemd unit passes `systemd-analyze verify` with no warning; the
//! Kubernetes manifests agree with the daemon (its endpoints, port, secret files, endpoint
//! token, grace period), open only its port and mount no service account token, and their
//! configuration loads; the Dockerfile is multi-stage, non-root, with a HEALTHCHECK, and names
//! the endpoint token beside its open listen address.

use std::collections::HashMap;
use std::path::Path;

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(repo("deploy/systemd/esg-sync.service")).unwrap();
    for key in [
        "DynamicUser=yes",
        "StateDirectory=esg-sync",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "LoadCredential=workiva-client-secret:",
        "ESG_SYNC__WORKIVA__CLIENT_SECRET_FILE=%d/workiva-client-secret",
        "KillSignal=SIGTERM",
    ] {
        assert!(unit.contains(key), "the unit lacks {key}");
    }
    let stop: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        stop > esg_sync::config::DaemonConfig::default().grace_period_secs,
        "systemd waits longer than the grace period"
    );
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze is not installed here");
        return;
    }
    // verify checks that ExecStart's binary exists: point it at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("esg-sync.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/esg-sync", env!("CARGO_BIN_EXE_esg-sync")),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // verify exits 0 on unknown keys and bad values, with a warning: none is allowed.
    assert!(
        stderr.trim().is_empty(),
        "systemd-analyze verify warned:\n{stderr}"
    );
}

fn docs(file: &str) -> Vec<serde_yaml::Value> {
    let text = std::fs::read_to_string(repo(&format!("deploy/kubernetes/{file}"))).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

/// The documents of a variant's kustomization (`""` or `"replicas/"`), by kind.
fn variant(dir: &str) -> HashMap<String, Vec<serde_yaml::Value>> {
    let kustomization = &docs(&format!("{dir}kustomization.yaml"))[0];
    let mut kinds: HashMap<String, Vec<serde_yaml::Value>> = HashMap::new();
    for f in kustomization["resources"].as_sequence().unwrap() {
        for d in docs(&format!("{dir}{}", f.as_str().unwrap())) {
            kinds
                .entry(d["kind"].as_str().unwrap().to_string())
                .or_default()
                .push(d);
        }
    }
    kinds
}

/// The variants: directory and documents.
fn variants() -> Vec<(&'static str, HashMap<String, Vec<serde_yaml::Value>>)> {
    ["", "replicas/"]
        .into_iter()
        .map(|d| (d, variant(d)))
        .collect()
}

/// Every pod spec of a variant's workloads: what it is, and the spec.
fn pod_specs(kinds: &HashMap<String, Vec<serde_yaml::Value>>) -> Vec<(String, serde_yaml::Value)> {
    let mut out = Vec::new();
    for d in kinds.get("Deployment").into_iter().flatten() {
        out.push((
            format!("Deployment {}", d["metadata"]["name"].as_str().unwrap()),
            d["spec"]["template"]["spec"].clone(),
        ));
    }
    for d in kinds.get("CronJob").into_iter().flatten() {
        out.push((
            format!("CronJob {}", d["metadata"]["name"].as_str().unwrap()),
            d["spec"]["jobTemplate"]["spec"]["template"]["spec"].clone(),
        ));
    }
    for k in ["StatefulSet", "DaemonSet", "Job", "Pod"] {
        assert!(!kinds.contains_key(k), "a {k}: add it to pod_specs");
    }
    out
}

/// A Secret of the variant by name: its keys and values.
fn secret<'a>(
    kinds: &'a HashMap<String, Vec<serde_yaml::Value>>,
    name: &str,
) -> &'a serde_yaml::Value {
    &kinds["Secret"]
        .iter()
        .find(|d| d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Secret {name}"))["stringData"]
}

/// The mount path of the volume of `pod` that holds Secret `secret_name`, in `container`.
fn secret_mount(
    pod: &serde_yaml::Value,
    container: &serde_yaml::Value,
    secret_name: &str,
) -> Option<String> {
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["secret"]["secretName"] == secret_name)?["name"]
        .as_str()
        .unwrap()
        .to_string();
    let m = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume.as_str())?;
    assert_eq!(m["readOnly"], true, "{secret_name} is mounted read-only");
    Some(m["mountPath"].as_str().unwrap().to_string())
}

/// A container's volume mounts: name to path.
fn mounts_of(container: &serde_yaml::Value) -> HashMap<String, String> {
    container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["mountPath"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A container's environment with literal values (those from a secretKeyRef left out).
fn literal_env(container: &serde_yaml::Value) -> Vec<(String, String)> {
    container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// The Secret holding the endpoints' token.
const API_TOKEN_SECRET: &str = "esg-sync-api-token";

#[test]
fn the_kubernetes_manifests_agree_with_the_daemon() {
    let kinds = variant("");
    for k in ["Deployment", "ConfigMap", "Secret", "PersistentVolumeClaim"] {
        assert!(kinds.contains_key(k), "no {k}");
    }
    let dep = &kinds["Deployment"][0];
    assert_eq!(dep["spec"]["replicas"], 1);
    assert_eq!(dep["spec"]["strategy"]["type"], "Recreate");
    let pod = &dep["spec"]["template"];
    let ann = &pod["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/scrape"], "true");
    assert_eq!(ann["prometheus.io/path"], "/metrics");
    let port = ann["prometheus.io/port"].as_str().unwrap();
    let c = &pod["spec"]["containers"][0];
    assert_eq!(
        c["ports"][0]["containerPort"].as_u64().unwrap().to_string(),
        port
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    let env = literal_env(c);
    assert_eq!(env.len(), c["env"].as_sequence().unwrap().len());
    let get = |k: &str| env.iter().find(|e| e.0 == k).unwrap().1.clone();
    assert_eq!(get("ESG_SYNC__DAEMON__LISTEN"), format!("0.0.0.0:{port}"));
    // The secret's file is inside the secret's mount, and the state inside the volume.
    let mounts = mounts_of(c);
    let workiva = pod["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "workiva-secret")
        .unwrap()["secret"]["secretName"]
        .as_str()
        .unwrap();
    let secret_key = secret(&kinds, workiva)
        .as_mapping()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        get("ESG_SYNC__WORKIVA__CLIENT_SECRET_FILE"),
        format!("{}/{secret_key}", mounts["workiva-secret"])
    );
    assert!(get("ESG_SYNC__STORE__URL").contains(&mounts["state"]));
    // The configuration file loads, with the Deployment's environment on top.
    let toml = kinds["ConfigMap"][0]["data"]["esg-sync.toml"]
        .as_str()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("esg-sync.toml");
    std::fs::write(&f, toml).unwrap();
    let config_arg = c["args"].as_sequence().unwrap();
    assert_eq!(
        config_arg.last().unwrap().as_str().unwrap(),
        format!("{}/esg-sync.toml", mounts["config"])
    );
    let s = esg_sync::config::Settings::load_with_env(Some(&f), env.clone()).unwrap();
    assert_eq!(s.daemon.listen, format!("0.0.0.0:{port}"));
    assert!(s.pipelines.iter().all(|p| p.schedule.is_some()));
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    assert!(grace > s.daemon.grace_period_secs);
}

#[test]
fn the_replicas_variant_runs_several_daemons_on_postgres_with_a_budget_and_a_backfill_job() {
    let kinds = variant("replicas/");
    for k in [
        "Deployment",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
        "CronJob",
    ] {
        assert!(kinds.contains_key(k), "no {k}");
    }
    assert!(
        !kinds.contains_key("PersistentVolumeClaim"),
        "the state is in Postgres, not on a volume"
    );
    let dep = &kinds["Deployment"][0];
    assert!(dep["spec"]["replicas"].as_u64().unwrap() >= 2);
    assert_eq!(dep["spec"]["strategy"]["type"], "RollingUpdate");
    let labels = &dep["spec"]["template"]["metadata"]["labels"];
    let pdb = &kinds["PodDisruptionBudget"][0];
    assert_eq!(pdb["spec"]["selector"]["matchLabels"], *labels);
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    // The store's URL (with its password) comes from a Secret that exists, never the file.
    let env_of = |c: &serde_yaml::Value| -> HashMap<String, serde_yaml::Value> {
        c["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap().to_string(), e.clone()))
            .collect()
    };
    let pod = &dep["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let cron = &kinds["CronJob"][0];
    let job = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let jc = &job["containers"][0];
    for (what, container) in [("daemon", c), ("backfill", jc)] {
        let env = env_of(container);
        let store = &env["ESG_SYNC__STORE__URL"]["valueFrom"]["secretKeyRef"];
        let url = secret(&kinds, store["name"].as_str().unwrap())[store["key"].as_str().unwrap()]
            .as_str()
            .unwrap();
        assert!(url.starts_with("postgres://"), "{what}: {url}");
        // Each secret file named is inside a mounted secret volume.
        let mounts = mounts_of(container);
        let file = env["ESG_SYNC__WORKIVA__CLIENT_SECRET_FILE"]["value"]
            .as_str()
            .unwrap();
        assert!(
            file.starts_with(&mounts["workiva-secret"]),
            "{what}: {file}"
        );
        assert!(mounts.contains_key("alerts-secret"), "{what}");
    }
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    assert_eq!(job["restartPolicy"], "Never");
    assert_eq!(jc["args"][0], "run-now");
    assert_eq!(c["args"][0], "daemon");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    // The configuration loads with the Deployment's environment, the store a Postgres URL;
    // and with the backfill job's, on top of the image's (which listens on 0.0.0.0).
    let toml = kinds["ConfigMap"][0]["data"]["esg-sync.toml"]
        .as_str()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("esg-sync.toml");
    std::fs::write(&f, toml).unwrap();
    let postgres = (
        "ESG_SYNC__STORE__URL".to_string(),
        "postgres://esg_sync:x@postgres:5432/esg_sync".to_string(),
    );
    let mut env = literal_env(c);
    env.push(postgres.clone());
    assert!(
        env.iter()
            .any(|(k, v)| k == "ESG_SYNC__DAEMON__LISTEN" && v == "0.0.0.0:9184")
    );
    let s = esg_sync::config::Settings::load_with_env(Some(&f), env).unwrap();
    assert!(s.store.url.expose().starts_with("postgres://"));
    assert_eq!(
        s.alerts[0].secret_file.as_deref(),
        Some(std::path::Path::new("/run/secrets/alerts/signing-secret"))
    );
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > s.daemon.grace_period_secs);
    let mut job_env = image_env();
    job_env.extend(literal_env(jc));
    job_env.push(postgres);
    let s = esg_sync::config::Settings::load_with_env(Some(&f), job_env)
        .unwrap_or_else(|e| panic!("the backfill job's configuration: {e}"));
    assert!(s.daemon.auth.is_some());
}

#[test]
fn each_kubernetes_variant_has_a_network_policy_opening_only_the_daemon_port() {
    for (dir, kinds) in variants() {
        let dep = &kinds["Deployment"][0];
        let pod = &dep["spec"]["template"];
        let labels = pod["metadata"]["labels"].as_mapping().unwrap();
        let port = &pod["spec"]["containers"][0]["ports"][0];
        let policies = kinds
            .get("NetworkPolicy")
            .unwrap_or_else(|| panic!("{dir}: no NetworkPolicy in the kustomization"));
        // The policy selects the daemon's pods: each label it asks for, they carry.
        let np = policies
            .iter()
            .find(|np| {
                let sel = np["spec"]["podSelector"]["matchLabels"].as_mapping();
                sel.is_some_and(|sel| {
                    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
                })
            })
            .unwrap_or_else(|| panic!("{dir}: no NetworkPolicy selects the daemon's pods"));
        assert!(
            np["spec"]["podSelector"]["matchExpressions"].is_null(),
            "{dir}"
        );
        let types: Vec<&str> = np["spec"]["policyTypes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(types.contains(&"Ingress"), "{dir}: {types:?}");
        // Egress stays open: not restricted, or allowed everywhere by an empty rule.
        assert!(
            !types.contains(&"Egress")
                || np["spec"]["egress"].as_sequence().is_some_and(|r| r
                    .iter()
                    .any(|r| r.as_mapping().is_some_and(|m| m.is_empty()))),
            "{dir}: egress must stay open (Workiva, the store, the lake)"
        );
        // Every ingress rule opens the daemon's port, and nothing else.
        let rules = np["spec"]["ingress"].as_sequence().unwrap();
        assert!(!rules.is_empty(), "{dir}: the port is opened");
        for r in rules {
            let ports = r["ports"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{dir}: an ingress rule opens every port"));
            assert!(!ports.is_empty(), "{dir}");
            for p in ports {
                assert!(
                    p["port"] == port["containerPort"] || p["port"] == port["name"],
                    "{dir}: ingress opens {:?}, the daemon listens on {:?}",
                    p["port"],
                    port["containerPort"]
                );
                assert!(p["protocol"].is_null() || p["protocol"] == "TCP", "{dir}");
                assert!(p["endPort"].is_null(), "{dir}: a range of ports");
            }
            assert!(
                r["from"].as_sequence().is_some_and(|f| !f.is_empty()),
                "{dir}"
            );
        }
        // No workload mounts a service account token: none calls the Kubernetes API.
        for (what, spec) in pod_specs(&kinds) {
            assert_eq!(
                spec["automountServiceAccountToken"], false,
                "{dir}{what}: automountServiceAccountToken: false"
            );
        }
    }
}

#[test]
fn every_kubernetes_workload_mounts_the_endpoint_token_and_its_configuration_needs_it() {
    for (dir, kinds) in variants() {
        let token = secret(&kinds, API_TOKEN_SECRET);
        let toml = kinds["ConfigMap"][0]["data"]["esg-sync.toml"]
            .as_str()
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("esg-sync.toml");
        std::fs::write(&f, toml).unwrap();
        for (what, spec) in pod_specs(&kinds) {
            for c in spec["containers"].as_sequence().unwrap() {
                let what = format!("{dir}{what}/{}", c["name"].as_str().unwrap());
                let mount = secret_mount(&spec, c, API_TOKEN_SECRET)
                    .unwrap_or_else(|| panic!("{what}: {API_TOKEN_SECRET} is not mounted"));
                let env = literal_env(c);
                let file = &env
                    .iter()
                    .find(|(k, _)| k == "ESG_SYNC__DAEMON__AUTH__TOKEN_FILE")
                    .unwrap_or_else(|| panic!("{what}: no ESG_SYNC__DAEMON__AUTH__TOKEN_FILE"))
                    .1;
                let key = file
                    .strip_prefix(&format!("{mount}/"))
                    .unwrap_or_else(|| panic!("{what}: {file} is not inside {mount}"));
                assert!(
                    token.get(key).is_some(),
                    "{what}: {API_TOKEN_SECRET} has no key {key}"
                );
                assert!(
                    !env.iter()
                        .any(|(k, _)| k == "ESG_SYNC__DAEMON__AUTH__TOKEN_ENV"),
                    "{what}: token_file and token_env both set"
                );
                // The image's environment, then the container's: the configuration loads
                // with the token (only its being named is checked at load), not without.
                let store = (
                    "ESG_SYNC__STORE__URL".to_string(),
                    "postgres://esg_sync:x@postgres:5432/esg_sync".to_string(),
                );
                let mut full = image_env();
                full.extend(env.iter().cloned());
                if !env.iter().any(|(k, _)| k == &store.0) {
                    // From a secretKeyRef: a stand-in.
                    full.push(store);
                }
                let s = esg_sync::config::Settings::load_with_env(Some(&f), full.clone())
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(s.daemon.off_loopback(), "{what}");
                assert_eq!(
                    s.daemon.auth.as_ref().unwrap().token_file.as_deref(),
                    Some(Path::new(file.as_str())),
                    "{what}"
                );
                assert!(
                    s.daemon.allowed_hosts.iter().any(|h| h == "esg-sync"),
                    "{what}: {:?}",
                    s.daemon.allowed_hosts
                );
                let without: Vec<_> = full
                    .into_iter()
                    .filter(|(k, _)| !k.starts_with("ESG_SYNC__DAEMON__AUTH__"))
                    .collect();
                let e = esg_sync::config::Settings::load_with_env(Some(&f), without)
                    .expect_err("refused without the token")
                    .to_string();
                assert!(e.contains("[daemon.auth]"), "{what}: {e}");
            }
        }
        // The placeholder is no token: the daemon refuses it until one is generated.
        let placeholder = token.as_mapping().unwrap().values().next().unwrap();
        assert!(
            placeholder.as_str().unwrap().len() < esg_sync::config::daemon::MIN_TOKEN_BYTES,
            "{dir}: the committed token would be accepted"
        );
    }
}

/// The environment the Dockerfile's `ENV` instructions set.
fn image_env() -> Vec<(String, String)> {
    let d = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    let joined = d.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|l| l.strip_prefix("ENV "))
        .flat_map(|l| l.split_whitespace())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or_else(|| panic!("ENV {kv}"));
            (k.to_string(), v.trim_matches('"').to_string())
        })
        .collect()
}

#[test]
fn the_dockerfile_is_multi_stage_non_root_with_a_healthcheck() {
    let d = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    assert_eq!(
        d.matches("\nFROM ").count() + usize::from(d.starts_with("FROM ")),
        2
    );
    assert!(d.contains("HEALTHCHECK"), "no HEALTHCHECK");
    assert!(d.contains("\"healthcheck\""));
    let user = d
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .unwrap();
    assert_ne!(user.trim(), "root");
    assert!(d.contains("ESG_SYNC__DAEMON__LISTEN=0.0.0.0:9184"));
}

#[test]
fn the_dockerfile_listens_off_loopback_only_with_the_endpoint_token() {
    let env = image_env();
    let get = |k: &str| env.iter().find(|e| e.0 == k).map(|e| e.1.as_str());
    assert_eq!(get("ESG_SYNC__DAEMON__LISTEN"), Some("0.0.0.0:9184"));
    assert_eq!(
        get("ESG_SYNC__DAEMON__AUTH__TOKEN_FILE"),
        Some("/run/secrets/esg-sync-api-token")
    );
    // The image's environment alone is a configuration that loads (the HEALTHCHECK's
    // `esg-sync healthcheck` reads it), with the token named.
    let s = esg_sync::config::Settings::load_with_env(None, env.clone()).unwrap();
    assert!(s.daemon.off_loopback());
    assert_eq!(
        s.daemon.auth.unwrap().token_file.as_deref(),
        Some(Path::new("/run/secrets/esg-sync-api-token"))
    );
}

#[test]
fn the_example_and_demo_configurations_load() {
    for f in ["config/example.toml", "config/demo.toml"] {
        let s = esg_sync::config::Settings::load_with_env(Some(&repo(f)), vec![])
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(
            s.pipelines.iter().all(|p| p.schedule.is_some()),
            "{f}: every pipeline has a schedule, so the daemon runs them"
        );
    }
}

#[test]
fn the_operations_page_lists_every_metric() {
    let page = std::fs::read_to_string(repo("docs/operations.md")).unwrap();
    for (name, kind, _) in esg_sync::telemetry::catalogue() {
        assert!(
            page.contains(&format!("| `{name}` | {kind} |")),
            "docs/operations.md's metrics table lacks {name} ({kind})"
        );
    }
}

/// The keys a table of the configuration accepts, read from serde's own refusal of an
/// unknown key ("unknown field `zz_probe`, expected one of `a`, `b`").
fn accepted_keys(toml_text: &str) -> Vec<String> {
    let err = toml::from_str::<esg_sync::config::Settings>(toml_text)
        .expect_err("zz_probe is refused")
        .to_string();
    let list = err
        .split("expected one of ")
        .nth(1)
        .or_else(|| err.split("expected ").nth(1))
        .unwrap_or_else(|| panic!("no key list in: {err}"));
    list.split(',')
        .filter_map(|k| k.split('`').nth(1))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_configuration_key_is_documented_in_the_example() {
    let example = std::fs::read_to_string(repo("config/example.toml")).unwrap();
    let pipeline = "[[pipeline]]\nname = \"p\"\nprogram = \"P\"\nsource = [\"x\"]\n";
    let tables = [
        ("", "zz_probe = 1\n".to_string()),
        ("workiva", "[workiva]\nzz_probe = 1\n".into()),
        ("store", "[store]\nzz_probe = 1\n".into()),
        ("emulator", "[emulator]\nzz_probe = 1\n".into()),
        ("daemon", "[daemon]\nzz_probe = 1\n".into()),
        ("daemon.auth", "[daemon.auth]\nzz_probe = 1\n".into()),
        ("catalog", "[catalog]\nzz_probe = 1\n".into()),
        (
            "reviewer",
            "[[reviewer]]\nname = \"r\"\nprogram = \"P\"\nprincipal = \"U\"\nzz_probe = 1\n".into(),
        ),
        (
            "alert",
            "[[alert]]\nname = \"a\"\nurl = \"https://x\"\nzz_probe = 1\n".into(),
        ),
        ("pipeline", format!("{pipeline}zz_probe = 1\n")),
        (
            "pipeline.columns",
            format!("{pipeline}[pipeline.columns]\nzz_probe = 1\n"),
        ),
        (
            "pipeline.status",
            format!("{pipeline}[pipeline.status]\nzz_probe = 1\n"),
        ),
        (
            "pipeline.review",
            format!("{pipeline}[pipeline.review]\nzz_probe = 1\n"),
        ),
    ];
    let mut missing = Vec::new();
    for (table, text) in tables {
        let keys = accepted_keys(&text);
        assert!(!keys.is_empty(), "{table}: {keys:?}");
        for key in keys {
            // A key is documented when the example sets it, shows it commented out, or
            // heads a table with it (`[daemon.auth]` for daemon.auth).
            let documented = example.lines().any(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.starts_with(&format!("{key} ="))
                    || l.starts_with(&format!("[{key}]"))
                    || l.starts_with(&format!("[{table}.{key}]"))
                    || l.starts_with(&format!("[[{key}]]"))
                    || l.starts_with(&format!("[pipeline.{key}"))
                    || (l.starts_with("[pipeline.") && l.contains(&format!(".{key}]")))
                    || l.contains(&format!("{{ {key} ="))
                    || l.contains(&format!(", {key} ="))
            });
            if !documented {
                missing.push(format!("{table}.{key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "config/example.toml does not document: {missing:?}"
    );
}
