//! Programs: find, create, rename; names unique in the workspace.

use uuid::Uuid;

use super::{OWNER_PERMISSION, Store, not_found};
use crate::error::{ApiError, ApiResult};
use crate::model::*;

impl Store {
    pub fn program(&self, id: &str) -> ApiResult<&Program> {
        let uid = Uuid::try_parse(id).map_err(|_| not_found("program", id))?;
        self.programs
            .iter()
            .find(|p| p.id == uid)
            .ok_or_else(|| not_found("program", id))
    }

    pub fn program_mut(&mut self, id: &str) -> ApiResult<&mut Program> {
        let uid = Uuid::try_parse(id).map_err(|_| not_found("program", id))?;
        self.programs
            .iter_mut()
            .find(|p| p.id == uid)
            .ok_or_else(|| not_found("program", id))
    }

    fn check_program_name(&self, name: &str, except: Option<Uuid>) -> ApiResult<()> {
        if self
            .programs
            .iter()
            .any(|p| p.name == name && Some(p.id) != except)
        {
            return Err(ApiError::conflict(format!(
                "A program named `{name}` already exists; program names are unique within a workspace"
            ))
            .with_target("name"));
        }
        Ok(())
    }

    /// Creates a program; the creating principal becomes its Owner.
    pub fn create_program(&mut self, name: &str, owner: Option<&str>) -> ApiResult<&Program> {
        self.check_program_name(name, None)?;
        let seq = self.next_seq();
        let mut permissions = Vec::new();
        if let Some(o) = owner {
            self.principals.entry(o.to_string()).or_insert("user");
            permissions.push(Assignment {
                permission: OWNER_PERMISSION.into(),
                principal: o.into(),
                principal_type: self.principals[o],
            });
        }
        self.programs.push(Program {
            id: Uuid::new_v4(),
            seq,
            name: name.into(),
            topics: Vec::new(),
            dimensions: Vec::new(),
            metrics: Vec::new(),
            permissions,
        });
        Ok(self.programs.last().expect("just pushed"))
    }

    pub fn rename_program(&mut self, id: &str, name: &str) -> ApiResult<&Program> {
        let pid = self.program(id)?.id;
        self.check_program_name(name, Some(pid))?;
        let p = self.program_mut(id)?;
        p.name = name.into();
        Ok(p)
    }
}
