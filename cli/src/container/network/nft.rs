//! The bridge network's nftables rules, given to `nft -j -f -` as JSON: the table
//! `ip strata` with masquerading for the bridge's subnet, and per container the DNAT
//! rules of its published ports, each carrying the container's id as its comment so that
//! it can be found and removed (after a crash too).
//!
//! Published ports are reached from other hosts (prerouting) and from the host itself
//! (output, with `route_localnet` on the bridge so that 127.0.0.1 may be rewritten to a
//! container's address, and masquerading of loopback sources towards the bridge), and
//! from other containers through the host's addresses (hairpin: the DNATed connection
//! between two containers of the bridge is masqueraded so that its answers come back
//! through the host). No proxy process runs.

use super::ports::{PortMapping, Protocol};
use serde_json::{json, Value};
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// The table strata owns.
pub const TABLE: &str = "strata";

/// Why nft failed.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// nft is not installed.
    #[error(
        "the bridge network needs nft, which is not installed: install the nftables package \
         (apt-get install nftables), or set network-backend = \"pasta\" in \
         /etc/strata/config.toml, or use --network pasta, host or none"
    )]
    Missing,
    /// nft refused the rules (most often: the kernel lacks nf_tables or its NAT parts).
    #[error(
        "cannot set up the bridge network's nftables rules: {0} (the kernel needs nf_tables \
         with NAT: modprobe nf_tables nft_chain_nat nft_masq nft_fib_ipv4; or use \
         --network pasta)"
    )]
    Refused(String),
    /// nft could not be run or answered something unreadable.
    #[error("cannot run nft: {0}")]
    Run(String),
}

fn nft_program() -> Option<std::path::PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| std::path::Path::new(d).join("nft"))
        .find(|p| p.is_file());
    found
}

