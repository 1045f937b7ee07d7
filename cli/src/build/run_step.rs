//! RUN: the command runs in a build container made from the stage's image, with the
//! stage's environment (ENV, and the ARGs in scope, which are not kept in the image),
//! working directory, user and shell; its writable layer becomes the step's layer.

use super::cache::Key;
use super::container::BuildContainer;
use super::error::{BuildError, Result};
use super::metadata::{argv, shell};
use super::mounts;
use super::{Builder, StageRun};
use crate::container::spec::{NetworkMode, RunConfig, DEFAULT_PATH};
use crate::dockerfile::heredoc::parse_word;
use crate::dockerfile::{CommandLine, Network, Run, Step};

/// The argument vector of a RUN: heredocs become part of the shell script, and a RUN
/// that is only a heredoc runs the heredoc's body as the script.
fn command(config: &crate::image::ContainerConfig, r: &Run) -> Vec<String> {
    let CommandLine::Shell(text) = &r.cmd else {
        return argv(config, &r.cmd);
    };
    if r.heredocs.is_empty() {
        return argv(config, &r.cmd);
    }
    let only = r.heredocs.len() == 1 && parse_word(text.trim()).ok().flatten().is_some();
    let script = if only {
        r.heredocs[0].body()
    } else {
        let mut s = text.clone();
        s.push('\n');
        for h in &r.heredocs {
            s.push_str(&h.content);
            s.push_str(&h.name);
            s.push('\n');
        }
        s
    };
    let mut v = shell(config);
    v.push(script);
    v
}

/// The build args a RUN's history entry names (`|2 A=1 B=2 /bin/sh -c ...`), as docker's
/// classic builder lists them: sorted, without those the image's ENV sets.
fn history_args(args: &[String], config: &crate::image::ContainerConfig) -> Vec<String> {
    let env = config.env.as_deref().unwrap_or_default();
    let mut v: Vec<String> = args
        .iter()
        .filter(|a| {
            let key = a.split_once('=').map_or(a.as_str(), |(k, _)| k);
            !env.iter()
                .any(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
        })
        .cloned()
        .collect();
    v.sort();
    v
}

impl Builder<'_> {
    pub(super) fn run(&self, run: &mut StageRun<'_>, step: &Step, r: &Run) -> Result<()> {
        let c = run.state.config.config.clone().unwrap_or_default();
        let workdir = c
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        let argv = command(&c, r);
        let args = history_args(&run.scope.args().to_env_strings(), &c);
        let mut env = run.scope.run_env().to_env_strings();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
        }
        let mut key = Key::new(run.state.id.as_ref());
        key.add(b"RUN");
        for a in argv.iter().chain(&args) {
            key.add(a.as_bytes());
        }
        key.add(format!("{:?}", r.network).as_bytes());
        let mounts = self
            .mounts(&r.mounts, &workdir, &mut key)
            .map_err(|e| self.at(step, e))?;
        let key = match self.cached(run, key)? {
            Ok(()) => return Ok(()),
            Err(key) => key,
        };
        env.extend(mounts.env.iter().cloned());
        let cfg = RunConfig {
            cmd: argv.clone(),
            env,
            working_dir: workdir,
            mounts: mounts.binds.clone(),
            tmpfs: mounts.tmpfs.clone(),
            layer_mounts: mounts.layers.clone(),
            user: c.user.clone().unwrap_or_default(),
            network: if r.network == Network::None {
                NetworkMode::None
            } else {
                NetworkMode::Host
            },
            ..Default::default()
        };
        let ctr = BuildContainer::create(self.store, &run.state, cfg)?;
        self.out
            .line(&format!(" ---> Running in {}", ctr.short_id()));
        let code = {
            let _quiet = self.out.container_output();
            ctr.run()?
        };
        let shown = argv.join(" ");
        if code != 0 {
            return Err(BuildError::RunFailed {
                command: shown,
                code,
            });
        }
        mounts::remove_mount_points(self.store, &run.state.layers, &ctr.upper(), &mounts.targets)?;
        let created_by = if args.is_empty() {
            shown
        } else {
            format!("|{} {} {shown}", args.len(), args.join(" "))
        };
        self.store_layer(run, &ctr, created_by, &key)?;
        self.out.line(&format!(
            "Removing intermediate container {}",
            ctr.short_id()
        ));
        Ok(())
    }
}
