//! A whole check of a Dockerfile before anything runs: every FROM's name and platform
//! expand, the target exists, the stages it needs resolve (no cycles), and every step of
//! those stages expands. The base images' ENV is not known yet, so `${VAR?msg}` and
//! `${VAR:?msg}` failures, which may depend on it, are left to the build.

use super::args::{BuildArgs, GlobalScope, Scope};
use super::error::{ErrorKind, ExpandErrorKind, ParseError};
use super::instruction::Instruction;
use super::stage::Dockerfile;

/// Whether `e` may go away once the base image's ENV is known.
fn depends_on_image_env(e: &ParseError) -> bool {
    matches!(&*e.kind, ErrorKind::Expand(x) if matches!(x.kind, ExpandErrorKind::Required { .. }))
}

impl Dockerfile {
    /// Checks everything that can be checked without images for building `target` (the
    /// last stage when None); returns the stages needed, in build order.
    pub fn check(
        &self,
        global: &GlobalScope,
        build_args: &BuildArgs,
        target: Option<&str>,
    ) -> Result<Vec<usize>, ParseError> {
        for (i, stage) in self.stages.iter().enumerate() {
            self.base(i, global)?;
            global.expand_platform(stage)?;
        }
        let target = self.target(target)?;
        let order = self.stages_for(target, global)?;
        for &i in &order {
            let stage = &self.stages[i];
            let mut scope = Scope::new(global, build_args, &[] as &[&str]);
            for step in &stage.steps {
                let expanded = match scope.expand(step) {
                    Ok(x) => x,
                    Err(e) if depends_on_image_env(&e) => continue,
                    Err(e) => return Err(e),
                };
                if let Instruction::Run(run) = &expanded {
                    for m in run.mounts.iter().filter_map(|m| m.from.as_deref()) {
                        self.stage_ref(m).map_err(|kind| ParseError {
                            file: self.file.clone(),
                            line: Some(step.line),
                            kind: Box::new(kind),
                        })?;
                    }
                }
                scope.apply(&expanded);
            }
        }
        Ok(order)
    }
}
