//! Stages: the instructions grouped under each FROM, the ARGs before the first FROM, and
//! how stages refer to each other (`FROM stage`, `COPY --from`, `RUN --mount=from=`).

use super::args::GlobalScope;
use super::ast::Ast;
use super::directives::Directives;
use super::error::{ErrorKind, ParseError};
use super::expand::{Lexer, NoVars};
use super::instruction::{Arg, From, Instruction, Step};
use super::instruction_parse::parse_node;
use super::suggest::suggest;

/// Where a COPY or mount takes files from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageRef {
    /// A stage of this Dockerfile, by index.
    Stage(usize),
    /// An image by name (anything that names no stage).
    Image(String),
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseRef {
    /// `FROM scratch`: an empty filesystem.
    Scratch,
    /// An earlier stage.
    Stage(usize),
    /// An image by name.
    Image(String),
}

/// One build stage: a FROM and the steps under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Its position (0 for the first FROM).
    pub index: usize,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// The FROM instruction.
    pub from: From,
    /// The FROM's line.
    pub line: usize,
    /// The FROM as written.
    pub source: String,
    /// The instructions after the FROM, up to the next one.
    pub steps: Vec<Step>,
}

/// A parsed and checked Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// How errors name the file.
    pub file: String,
    /// Its parser directives (the escape character is needed to expand words).
    pub directives: Directives,
    /// The ARG instructions before the first FROM.
    pub meta_args: Vec<(usize, Vec<Arg>)>,
    /// The stages in order.
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    /// Parses and checks the Dockerfile text `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Dockerfile, ParseError> {
        Dockerfile::from_ast(&super::parser::parse(text, file)?, file)
    }

    /// Turns a parse into typed stages, checking every instruction.
    pub fn from_ast(ast: &Ast, file: &str) -> Result<Dockerfile, ParseError> {
        let err = |line: usize, kind| ParseError {
            file: file.to_string(),
            line: Some(line),
            kind: Box::new(kind),
        };
        let mut df = Dockerfile {
            file: file.to_string(),
            directives: ast.directives.clone(),
            meta_args: Vec::new(),
            stages: Vec::new(),
        };
        for node in &ast.nodes {
            let instruction = parse_node(node).map_err(|k| err(node.start_line, k))?;
            let step = Step {
                line: node.start_line,
                end_line: node.end_line,
                source: node.original.trim().to_string(),
                instruction,
            };
            let Step {
                line,
                end_line,
                source,
                instruction,
            } = step;
            match instruction {
                Instruction::From(from) => {
                    if let Some(name) = &from.name {
                        if df.stage_index(name).is_some() {
                            return Err(err(line, ErrorKind::DuplicateStageName(name.clone())));
                        }
                    }
                    df.stages.push(Stage {
                        index: df.stages.len(),
                        name: from.name.clone(),
                        from,
                        line,
                        source,
                        steps: Vec::new(),
                    });
                }
                Instruction::Arg(args) if df.stages.is_empty() => df.meta_args.push((line, args)),
                instruction => match df.stages.last_mut() {
                    None => return Err(err(line, ErrorKind::NoStage)),
                    Some(stage) => stage.steps.push(Step {
                        line,
                        end_line,
                        source,
                        instruction,
                    }),
                },
            }
        }
        if df.stages.is_empty() {
            return Err(ParseError {
                file: file.to_string(),
                line: None,
                kind: Box::new(ErrorKind::NoStages),
            });
        }
        df.resolve_copy_sources()?;
        Ok(df)
    }

    /// The index of the stage called `name` (case-insensitive).
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// What `--from=name` or `from=name` refers to: a stage by index or name, else an image.
    pub fn stage_ref(&self, name: &str) -> Result<StageRef, ErrorKind> {
        if let Ok(i) = name.parse::<usize>() {
            if i >= self.stages.len() {
                return Err(ErrorKind::StageIndex(i));
            }
            return Ok(StageRef::Stage(i));
        }
        Ok(match self.stage_index(name) {
            Some(i) => StageRef::Stage(i),
            None => StageRef::Image(name.to_string()),
        })
    }

    fn resolve_copy_sources(&mut self) -> Result<(), ParseError> {
        let lexer = Lexer::new(self.directives.escape);
        let mut resolved = Vec::new();
        for (si, stage) in self.stages.iter().enumerate() {
            for (i, step) in stage.steps.iter().enumerate() {
                let Instruction::Copy(copy) = &step.instruction else {
                    continue;
                };
                let Some(StageRef::Image(name)) = &copy.from else {
                    continue;
                };
                let err = |kind| ParseError {
                    file: self.file.clone(),
                    line: Some(step.line),
                    kind: Box::new(kind),
                };
                if lexer.process_word(name, &NoVars).ok().as_deref() != Some(name.as_str()) {
                    return Err(err(ErrorKind::FromVariable));
                }
                resolved.push((si, i, self.stage_ref(name).map_err(err)?));
            }
        }
        for (si, i, r) in resolved {
            if let Instruction::Copy(copy) = &mut self.stages[si].steps[i].instruction {
                copy.from = Some(r);
            }
        }
        Ok(())
    }

    /// The stage `--target` names, or the last stage without one.
    pub fn target(&self, target: Option<&str>) -> Result<usize, ParseError> {
        match target {
            None => Ok(self.stages.len() - 1),
            Some(t) => self.stage_index(t).ok_or_else(|| {
                let names: Vec<&str> = self
                    .stages
                    .iter()
                    .filter_map(|s| s.name.as_deref())
                    .collect();
                ParseError {
                    file: self.file.clone(),
                    line: None,
                    kind: Box::new(ErrorKind::TargetNotFound {
                        name: t.to_string(),
                        suggestion: suggest(t, &names, true),
                    }),
                }
            }),
        }
    }

    /// What stage `index` starts from, its FROM expanded with the global ARGs; an earlier
    /// stage's name refers to that stage.
    pub fn base(&self, index: usize, global: &GlobalScope) -> Result<BaseRef, ParseError> {
        let stage = &self.stages[index];
        let image = global.expand_from(stage)?;
        if image.eq_ignore_ascii_case("scratch") {
            return Ok(BaseRef::Scratch);
        }
        Ok(
            match self.stages[..index].iter().position(|s| {
                s.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&image))
            }) {
                Some(i) => BaseRef::Stage(i),
                None => BaseRef::Image(image),
            },
        )
    }

    /// The stages stage `index` needs directly: its base and every `COPY --from` and
    /// literal `RUN --mount=from=` stage.
    pub fn dependencies(
        &self,
        index: usize,
        global: &GlobalScope,
    ) -> Result<Vec<usize>, ParseError> {
        let mut deps = Vec::new();
        if let BaseRef::Stage(i) = self.base(index, global)? {
            deps.push(i);
        }
        for step in &self.stages[index].steps {
            let refs: Vec<&str> = match &step.instruction {
                Instruction::Copy(c) => match &c.from {
                    Some(StageRef::Stage(i)) => {
                        deps.push(*i);
                        Vec::new()
                    }
                    _ => Vec::new(),
                },
                Instruction::Run(r) => r.mounts.iter().filter_map(|m| m.from.as_deref()).collect(),
                _ => Vec::new(),
            };
            for name in refs {
                if let Ok(StageRef::Stage(i)) = self.stage_ref(name) {
                    deps.push(i);
                }
            }
        }
        deps.sort_unstable();
        deps.dedup();
        Ok(deps)
    }

    /// The stages building `target` needs, each after the stages it depends on; stages
    /// the target does not need are left out.
    pub fn stages_for(
        &self,
        target: usize,
        global: &GlobalScope,
    ) -> Result<Vec<usize>, ParseError> {
        let mut order = Vec::new();
        let mut state = vec![0u8; self.stages.len()];
        self.visit(target, global, &mut state, &mut order)?;
        Ok(order)
    }

    fn visit(
        &self,
        i: usize,
        global: &GlobalScope,
        state: &mut [u8],
        order: &mut Vec<usize>,
    ) -> Result<(), ParseError> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let stage = &self.stages[i];
                return Err(ParseError {
                    file: self.file.clone(),
                    line: Some(stage.line),
                    kind: Box::new(ErrorKind::StageCycle(
                        stage.name.clone().unwrap_or_else(|| i.to_string()),
                    )),
                });
            }
            _ => {}
        }
        state[i] = 1;
        for d in self.dependencies(i, global)? {
            self.visit(d, global, state, order)?;
        }
        state[i] = 2;
        order.push(i);
        Ok(())
    }
}

