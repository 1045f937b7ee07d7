//! The crash suite of issue 13: pull, load, import, commit, rmi and prune, each killed
//! with SIGKILL at moments spread over the operation (3 each in `make test`, 30 in `make
//! hardening`), and, through `strace -e inject=…:signal=SIGKILL:when=K`, just before the
//! K-th rename and unlink the operation makes (a sample in `make test`, every one in `make
//! hardening`; as root only: an ordinary user's strata runs the setuid `newuidmap`, which
//! fails when traced). After each kill `strata system check` passes and the operation, run
//! again, succeeds.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use strata_tests::hardening::*;
use strata_tests::registry::Registry;
use strata_tests::*;

/// The operations under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Pull,
    Load,
    Import,
    Commit,
    Rmi,
    Prune,
}

/// A store and what the operations need: a registry holding the image, its docker
/// archive, a layer to import, a container to commit.
struct Bench {
    env: Env,
    reg: Option<Registry>,
    archive: PathBuf,
    layer: PathBuf,
    op: Op,
}

/// Three layers of noise, 4 MiB each, so that the operations take a while.
fn noisy_layers() -> Vec<Layer> {
    (0..3u64)
        .map(|i| {
            let mut data = vec![0u8; 4 << 20];
            std::io::Read::read_exact(&mut NoiseReader::new(0xc0ffee + i, 4 << 20), &mut data)
                .unwrap();
            Layer::gzip(&TarBuilder::new().file(format!("data/n{i}"), &data).finish())
        })
        .collect()
}

impl Bench {
    fn new(op: Op) -> Bench {
        let env = Env::new();
        env.import_busybox("bb");
        let layers = noisy_layers();
        let archive = env.write("image.tar", &docker_archive_of(&layers, "demo/load:1"));
        let layer = env.write("layer.tar.gz", &layers[0].blob);
        let reg = (op == Op::Pull).then(|| {
            let r = Registry::start();
            push_image(&r.addr, "crash/img", "1", &layers);
            r
        });
        if op == Op::Commit {
            env.cmd([
                "run",
                "--name",
                "crashc",
                "bb",
                "sh",
                "-c",
                "dd if=/dev/urandom of=/big bs=1M count=12 2>/dev/null",
            ])
            .ok();
        }
        Bench {
            env,
            reg,
            archive,
            layer,
            op,
        }
    }

    fn pulled(&self) -> String {
        self.reg.as_ref().unwrap().image("crash/img:1")
    }

    /// The operation's command line.
    fn args(&self) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect();
        match self.op {
            Op::Pull => s(&["pull", &self.pulled()]),
            Op::Load => s(&["load", "-i", self.archive.to_str().unwrap()]),
            Op::Import => s(&["import", self.layer.to_str().unwrap(), "demo/imp:1"]),
            Op::Commit => s(&["commit", "crashc", "demo/commit:1"]),
            Op::Rmi => s(&["rmi", "demo/rmi:1"]),
            Op::Prune => s(&["image", "prune", "-f"]),
        }
    }

    /// The reference the operation adds (or, for rmi, removes).
    fn reference(&self) -> Option<String> {
        match self.op {
            Op::Pull => Some(self.pulled()),
            Op::Load => Some("demo/load:1".into()),
            Op::Import => Some("demo/imp:1".into()),
            Op::Commit => Some("demo/commit:1".into()),
            Op::Rmi => Some("demo/rmi:1".into()),
            Op::Prune => None,
        }
    }

    fn has(&self, reference: &str) -> bool {
        self.env.cmd(["image", "inspect", reference]).run().code == 0
    }

    fn dangling(&self) -> usize {
        self.env
            .cmd(["images", "-q", "--filter", "dangling=true"])
            .ok()
            .stdout
            .lines()
            .count()
    }

    /// Brings the store to the state before the operation.
    fn prepare(&self) {
        let env = &self.env;
        match self.op {
            Op::Rmi => {
                if !self.has("demo/rmi:1") {
                    env.cmd(["import", self.layer.to_str().unwrap(), "demo/rmi:1"])
                        .ok();
                }
            }
            Op::Prune => {
                if self.dangling() < 2 {
                    env.cmd(["import", self.layer.to_str().unwrap()]).ok();
                    let tar = small_rootfs_tar(&[("etc/n", unique_name("n").as_bytes())]);
                    env.import(&tar, None);
                }
            }
            _ => {
                let r = self.reference().unwrap();
                if self.has(&r) {
                    env.cmd(["rmi", &r]).ok();
                }
            }
        }
    }

    /// Whether the operation's result is there.
    fn done(&self) -> bool {
        match self.op {
            Op::Rmi => !self.has("demo/rmi:1"),
            Op::Prune => self.dangling() == 0,
            _ => self.has(&self.reference().unwrap()),
        }
    }

    fn strata(&self) -> Command {
        self.env.cmd(self.args()).command()
    }

    /// After a kill: the store is sound, the operation then succeeds and its result is
    /// there. Returns what went wrong, if anything (the suite goes on, to count).
    fn survived(&self, what: &str) -> Option<String> {
        stat("kills", 1);
        let check = self.env.cmd(["system", "check"]).run();
        let mut wrong = Vec::new();
        if check.code != 0 {
            stat("unsound_before_recovery", 1);
            wrong.push(format!("system check: {}{}", check.stdout, check.stderr));
        }
        // A removal killed after its commit is done: running it again would rightly
        // find nothing to remove.
        let finished = matches!(self.op, Op::Rmi | Op::Prune) && self.done();
        let out = self.env.cmd(self.args()).run();
        if out.code != 0 && !finished {
            wrong.push(format!("the operation again: {}", out.stderr));
        } else if !self.done() {
            wrong.push("the operation again left no result".into());
        }
        let check = self.env.cmd(["system", "check"]).run();
        if check.code != 0 {
            stat("unsound", 1);
            wrong.push(format!("system check after it: {}", check.stdout));
        }
        if wrong.iter().all(|w| w.starts_with("system check: ")) {
            stat("kills_survived", 1);
        }
        if wrong.is_empty() {
            return None;
        }
        Some(format!("after {what}: {}", wrong.join("; ")))
    }

    /// Runs the operation once, unkilled; returns how long it took.
    fn timed(&self) -> Duration {
        self.prepare();
        let start = Instant::now();
        let out = self.env.cmd(self.args()).run();
        assert_eq!(out.code, 0, "{:?} fails: {}", self.op, out.stderr);
        assert!(self.done());
        start.elapsed()
    }
}

