//! The concurrency suite of issue 13: eight processes at once on one store, pulling and
//! loading the same image, tagging and untagging, removing the image and pruning while
//! the others pull. Every command succeeds or fails with one clear error line; nothing is
//! lost (every tag a tagger added and did not remove is there afterwards, and the image
//! pulls and loads again); `strata system check` passes.

use std::time::Duration;
use strata_tests::hardening::*;
use strata_tests::registry::{Fault, FaultProxy, Registry};
use strata_tests::*;

/// Three layers of noise, 4 MiB each, from `seed`.
fn noisy_layers(seed: u64) -> Vec<Layer> {
    (seed..seed + 3)
        .map(|i| {
            let mut data = vec![0u8; 4 << 20];
            std::io::Read::read_exact(&mut NoiseReader::new(i, 4 << 20), &mut data).unwrap();
            Layer::gzip(&TarBuilder::new().file(format!("data/n{i}"), &data).finish())
        })
        .collect()
}

/// What one of the eight does, in a loop.
#[derive(Clone, Copy, Debug)]
enum Role {
    Pull,
    Load,
    Tagger(usize),
    Remove,
    Prune,
}

/// Runs `args` and returns a complaint unless it succeeded or failed with one clear line.
fn judged(env: &Env, args: &[&str]) -> Option<String> {
    let out = env.cmd(args).timeout(Duration::from_secs(300)).run();
    stat("commands", 1);
    if out.code == 0 {
        return None;
    }
    let lines = out.err_lines();
    if lines.len() == 1 && out.code == 1 && is_clear(lines[0]) {
        return None;
    }
    stat("unclear", 1);
    Some(format!("{args:?} (exit {}): {}", out.code, out.stderr))
}

/// One process's loop; returns its complaints and the tags it leaves behind.
fn act(
    env: &Env,
    role: Role,
    image: &str,
    archive: &str,
    rounds: usize,
) -> (Vec<String>, Vec<String>) {
    let mut bad = Vec::new();
    let mut kept = Vec::new();
    for r in 0..rounds {
        match role {
            Role::Pull => bad.extend(judged(env, &["pull", image])),
            Role::Load => bad.extend(judged(env, &["load", "-i", archive])),
            Role::Tagger(t) => {
                for k in 0..10 {
                    let tag = format!("demo/t{t}:{r}-{k}");
                    let added = judged(env, &["tag", "bb", &tag]);
                    if let Some(b) = added {
                        bad.push(b);
                        continue;
                    }
                    if k % 2 == 1 {
                        bad.extend(judged(env, &["rmi", &tag]));
                    } else {
                        kept.push(tag);
                    }
                }
            }
            Role::Remove => {
                std::thread::sleep(Duration::from_millis(300));
                bad.extend(judged(env, &["rmi", "-f", image]));
            }
            Role::Prune => {
                std::thread::sleep(Duration::from_millis(150));
                bad.extend(judged(env, &["image", "prune", "-f"]));
            }
        }
    }
    (bad, kept)
}

/// Pulls and loads of one image at once, as the issue asks.
#[test]
fn eight_processes_at_once() {
    eight(true);
}

/// The same, the archive loaded holding another image than the one pulled.
#[test]
fn eight_processes_at_once_loading_another_image() {
    eight(false);
}

