//! WORKDIR: besides setting the working directory (relative to the previous one), the
//! directory is made when the image lacks it, with its missing parents, mode 0755 and
//! owned by the stage's USER as BuildKit makes it, in a layer of its own. When it is
//! there already the step only changes the config (`empty_layer`), as docker's classic
//! builder records a WORKDIR whose change is empty.

use super::cache::Key;
use super::container::BuildContainer;
use super::copy::mkdir_p;
use super::copy_step::chown_ids;
use super::error::{io, Result};
use super::tree::kind;
use super::{Builder, StageRun};
use crate::dockerfile::{Instruction, Step};

impl Builder<'_> {
    pub(super) fn workdir(
        &self,
        run: &mut StageRun<'_>,
        step: &Step,
        ins: &Instruction,
    ) -> Result<()> {
        let mut key = Key::new(run.state.id.as_ref());
        key.add(format!("{ins:?}").as_bytes());
        let mut config = run.state.config.clone();
        super::metadata::apply(&mut config, ins, &mut run.cmd_set).map_err(|e| self.at(step, e))?;
        let key = match self.cached(run, key)? {
            Ok(()) => return Ok(()),
            Err(key) => key,
        };
        let c = config.config.clone().unwrap_or_default();
        let path = c.working_dir.clone().unwrap_or_else(|| "/".into());
        // Docker's classic builder records the resolved directory.
        let created_by = format!(
            "{} #(nop) WORKDIR {path}",
            super::metadata::shell(&c).join(" ")
        );
        config.created = Some(self.created());
        let ctr = BuildContainer::create(self.store, &run.state, Default::default())?;
        let root = ctr.mount()?;
        let fail = || io(format!("cannot make the working directory {path}"), &path);
        let exists = root
            .stat(&path)
            .map_err(fail())?
            .is_some_and(|st| kind(&st) == libc::S_IFDIR);
        if exists || path == "/" {
            drop(root);
            let history = self.history(&config, created_by, true);
            let txn = self.store.begin()?;
            run.state = run.state.commit(self.store, txn, config, None, history)?;
            self.cache.put(&key, run.state.id.as_ref().expect("stored"));
            return Ok(());
        }
        let owner = match c.user.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => chown_ids(&root, u).map_err(|e| self.at(step, e))?,
            None => (0, 0),
        };
        mkdir_p(&root, &path, owner).map_err(fail())?;
        drop(root);
        self.store_layer_as(run, &ctr, config, created_by, &key)
    }
}