impl Dockerfile {
    /// Every name an ARG declares (before the first FROM or in a stage), so a build can
    /// warn about `--build-arg`s nothing consumes.
    pub fn declared_args(&self) -> std::collections::BTreeSet<String> {
        let in_stages = self
            .stages
            .iter()
            .flat_map(|s| &s.steps)
            .filter_map(|step| match &step.instruction {
                Instruction::Arg(args) => Some(args),
                _ => None,
            });
        self.meta_args
            .iter()
            .map(|(_, args)| args)
            .chain(in_stages)
            .flatten()
            .map(|a| a.name.clone())
            .collect()
    }
}

/// The ONBUILD triggers of a base image (its config's `OnBuild` strings) as steps to run
/// first in a stage built on it; `file` names them in errors.
pub fn parse_triggers(triggers: &[String], file: &str) -> Result<Vec<Step>, ParseError> {
    let mut steps = Vec::new();
    for text in triggers {
        let ast = super::parser::parse(text, file)?;
        for node in &ast.nodes {
            let instruction = parse_node(node).map_err(|kind| ParseError {
                file: file.to_string(),
                line: Some(node.start_line),
                kind: Box::new(kind),
            })?;
            if let Instruction::From(_) | Instruction::Maintainer(_) | Instruction::Onbuild(_) =
                instruction
            {
                return Err(ParseError {
                    file: file.to_string(),
                    line: Some(node.start_line),
                    kind: Box::new(ErrorKind::OnbuildTrigger(instruction.name().to_string())),
                });
            }
            steps.push(Step {
                line: node.start_line,
                end_line: node.end_line,
                source: node.original.trim().to_string(),
                instruction,
            });
        }
    }
    Ok(steps)
}
