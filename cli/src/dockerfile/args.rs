//! ARG and ENV scoping. ARGs before the first FROM (and the predefined platform ARGs) form
//! the [`GlobalScope`], which only FROM lines see; inside a stage an ARG is visible after it
//! is declared (a bare `ARG NAME` takes the global value), `--build-arg` overrides ARG
//! defaults, and ENV always wins over an ARG of the same name. Every expansion in one
//! instruction sees the variables as they were before it.

use super::error::{ErrorKind, ParseError};
use super::expand::{Lexer, VarList, Vars};
use super::expand_instruction::expand_instruction;
use super::instruction::{Arg, Instruction, Step};
use super::stage::{Dockerfile, Stage};
use std::collections::BTreeMap;

/// The proxy ARGs docker passes to RUN without an ARG instruction.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// An OS/architecture/variant triple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, … (Go's names).
    pub arch: String,
    /// `v7`, `v8`, or empty.
    pub variant: String,
}

impl Platform {
    /// The machine strata runs on.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "arm" => "arm",
            other => other,
        };
        Platform {
            os: "linux".into(),
            arch: arch.into(),
            variant: if arch == "arm" {
                "v7".into()
            } else {
                String::new()
            },
        }
    }

    /// `os/arch[/variant]`.
    pub fn format(&self) -> String {
        let mut s = format!("{}/{}", self.os, self.arch);
        if !self.variant.is_empty() {
            s.push('/');
            s.push_str(&self.variant);
        }
        s
    }
}

/// The predefined ARGs for building on `build` for `target`.
pub fn predefined_args(build: &Platform, target: &Platform) -> VarList {
    let mut v = VarList::new();
    for (k, val) in [
        ("BUILDPLATFORM", build.format()),
        ("BUILDOS", build.os.clone()),
        ("BUILDARCH", build.arch.clone()),
        ("BUILDVARIANT", build.variant.clone()),
        ("TARGETPLATFORM", target.format()),
        ("TARGETOS", target.os.clone()),
        ("TARGETARCH", target.arch.clone()),
        ("TARGETVARIANT", target.variant.clone()),
    ] {
        v.set(k, &val);
    }
    v
}

/// The `--build-arg` values of a build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildArgs(BTreeMap<String, String>);

impl BuildArgs {
    /// From `KEY=value` strings; a bare `KEY` takes the value of that environment variable
    /// and is left out when it is not set (as docker does).
    pub fn parse<S: AsRef<str>>(list: &[S]) -> BuildArgs {
        let mut map = BTreeMap::new();
        for item in list {
            let item = item.as_ref();
            match item.split_once('=') {
                Some((k, v)) => {
                    map.insert(k.to_string(), v.to_string());
                }
                None => {
                    if let Ok(v) = std::env::var(item) {
                        map.insert(item.to_string(), v);
                    }
                }
            }
        }
        BuildArgs(map)
    }

