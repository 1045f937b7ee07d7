//! docker's JSON for a container (`container inspect`, `inspect`), its keys in docker's
//! order: structs serialise field by field.

use super::lookup::live_state;
use super::spec::RunConfig;
use serde::Serialize;
use serde_json::{json, Value};
use store_layout::{ContainerRecord, ContainerStatus, Store, StoreError};

/// Go's zero time, as docker prints a time that never was.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `State`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateJson {
    status: String,
    running: bool,
    paused: bool,
    restarting: bool,
    #[serde(rename = "OOMKilled")]
    oom_killed: bool,
    dead: bool,
    pid: i32,
    exit_code: i32,
    error: String,
    started_at: String,
    finished_at: String,
}

/// `Config`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigJson {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Vec<String>,
    cmd: Vec<String>,
    image: String,
    volumes: Option<Value>,
    working_dir: String,
    entrypoint: Option<Vec<String>>,
    on_build: Option<Vec<String>>,
    labels: Value,
}

/// One container, as `docker container inspect` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerJson {
    id: String,
    created: String,
    path: String,
    args: Vec<String>,
    state: StateJson,
    image: String,
    resolv_conf_path: String,
    hostname_path: String,
    hosts_path: String,
    log_path: String,
    name: String,
    restart_count: u32,
    driver: &'static str,
    platform: &'static str,
    mount_label: String,
    process_label: String,
    app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    exec_ids: Option<Vec<String>>,
    host_config: Value,
    graph_driver: Value,
    mounts: Vec<Value>,
    config: ConfigJson,
    network_settings: Value,
}

/// The inspect JSON of `rec`.
pub fn inspect(store: &Store, rec: &ContainerRecord) -> Result<ContainerJson, StoreError> {
    let cfg: RunConfig = serde_json::from_value(rec.config.clone()).unwrap_or_default();
    let st = live_state(store, &rec.id)?;
    let dir = store.container_dir(&rec.id)?;
    let path = |name: &str| dir.join(name).display().to_string();
    let running = st.status == ContainerStatus::Running;
    let argv = cfg.argv();
    let network = serde_json::to_value(cfg.network).unwrap_or(json!("bridge"));
    let network_name = network.as_str().unwrap_or("bridge").to_string();
    let lowers: Vec<String> = rec
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_dir(l).display().to_string())
        .collect();
    Ok(ContainerJson {
        id: rec.id.clone(),
        created: rec.created.clone(),
        path: argv.first().cloned().unwrap_or_default(),
        args: argv.iter().skip(1).cloned().collect(),
        state: StateJson {
            status: st.status.as_str().to_string(),
            running,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: if running { st.init_pid.unwrap_or(0) } else { 0 },
            exit_code: st.exit_code.unwrap_or(0),
            error: String::new(),
            started_at: st.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            finished_at: st.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
        },
        image: rec.image.to_string(),
        resolv_conf_path: path("resolv.conf"),
        hostname_path: path("hostname"),
        hosts_path: path("hosts"),
        log_path: path(super::logs::LOG_FILE),
        name: format!("/{}", rec.name),
        restart_count: 0,
        driver: "overlay2",
        platform: "linux",
        mount_label: String::new(),
        process_label: String::new(),
        app_armor_profile: String::new(),
        exec_ids: None,
        host_config: json!({
            "Binds": cfg.mounts.iter().map(|m| format!("{}:{}{}", m.source, m.target, if m.readonly { ":ro" } else { "" })).collect::<Vec<_>>(),
            "LogConfig": {"Type": "json-file", "Config": {}},
            "NetworkMode": network_name,
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
            "AutoRemove": cfg.auto_remove,
        }),
        graph_driver: json!({
            "Data": {
                "LowerDir": lowers.join(":"),
                "MergedDir": path("rootfs"),
                "UpperDir": path("upper"),
                "WorkDir": path("work"),
            },
            "Name": "overlay2",
        }),
        mounts: cfg
            .mounts
            .iter()
            .map(|m| {
                json!({
                    "Type": "bind",
                    "Source": m.source,
                    "Destination": m.target,
                    "Mode": if m.readonly { "ro" } else { "" },
                    "RW": !m.readonly,
                    "Propagation": "rprivate",
                })
            })
            .collect(),
        config: ConfigJson {
            hostname: cfg.hostname.clone(),
            domainname: String::new(),
            user: cfg.user.clone(),
            attach_stdin: cfg.interactive,
            attach_stdout: true,
            attach_stderr: true,
            tty: cfg.tty,
            open_stdin: cfg.interactive,
            stdin_once: cfg.interactive,
            env: cfg.env.clone(),
            cmd: cfg.cmd.clone(),
            image: rec.image_name.clone(),
            volumes: None,
            working_dir: cfg.working_dir.clone(),
            entrypoint: Some(cfg.entrypoint.clone()).filter(|e| !e.is_empty()),
            on_build: None,
            labels: json!({}),
        },
        network_settings: network_settings(&rec.id, &cfg, &network_name, running),
    })
}

/// docker's NetworkSettings: the published ports, and while it runs on root's bridge
/// its address and gateway there (from its lease).
fn network_settings(id: &str, cfg: &RunConfig, network_name: &str, running: bool) -> Value {
    let mut ports = serde_json::Map::new();
    for p in &cfg.ports {
        let ip = if p.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &p.host_ip
        };
        let key = format!("{}/{}", p.container_port, p.protocol.as_str());
        let binding = json!({"HostIp": ip, "HostPort": p.host_port.to_string()});
        match ports.get_mut(&key).and_then(Value::as_array_mut) {
            Some(list) => list.push(binding),
            None => {
                ports.insert(key, json!([binding]));
            }
        }
    }
    let lease = running.then(|| super::network::lease::find(id)).flatten();
    let (ip, gateway, prefix) = lease
        .map(|l| (l.address.to_string(), l.gateway.to_string(), l.prefix))
        .unwrap_or_default();
    json!({
        "Bridge": "",
        "SandboxID": "",
        "Ports": ports,
        "Gateway": gateway,
        "IPAddress": ip,
        "IPPrefixLen": prefix,
        "Networks": {network_name: {"NetworkID": "", "IPAddress": ip, "Gateway": gateway,
            "IPPrefixLen": prefix, "MacAddress": ""}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_in_dockers_order() {
        let st = StateJson {
            status: "exited".into(),
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 3,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
        };
        let text = serde_json::to_string(&st).unwrap();
        assert!(text.starts_with(r#"{"Status":"exited","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":3,"Error":"""#), "{text}");
    }
}
