//! The builder: runs a checked Dockerfile's stages as docker's classic builder does.
//! Each step starts from the stage's current image and stores its result as a new
//! (intermediate) image: RUN runs in a build container and COPY/ADD write into one, and
//! the container's upper directory becomes the step's one layer; the other instructions
//! change the config and add a history entry without a layer. A step whose key (parent
//! image, expanded instruction, build args used, content of copied sources) is in the
//! [`cache::Cache`] is not run again. Only the stages the target needs are built.

mod archive;
mod cache;
mod cache_mount;
mod container;
mod context;
mod copy;
mod copy_step;
mod error;
mod gofmt;
mod ignore;
mod link;
mod live;
mod metadata;
mod mounts;
mod output;
mod pattern;
mod run_step;
pub mod source;
mod ssh;
mod state;
mod tree;
mod workdir_step;

use crate::dockerfile::{
    BaseRef, BuildArgs, Dockerfile, GlobalScope, Instruction, KeyValue, Scope, Step,
};
use crate::image::writer::{Assembly, ImageWriter};
use crate::image::{History, ImageConfig};
use crate::reference::familiar;
use cache::{Cache, Key};
pub use context::BuildContext;
pub use error::BuildError;
use error::Result;
pub use mounts::Secrets;
pub use output::Progress;
pub use ssh::SshAgents;

/// The build cache's object count and size (`system df`).
pub fn cache_usage(store: &Store) -> (usize, u64) {
    cache::usage(store)
}

/// Removes build cache (`builder prune`); see [`cache::prune`].
pub fn prune_cache(store: &Store, all: bool, until: Option<i64>) -> Result<cache::Pruned> {
    cache::prune(store, all, until).map_err(error::io(
        format!("cannot prune the build cache in {}", store.root().display()),
        store.root(),
    ))
}
use output::Printer;
use state::ImageState;
use std::sync::Mutex;
use store_layout::{Digest, Store};

/// What the command line asks of a build, beyond the Dockerfile.
pub struct Options {
    /// `-t`: full references.
    pub tags: Vec<String>,
    /// `--label`.
    pub labels: Vec<KeyValue>,
    /// `--target`.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`: pull base images even when they are here.
    pub pull: bool,
    /// `--progress` (`-q`: quiet).
    pub progress: Progress,
    /// `--iidfile`.
    pub iidfile: Option<std::path::PathBuf>,
    /// `SOURCE_DATE_EPOCH`: the time of everything the build makes.
    pub epoch: Option<i64>,
    /// `--secret`.
    pub secrets: Secrets,
    /// `--ssh`.
    pub ssh: SshAgents,
    /// `--build-arg` names that no ARG declares.
    pub unused_args: Vec<String>,
}

/// A build in progress.
pub struct Builder<'a> {
    store: &'a Store,
    df: &'a Dockerfile,
    global: &'a GlobalScope,
    build_args: &'a BuildArgs,
    context: &'a BuildContext,
    opts: &'a Options,
    cache: Cache,
    out: Printer,
    stages: Mutex<Vec<Option<ImageState>>>,
    total: usize,
}

/// Where one stage stands while its steps run.
struct StageRun<'s> {
    state: ImageState,
    scope: Scope<'s>,
    cmd_set: bool,
    /// The number of the stage's next step.
    step: usize,
}

/// Builds the Dockerfile and names the result; returns the image ID.
pub fn build(
    store: &Store,
    df: &Dockerfile,
    global: &GlobalScope,
    build_args: &BuildArgs,
    context: &BuildContext,
    opts: &Options,
) -> Result<Digest> {
    container::remove_leftovers(store)?;
    let target = df.target(opts.target.as_deref())?;
    let order = df.stages_for(target, global)?;
    let total = order
        .iter()
        .map(|&i| 1 + df.stages[i].steps.len())
        .sum::<usize>()
        + usize::from(!opts.labels.is_empty());
    let mut b = Builder {
        store,
        df,
        global,
        build_args,
        context,
        opts,
        cache: Cache::new(store, opts.no_cache, opts.epoch),
        out: Printer::new(opts.progress),
        stages: Mutex::new(vec![None; df.stages.len()]),
        total,
    };
    let id = b.build_all(&order, target);
    b.out.finish(id.is_err());
    id
}