    /// The value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The proxy ARGs given.
    fn proxies(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .filter(|(k, _)| PROXY_ARGS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The value an `ARG` declaration gives `arg`: the build arg, else its (expanded) default,
/// else `fallback` (the global value), else none (declared but unset).
fn arg_value(arg: &Arg, build_args: &BuildArgs, fallback: Option<&str>) -> Option<String> {
    build_args
        .get(&arg.name)
        .map(String::from)
        .or_else(|| arg.default.clone())
        .or_else(|| fallback.map(String::from))
}

/// The variables FROM lines see: the predefined ARGs and the ARGs before the first FROM.
#[derive(Debug, Clone)]
pub struct GlobalScope {
    vars: VarList,
    lexer: Lexer,
    file: String,
}

impl GlobalScope {
    /// Evaluates the ARGs before the first FROM of `df`, with `build_args` overriding their
    /// defaults and the predefined ARGs.
    pub fn new(
        df: &Dockerfile,
        build_args: &BuildArgs,
        build: &Platform,
        target: &Platform,
    ) -> Result<GlobalScope, ParseError> {
        let lexer = Lexer::new(df.directives.escape);
        let mut vars = predefined_args(build, target);
        let predefined: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, _) in &predefined {
            if let Some(v) = build_args.get(k) {
                vars.set(k, v);
            }
        }
        for (line, args) in &df.meta_args {
            let mut values = Vec::new();
            for arg in args {
                let mut arg = arg.clone();
                if build_args.get(&arg.name).is_none() {
                    if let Some(d) = &arg.default {
                        arg.default =
                            Some(lexer.process_word(d, &vars).map_err(|e| ParseError {
                                file: df.file.clone(),
                                line: Some(*line),
                                kind: Box::new(ErrorKind::Expand(e)),
                            })?);
                    }
                }
                let fallback = vars.var(&arg.name).map(String::from);
                values.push((
                    arg.name.clone(),
                    arg_value(&arg, build_args, fallback.as_deref()),
                ));
            }
            for (name, value) in values {
                if let Some(v) = value {
                    vars.set(&name, &v);
                }
            }
        }
        Ok(GlobalScope {
            vars,
            lexer,
            file: df.file.clone(),
        })
    }

    /// The global variables.
    pub fn vars(&self) -> &VarList {
        &self.vars
    }

    /// The image name of `stage`'s FROM, expanded.
    pub fn expand_from(&self, stage: &Stage) -> Result<String, ParseError> {
        let err = |kind| ParseError {
            file: self.file.clone(),
            line: Some(stage.line),
            kind: Box::new(kind),
        };
        let image = self
            .lexer
            .process_word(&stage.from.image, &self.vars)
            .map_err(|e| err(ErrorKind::Expand(e)))?;
        if image.is_empty() {
            return Err(err(ErrorKind::BlankBaseName(stage.from.image.clone())));
        }
        Ok(image)
    }

    /// The `--platform` of `stage`'s FROM, expanded, if it has one.
    pub fn expand_platform(&self, stage: &Stage) -> Result<Option<String>, ParseError> {
        let Some(p) = &stage.from.platform else {
            return Ok(None);
        };
        let err = |kind| ParseError {
            file: self.file.clone(),
            line: Some(stage.line),
            kind: Box::new(kind),
        };
        let v = self
            .lexer
            .process_word(p, &self.vars)
            .map_err(|e| err(ErrorKind::Expand(e)))?;
        if v.is_empty() {
            return Err(err(ErrorKind::BlankPlatform(p.clone())));
        }
        Ok(Some(v))
    }
}

/// The variables of one stage as its steps run: the image's ENV, the ENVs and ARGs so far.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    global: &'a GlobalScope,
    build_args: &'a BuildArgs,
    env: VarList,
    args: VarList,
}

impl<'a> Scope<'a> {
    /// A stage's scope starting from its base image's `Env` (`KEY=value` strings).
    pub fn new<S: AsRef<str>>(
        global: &'a GlobalScope,
        build_args: &'a BuildArgs,
        image_env: &[S],
    ) -> Scope<'a> {
        Scope {
            global,
            build_args,
            env: VarList::from_env_strings(image_env),
            args: VarList::new(),
        }
    }

    /// The image config's environment: the base image's plus this stage's ENVs.
    pub fn env(&self) -> &VarList {
        &self.env
    }

    /// The ARGs declared in this stage that have a value.
    pub fn args(&self) -> &VarList {
        &self.args
    }

    /// What words are expanded with: proxy build args, then the stage's ARGs, with ENV
    /// winning over both.
    pub fn vars(&self) -> VarList {
        let mut v = VarList::new();
        for (k, val) in self.build_args.proxies() {
            v.set(k, val);
        }
        for (k, val) in self.args.iter().chain(self.env.iter()) {
            v.set(k, val);
        }
        v
    }

    /// The environment of a RUN step: [`Scope::vars`] (ENV, ARGs, proxies).
    pub fn run_env(&self) -> VarList {
        self.vars()
    }

    /// `step` with its variables expanded in the fields docker expands, using the
    /// variables as they are before the step.
    pub fn expand(&self, step: &Step) -> Result<Instruction, ParseError> {
        expand_instruction(
            &step.instruction,
            &self.vars(),
            &self.global.lexer,
            self.build_args,
        )
        .map_err(|kind| ParseError {
            file: self.global.file.clone(),
            line: Some(step.line),
            kind: Box::new(kind),
        })
    }

    /// Records what an expanded ENV or ARG sets; other instructions change nothing here.
    pub fn apply(&mut self, expanded: &Instruction) {
        match expanded {
            Instruction::Env(pairs) => {
                for kv in pairs {
                    self.env.set(&kv.key, &kv.value);
                }
            }
            Instruction::Arg(args) => {
                for arg in args {
                    let global = self.global.vars.var(&arg.name);
                    if let Some(v) = arg_value(arg, self.build_args, global) {
                        self.args.set(&arg.name, &v);
                    }
                }
            }
            _ => {}
        }
    }
}