fn eight(same_image: bool) {
    let env = Env::new();
    env.import_busybox("bb");
    let reg = Registry::start();
    let layers = noisy_layers(0xbeef);
    push_image(&reg.addr, "conc/img", "1", &layers);
    let loaded = if same_image {
        layers
    } else {
        noisy_layers(0xfeed)
    };
    let archive = env.write("image.tar", &docker_archive_of(&loaded, "demo/load:1"));
    let image = reg.image("conc/img:1");
    let rounds = size(2, 6);
    let roles = [
        Role::Pull,
        Role::Pull,
        Role::Load,
        Role::Load,
        Role::Tagger(0),
        Role::Tagger(1),
        Role::Remove,
        Role::Prune,
    ];
    let results: Vec<(Vec<String>, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = roles
            .iter()
            .map(|role| {
                let (env, image, archive) = (&env, image.as_str(), archive.to_str().unwrap());
                s.spawn(move || act(env, *role, image, archive, rounds))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut bad: Vec<String> = results.iter().flat_map(|(b, _)| b.clone()).collect();
    let tags = env.repo_tags();
    for (_, kept) in &results {
        for t in kept {
            if !tags.contains(t) {
                stat("lost", 1);
                bad.push(format!("the tag {t} was added and is gone"));
            }
        }
    }
    let check = env.cmd(["system", "check"]).run();
    if check.code != 0 {
        stat("unsound", 1);
        bad.push(format!(
            "system check fails after the run: {}",
            check.stdout
        ));
    }
    // Nothing the others did stops the image from being pulled and loaded again.
    env.cmd(["pull", &image]).ok();
    env.cmd(["load", "-i", archive.to_str().unwrap()]).ok();
    assert!(env.repo_tags().contains(&"demo/load:1".to_string()));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_sound(&env);
}

/// How many times the registry behind `proxy` served each of `layers`' blobs.
fn layer_gets(proxy: &FaultProxy, layers: &[Layer]) -> Vec<usize> {
    let gets = proxy.blob_gets.lock().unwrap();
    layers
        .iter()
        .map(|l| {
            let d = format!("/blobs/sha256:{}", sha256_hex(&l.blob));
            gets.iter().filter(|t| t.ends_with(&d)).count()
        })
        .collect()
}

/// Shared work: eight pulls of one image at once (its blobs served slowly, so that
/// they overlap) all succeed, and each layer is fetched once: the first pull claims
/// the layers, the others wait for it and reuse what it stored.
#[test]
fn eight_pulls_of_one_image_fetch_each_layer_once() {
    let env = Env::new();
    let reg = Registry::start();
    let layers = noisy_layers(0x5ead);
    push_image(&reg.addr, "conc/shared", "1", &layers);
    let proxy = FaultProxy::start(&reg.addr, Fault::Slow);
    let image = proxy.image("conc/shared:1");
    let outs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (env, image) = (&env, image.as_str());
                s.spawn(move || {
                    env.cmd(["pull", image])
                        .timeout(Duration::from_secs(300))
                        .run()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        assert_eq!(o.code, 0, "a pull failed: {}", o.stderr);
    }
    let waited = outs
        .iter()
        .filter(|o| o.stdout.contains("Waiting for another process"))
        .count();
    assert!(
        waited >= 1,
        "no pull waited for another: they did not overlap"
    );
    assert_eq!(
        layer_gets(&proxy, &layers),
        vec![1; layers.len()],
        "each layer blob is fetched once"
    );
    assert_sound(&env);
}

/// The pull that claimed the layers is killed (SIGKILL) while three others wait for
/// it: they take over, all three succeed, between them fetching each layer once more,
/// and the store is sound.
#[test]
fn pulls_waiting_for_a_killed_pull_take_over() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let env = Env::new();
    let reg = Registry::start();
    let layers = noisy_layers(0x0dd);
    push_image(&reg.addr, "conc/killed", "1", &layers);
    let proxy = FaultProxy::start(&reg.addr, Fault::Slow);
    let image = proxy.image("conc/killed:1");
    let spawn = || {
        env.cmd(["pull", &image])
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let claimed = || {
        list_dir(&env.store().join("tmp"))
            .iter()
            .any(|n| n.starts_with("claim-"))
    };
    let mut owner = spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !claimed() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first pull never claimed its layers"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let mut child = spawn();
            let stdout = child.stdout.take().unwrap();
            let tx = tx.clone();
            let lines = std::thread::spawn(move || {
                let mut all = String::new();
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if line.contains("Waiting for another process") {
                        let _ = tx.send(());
                    }
                    all.push_str(&line);
                    all.push('\n');
                }
                all
            });
            (child, lines)
        })
        .collect();
    for _ in 0..3 {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("a pull started after the first did not wait for it");
    }
    owner.kill().unwrap();
    owner.wait().unwrap();
    for (child, lines) in waiters {
        let out = child.wait_with_output().unwrap();
        let stdout = lines.join().unwrap();
        assert!(
            out.status.success(),
            "a waiting pull failed after the owner was killed: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (i, n) in layer_gets(&proxy, &layers).into_iter().enumerate() {
        assert!(
            n <= 2,
            "layer {i} was fetched {n} times: by the killed pull and then by one of the others"
        );
    }
    assert!(!claimed(), "a claim was left behind");
    assert_sound(&env);
}