impl<'a> Builder<'a> {
    /// Builds the stages of `order` and names the target's image.
    fn build_all(&self, order: &[usize], target: usize) -> Result<Digest> {
        self.build_stages(order, target)?;
        let id = self.stage(target).id.ok_or(BuildError::NoImage)?;
        self.finish(&id)?;
        Ok(id)
    }

    /// The result of stage `i`, built already.
    fn stage(&self, i: usize) -> ImageState {
        self.stages.lock().expect("stages")[i]
            .clone()
            .expect("built before")
    }

    /// Builds the stages of `order`, each as soon as the stages it needs (its base,
    /// `COPY --from`, `RUN --mount=from=`) are built: stages that do not need each other
    /// at the same time, each in a thread of its own.
    fn build_stages(&self, order: &[usize], target: usize) -> Result<()> {
        let mut first_step = vec![0; self.df.stages.len()];
        let mut deps = vec![Vec::new(); self.df.stages.len()];
        let mut n = 1;
        for &i in order {
            first_step[i] = n;
            n += 1 + self.df.stages[i].steps.len();
            deps[i] = self.df.dependencies(i, self.global)?;
        }
        let build = |i: usize| {
            let run = || self.build_stage(i, i == target, first_step[i]);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or(Err(BuildError::Panicked))
        };
        let mut started: Vec<usize> = Vec::new();
        let mut done: Vec<usize> = Vec::new();
        let mut failure = None;
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let mut running = 0;
            loop {
                let ready: Vec<usize> = order
                    .iter()
                    .copied()
                    .filter(|i| !started.contains(i) && deps[*i].iter().all(|d| done.contains(d)))
                    .collect();
                let result = match (failure.is_some(), ready.as_slice(), running) {
                    (true, _, 0) | (false, [], 0) => break,
                    // A stage alone is built on this thread, which then handles signals
                    // as `run` does (passed on to the RUN's command).
                    (false, [i], 0) => {
                        started.push(*i);
                        (*i, build(*i))
                    }
                    (false, _, _) if !ready.is_empty() => {
                        for &i in &ready {
                            started.push(i);
                            running += 1;
                            let tx = tx.clone();
                            let build = &build;
                            s.spawn(move || {
                                // The receiver outlives every stage thread.
                                let _ = tx.send((i, build(i)));
                            });
                        }
                        continue;
                    }
                    _ => {
                        running -= 1;
                        rx.recv().expect("a stage thread reports")
                    }
                };
                match result {
                    (i, Ok(state)) => {
                        self.stages.lock().expect("stages")[i] = Some(state);
                        done.push(i);
                    }
                    (_, Err(e)) => {
                        failure.get_or_insert(e);
                    }
                }
            }
        });
        failure.map_or(Ok(()), Err)
    }

    /// `e` as the failure of `step`, at its place in the Dockerfile.
    fn at(&self, step: &Step, e: BuildError) -> BuildError {
        BuildError::Step {
            file: self.df.file.clone(),
            line: step.line,
            source: Box::new(e),
        }
    }

    fn announce(&self, run: &mut StageRun<'_>, source: &str) {
        self.out
            .line(&format!("Step {}/{} : {source}", run.step, self.total));
        run.step += 1;
    }

    fn done(&self, state: &ImageState) {
        if let Some(id) = &state.id {
            self.out.line(&format!(" ---> {}", id.short()));
        }
    }

    /// The time the build writes into what it makes.
    fn created(&self) -> String {
        match self.opts.epoch {
            Some(t) => crate::output::rfc3339(t, 0),
            None => crate::clock::now_rfc3339(),
        }
    }

    fn build_stage(&self, index: usize, is_target: bool, first_step: usize) -> Result<ImageState> {
        let stage = &self.df.stages[index];
        self.out.line(&format!(
            "Step {first_step}/{} : {}",
            self.total, stage.source
        ));
        if let Some(p) = self.global.expand_platform(stage)? {
            let host = crate::image::platform::Platform::host();
            let wanted = crate::image::platform::Platform::parse(Some(&p))?;
            if (wanted.os.as_str(), wanted.architecture.as_str())
                != (host.os.as_str(), host.architecture.as_str())
            {
                return Err(BuildError::ForeignPlatform {
                    file: self.df.file.clone(),
                    line: stage.line,
                    platform: p,
                    os: host.os,
                    arch: host.architecture,
                });
            }
        }
        let mut state = match self.df.base(index, self.global)? {
            BaseRef::Scratch => ImageState::scratch(),
            BaseRef::Stage(i) => self.stage(i),
            BaseRef::Image(name) => self.image(&name)?,
        };
        self.done(&state);
        default_path(&mut state);
        let triggers = take_triggers(&mut state)?;
        let env = state
            .config
            .config
            .as_ref()
            .and_then(|c| c.env.clone())
            .unwrap_or_default();
        let mut run = StageRun {
            state,
            scope: Scope::new(self.global, self.build_args, &env),
            cmd_set: false,
            step: first_step + 1,
        };
        if !triggers.is_empty() {
            self.out.line(&format!(
                "# Executing {} build trigger{}",
                triggers.len(),
                if triggers.len() == 1 { "" } else { "s" }
            ));
            for t in &triggers {
                self.step_in(&mut run, t)?;
            }
        }
        for step in &stage.steps {
            self.announce(&mut run, &step.source);
            self.step_in(&mut run, step)?;
        }
        if is_target && !self.opts.labels.is_empty() {
            let step = label_step(&self.opts.labels);
            self.announce(&mut run, &step.source);
            self.step_in(&mut run, &step)?;
        }
        Ok(run.state)
    }

    /// An image by name, pulled when it is not here (or always with `--pull`).
    fn image(&self, name: &str) -> Result<ImageState> {
        use crate::config::PullPolicy;
        let policy = if self.opts.pull {
            PullPolicy::Always
        } else {
            PullPolicy::Missing
        };
        let (id, _) = crate::registry::pull::image_for_run(self.store, name, policy)?;
        ImageState::load(self.store, &id)
    }

    fn step_in(&self, run: &mut StageRun<'_>, step: &Step) -> Result<()> {
        let ins = run.scope.expand(step)?;
        match &ins {
            Instruction::Run(r) => self.run(run, step, r)?,
            Instruction::Copy(c) => self.copy(run, &copy_step::CopySpec::from_copy(c))?,
            Instruction::Add(a) => self.copy(run, &copy_step::CopySpec::from_add(a)?)?,
            Instruction::From(_) => {
                return Err(BuildError::FromInStage {
                    file: self.df.file.clone(),
                    line: step.line,
                })
            }
            Instruction::Workdir(_) => self.workdir(run, step, &ins)?,
            other => self.metadata(run, step, other)?,
        }
        run.scope.apply(&ins);
        self.done(&run.state);
        Ok(())
    }

    /// Looks `key` up; on a hit, moves the stage to the cached image.
    fn cached(&self, run: &mut StageRun<'_>, key: Key) -> Result<Result<(), String>> {
        let db = self.store.db()?;
        match self.cache.get(key, &db) {
            (Some(id), _) => {
                run.state = ImageState::load_from(self.store, &db, &id)?;
                self.out.line(" ---> Using cache");
                Ok(Ok(()))
            }
            (None, key) => Ok(Err(key)),
        }
    }

    /// A history entry; like docker's, it names the image's author (MAINTAINER).
    fn history(&self, config: &ImageConfig, created_by: String, empty: bool) -> History {
        History {
            created: Some(self.created()),
            created_by: Some(created_by),
            author: config.author.clone(),
            empty_layer: empty.then_some(true),
            ..Default::default()
        }
    }

    fn metadata(&self, run: &mut StageRun<'_>, step: &Step, ins: &Instruction) -> Result<()> {
        let mut key = Key::new(run.state.id.as_ref());
        key.add(format!("{ins:?}").as_bytes());
        let mut config = run.state.config.clone();
        metadata::apply(&mut config, ins, &mut run.cmd_set).map_err(|e| self.at(step, e))?;
        let key = match self.cached(run, key)? {
            Ok(()) => return Ok(()),
            Err(key) => key,
        };
        config.created = Some(self.created());
        // docker's classic builder writes one space after `#(nop)` for WORKDIR (a step
        // that may make a layer), two for the others.
        let gap = if matches!(ins, Instruction::Workdir(_)) {
            " "
        } else {
            "  "
        };
        let created_by = format!(
            "{} #(nop){gap}{}",
            metadata::shell(config.config.as_ref().unwrap_or(&Default::default())).join(" "),
            metadata::commit_message(&config, ins)
        );
        let history = self.history(&config, created_by, true);
        let txn = self.store.begin()?;
        run.state = run.state.commit(self.store, txn, config, None, history)?;
        self.cache.put(&key, run.state.id.as_ref().expect("stored"));
        Ok(())
    }

    /// Stores the build container's writable layer as the stage's next image, with a
    /// history entry, and records it under the step's cache `key`.
    fn store_layer(
        &self,
        run: &mut StageRun<'_>,
        ctr: &container::BuildContainer<'_>,
        created_by: String,
        key: &str,
    ) -> Result<()> {
        let mut config = run.state.config.clone();
        config.created = Some(self.created());
        self.store_layer_as(run, ctr, config, created_by, key)
    }

    /// [`Self::store_layer`] with the image config the step made.
    fn store_layer_as(
        &self,
        run: &mut StageRun<'_>,
        ctr: &container::BuildContainer<'_>,
        config: crate::image::ImageConfig,
        created_by: String,
        key: &str,
    ) -> Result<()> {
        let txn = self.store.begin()?;
        let layer = ctr.layer(&txn, self.opts.epoch)?;
        let history = self.history(&config, created_by, false);
        run.state = run
            .state
            .commit(self.store, txn, config, Some(layer.into_layer()), history)?;
        self.cache.put(key, run.state.id.as_ref().expect("stored"));
        Ok(())
    }

    fn finish(&self, id: &Digest) -> Result<()> {
        let db = self.store.db()?;
        let named = |t: &String| db.tags().get(t.as_str()) == Some(id);
        if !self.opts.tags.iter().all(named) {
            let mut writer = ImageWriter::new(Assembly::Build);
            writer.name(id, self.opts.tags.iter().cloned(), None);
            writer.update(self.store)?;
        }
        if let Some(f) = &self.opts.iidfile {
            std::fs::write(f, id.as_str())
                .map_err(error::io(format!("cannot write {}", f.display()), f))?;
        }
        if !self.opts.unused_args.is_empty() {
            self.out.line(&format!(
                "[Warning] One or more build-args [{}] were not consumed",
                self.opts.unused_args.join(" ")
            ));
        }
        self.out.line(&format!("Successfully built {}", id.short()));
        for t in &self.opts.tags {
            self.out
                .line(&format!("Successfully tagged {}", familiar(t)));
        }
        Ok(())
    }
}