fn killed_at_moments(op: Op) {
    let b = Bench::new(op);
    let took = b.timed();
    let n = size(3, 30);
    let mut failures = Vec::new();
    for i in 0..n {
        b.prepare();
        let at = took.mul_f64((i as f64 + 0.5) / n as f64);
        let mut child = b
            .strata()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start strata");
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        failures.extend(b.survived(&format!("a SIGKILL {at:?} into {:?}", op)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `strace` on `cmd` (following threads and children) with `extra` options.
fn strace(cmd: &Command, extra: &[&str]) -> Command {
    let mut s = Command::new("strace");
    s.args(["-f", "-qq"]).args(extra).arg(cmd.get_program());
    s.args(cmd.get_args());
    if let Some(d) = cmd.get_current_dir() {
        s.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => s.env(k, v),
            None => s.env_remove(k),
        };
    }
    s.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    s
}

const STEPS: &[&str] = &["rename", "renameat", "renameat2", "unlink", "unlinkat"];

/// For each renaming or unlinking syscall, the most times one thread of the operation
/// makes it.
fn count_steps(b: &Bench) -> Vec<(&'static str, usize)> {
    b.prepare();
    let log = b.env.path().join("strace.log");
    let trace = format!("trace={}", STEPS.join(","));
    let st = strace(&b.strata(), &["-o", log.to_str().unwrap(), "-e", &trace])
        .status()
        .expect("run strace (install the strace package: scripts/deps.sh test)");
    assert!(st.success(), "{:?} under strace failed", b.op);
    assert!(b.done());
    let text = std::fs::read_to_string(&log).unwrap();
    let mut counts = std::collections::BTreeMap::<(String, &str), usize>::new();
    for line in text.lines() {
        // `PID syscall(…` when following threads, else `syscall(…`.
        let (pid, rest) = match line.split_once(' ') {
            Some((p, r)) if p.bytes().all(|b| b.is_ascii_digit()) => (p, r.trim_start()),
            _ => ("main", line),
        };
        if let Some(sc) = STEPS.iter().find(|s| rest.starts_with(&format!("{s}("))) {
            *counts.entry((pid.to_string(), *sc)).or_default() += 1;
        }
    }
    STEPS
        .iter()
        .map(|s| {
            let most = counts
                .iter()
                .filter(|((_, c), _)| c == s)
                .map(|(_, n)| *n)
                .max()
                .unwrap_or(0);
            (*s, most)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn killed_at_every_rename_and_unlink(op: Op) {
    if !is_root() {
        eprintln!("killed_at_every_rename_and_unlink: strace breaks newuidmap for an ordinary user; the root pass checks this");
        return;
    }
    let b = Bench::new(op);
    let steps = count_steps(&b);
    let mut all: Vec<(&str, usize)> = steps
        .iter()
        .flat_map(|(s, n)| (1..=*n).map(move |k| (*s, k)))
        .collect();
    assert!(!all.is_empty(), "{op:?} renames and unlinks nothing");
    let most = size(3, usize::MAX);
    if all.len() > most {
        let step = all.len() as f64 / most as f64;
        all = (0..most).map(|i| all[(i as f64 * step) as usize]).collect();
    }
    let mut failures = Vec::new();
    for (sc, k) in all {
        b.prepare();
        let inject = format!("inject={sc}:signal=SIGKILL:when={k}");
        let trace = format!("trace={sc}");
        let _ = strace(
            &b.strata(),
            &["-o", "/dev/null", "-e", &trace, "-e", &inject],
        )
        .status()
        .expect("run strace");
        failures.extend(b.survived(&format!("a SIGKILL at {sc} #{k}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

macro_rules! crash {
    ($($name:ident: $op:ident;)+) => {
        $(
            mod $name {
                #[test]
                fn killed_at_moments_spread_over_it() {
                    super::killed_at_moments(super::Op::$op);
                }

                #[test]
                fn killed_at_every_rename_and_unlink() {
                    super::killed_at_every_rename_and_unlink(super::Op::$op);
                }
            }
        )+
    };
}

crash! {
    pull: Pull;
    load: Load;
    import: Import;
    commit: Commit;
    rmi: Rmi;
    prune: Prune;
}