/// Runs `nft -j` with `args`, `input` on its standard input; returns its output.
fn nft(args: &[&str], input: Option<&Value>) -> Result<String, NftError> {
    let program = nft_program().ok_or(NftError::Missing)?;
    let mut child = Command::new(program)
        .arg("-j")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NftError::Run(e.to_string()))?;
    if let (Some(mut stdin), Some(v)) = (child.stdin.take(), input) {
        stdin
            .write_all(v.to_string().as_bytes())
            .map_err(|e| NftError::Run(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NftError::Run(e.to_string()))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let line = text
            .lines()
            .find(|l| l.starts_with("Error"))
            .or_else(|| text.lines().next())
            .unwrap_or("it failed")
            .trim()
            .to_string();
        return Err(NftError::Refused(line));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Carries out `commands` (nft's JSON commands) in one transaction.
fn apply(commands: Vec<Value>) -> Result<(), NftError> {
    nft(&["-f", "-"], Some(&json!({ "nftables": commands }))).map(drop)
}

fn table() -> Value {
    json!({"family": "ip", "name": TABLE})
}

fn chain(name: &str, hook: &str, prio: i32) -> Value {
    json!({"add": {"chain": {"family": "ip", "table": TABLE, "name": name,
        "type": "nat", "hook": hook, "prio": prio, "policy": "accept"}}})
}

fn matches(left: Value, op: &str, right: Value) -> Value {
    json!({"match": {"op": op, "left": left, "right": right}})
}

fn rule(chain: &str, comment: Option<&str>, expr: Vec<Value>) -> Value {
    let mut r = json!({"family": "ip", "table": TABLE, "chain": chain, "expr": expr});
    if let Some(c) = comment {
        r["comment"] = json!(c);
    }
    json!({"add": {"rule": r}})
}

fn prefix(net: Ipv4Addr, len: u8) -> Value {
    json!({"prefix": {"addr": net.to_string(), "len": len}})
}

fn oifname() -> Value {
    json!({"meta": {"key": "oifname"}})
}

/// The commands that make the table afresh (any old one goes) for the bridge `bridge`
/// on `net/len`: the NAT chains and the masquerading rules.
pub fn table_commands(bridge: &str, net: Ipv4Addr, len: u8) -> Vec<Value> {
    let saddr = json!({"payload": {"protocol": "ip", "field": "saddr"}});
    let daddr = json!({"payload": {"protocol": "ip", "field": "daddr"}});
    let masquerade = json!({"masquerade": null});
    vec![
        json!({"add": {"table": table()}}),
        json!({"delete": {"table": table()}}),
        json!({"add": {"table": table()}}),
        chain("prerouting", "prerouting", -100),
        chain("output", "output", -100),
        chain("postrouting", "postrouting", 100),
        // Outbound traffic of the containers.
        rule(
            "postrouting",
            None,
            vec![
                matches(saddr.clone(), "==", prefix(net, len)),
                matches(daddr, "!=", prefix(net, len)),
                masquerade.clone(),
            ],
        ),
        // The host's own connections to 127.0.0.1:PORT, rewritten to a container.
        rule(
            "postrouting",
            None,
            vec![
                matches(saddr.clone(), "==", prefix(Ipv4Addr::new(127, 0, 0, 0), 8)),
                matches(oifname(), "==", json!(bridge)),
                masquerade.clone(),
            ],
        ),
        // One container reaching another through a published port (hairpin).
        rule(
            "postrouting",
            None,
            vec![
                matches(json!({"ct": {"key": "status"}}), "in", json!("dnat")),
                matches(saddr, "==", prefix(net, len)),
                matches(oifname(), "==", json!(bridge)),
                masquerade,
            ],
        ),
    ]
}

/// Makes the table afresh.
pub fn create_table(bridge: &str, net: Ipv4Addr, len: u8) -> Result<(), NftError> {
    apply(table_commands(bridge, net, len))
}

/// Removes the table, if there is one.
pub fn delete_table() -> Result<(), NftError> {
    apply(vec![
        json!({"add": {"table": table()}}),
        json!({"delete": {"table": table()}}),
    ])
}

/// The DNAT rules publishing `ports` of the container `id` at `addr`, in both chains.
pub fn port_commands(id: &str, addr: Ipv4Addr, ports: &[PortMapping]) -> Vec<Value> {
    let mut out = Vec::new();
    for p in ports {
        let mut expr = vec![matches(
            json!({"fib": {"result": "type", "flags": ["daddr"]}}),
            "==",
            json!("local"),
        )];
        if !p.host_ip.is_empty() && p.host_ip != "0.0.0.0" {
            expr.push(matches(
                json!({"payload": {"protocol": "ip", "field": "daddr"}}),
                "==",
                json!(p.host_ip),
            ));
        }
        let proto = match p.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        expr.push(matches(
            json!({"payload": {"protocol": proto, "field": "dport"}}),
            "==",
            json!(p.host_port),
        ));
        expr.push(json!({"dnat": {"addr": addr.to_string(), "port": p.container_port}}));
        for chain in ["prerouting", "output"] {
            out.push(rule(chain, Some(id), expr.clone()));
        }
    }
    out
}

/// Adds the DNAT rules of the container `id`.
pub fn add_ports(id: &str, addr: Ipv4Addr, ports: &[PortMapping]) -> Result<(), NftError> {
    if ports.is_empty() {
        return Ok(());
    }
    apply(port_commands(id, addr, ports))
}

/// Removes every rule whose comment is one of `ids` (the table may be missing).
pub fn delete_rules_of(ids: &[String]) -> Result<(), NftError> {
    let listing = match nft(&["list", "table", "ip", TABLE], None) {
        Ok(l) => l,
        Err(NftError::Refused(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let doc: Value = serde_json::from_str(&listing).map_err(|e| NftError::Run(e.to_string()))?;
    let deletes: Vec<Value> = doc["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("rule"))
        .filter(|r| {
            r["comment"]
                .as_str()
                .is_some_and(|c| ids.iter().any(|i| i == c))
        })
        .map(|r| {
            json!({"delete": {"rule": {"family": "ip", "table": TABLE,
                "chain": r["chain"], "handle": r["handle"]}}})
        })
        .collect();
    if deletes.is_empty() {
        return Ok(());
    }
    apply(deletes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_rules_match_local_addresses_and_the_host_ip() {
        let ports = [
            PortMapping::of("", 8080, 80, Protocol::Tcp),
            PortMapping::of("127.0.0.1", 5353, 53, Protocol::Udp),
        ];
        let c = port_commands("abc", Ipv4Addr::new(10, 87, 0, 2), &ports);
        assert_eq!(c.len(), 4);
        let first = &c[0]["add"]["rule"];
        assert_eq!(first["chain"], "prerouting");
        assert_eq!(first["comment"], "abc");
        let expr = first["expr"].as_array().unwrap();
        assert_eq!(expr.len(), 3);
        assert_eq!(expr[1]["match"]["right"], 8080);
        assert_eq!(expr[2]["dnat"]["addr"], "10.87.0.2");
        assert_eq!(expr[2]["dnat"]["port"], 80);
        let udp = c[3]["add"]["rule"]["expr"].as_array().unwrap();
        assert_eq!(c[3]["add"]["rule"]["chain"], "output");
        assert_eq!(udp[1]["match"]["right"], "127.0.0.1");
        assert_eq!(udp[2]["match"]["left"]["payload"]["protocol"], "udp");
    }

    #[test]
    fn the_table_is_made_afresh() {
        let c = table_commands("strata0", Ipv4Addr::new(10, 87, 0, 0), 16);
        assert!(c[0]["add"]["table"].is_object());
        assert!(c[1]["delete"]["table"].is_object());
        assert_eq!(
            c.iter().filter(|x| x["add"]["chain"].is_object()).count(),
            3
        );
        assert_eq!(c.iter().filter(|x| x["add"]["rule"].is_object()).count(), 3);
    }
}