/// Adds the default PATH to a stage's environment when its base has none, as docker's
/// classic builder does (the image it builds keeps it).
fn default_path(state: &mut ImageState) {
    use crate::container::spec::DEFAULT_PATH;
    let c = state.config.config.get_or_insert_with(Default::default);
    let env = c.env.get_or_insert_with(Vec::new);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
}

/// The base image's ONBUILD triggers, parsed, taken out of the stage's config.
fn take_triggers(state: &mut ImageState) -> Result<Vec<Step>> {
    let Some(c) = state.config.config.as_mut() else {
        return Ok(Vec::new());
    };
    let Some(v) = c.extra.remove("OnBuild") else {
        return Ok(Vec::new());
    };
    let list: Vec<String> = serde_json::from_value(v).unwrap_or_default();
    Ok(crate::dockerfile::stage::parse_triggers(&list, "ONBUILD")?)
}

/// The LABEL step `--label` adds at the end of the target stage.
fn label_step(labels: &[KeyValue]) -> Step {
    let text: Vec<String> = labels
        .iter()
        .map(|kv| format!("{}={:?}", kv.key, kv.value))
        .collect();
    Step {
        line: 0,
        end_line: 0,
        source: format!("LABEL {}", text.join(" ")),
        instruction: Instruction::Label(labels.to_vec()),
    }
}
