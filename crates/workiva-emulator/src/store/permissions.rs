//! Program permissions: who may read, write and administer a program.

use super::{OWNER_PERMISSION, PERMISSIONS, Store};
use crate::error::{ApiError, ApiResult, Detail};
use crate::model::*;

impl Store {
    /// Whether `principal` holds Owner on the program.
    /// What `principal` may do on `program` by its permissions: `None` holds nothing.
    pub fn access(&self, program: &Program, principal: &str) -> Option<Access> {
        program
            .permissions
            .iter()
            .filter(|a| a.principal == principal)
            .filter_map(|a| Access::of_permission(&a.permission))
            .max()
    }

    pub fn is_owner(&self, program: &Program, principal: &str) -> bool {
        program
            .permissions
            .iter()
            .any(|a| a.principal == principal && a.permission == OWNER_PERMISSION)
    }

    /// Applies a permission modification all-or-nothing.
    pub fn modify_permissions(
        &mut self,
        program: &str,
        assign: &[(String, String)],
        revoke: &[(String, String)],
    ) -> ApiResult<()> {
        let p = self.program(program)?;
        let mut next = p.permissions.clone();
        let mut problems = Vec::new();
        let known = |perm: &str| PERMISSIONS.iter().any(|(id, _)| *id == perm);
        for (i, (perm, princ)) in revoke.iter().enumerate() {
            if let Some(pos) = next
                .iter()
                .position(|a| &a.permission == perm && &a.principal == princ)
            {
                next.remove(pos);
            } else {
                problems.push(Detail::new(
                    "NotFound",
                    format!("toRevoke[{i}]"),
                    format!(
                        "Principal `{princ}` does not hold permission `{perm}` on this program"
                    ),
                ));
            }
        }
        for (i, (perm, princ)) in assign.iter().enumerate() {
            if !known(perm) {
                problems.push(Detail::new(
                    "InvalidPermission",
                    format!("toAssign[{i}].permission"),
                    format!("`{perm}` is not a permission of this workspace; see GET /permissions"),
                ));
                continue;
            }
            let Some(kind) = self.principals.get(princ) else {
                problems.push(Detail::new(
                    "InvalidPrincipal",
                    format!("toAssign[{i}].principal"),
                    format!("No user or group `{princ}` exists in this workspace"),
                ));
                continue;
            };
            if next
                .iter()
                .any(|a| &a.permission == perm && &a.principal == princ)
            {
                problems.push(Detail::new(
                    "Conflict",
                    format!("toAssign[{i}]"),
                    format!("Principal `{princ}` already holds permission `{perm}`"),
                ));
                continue;
            }
            next.push(Assignment {
                permission: perm.clone(),
                principal: princ.clone(),
                principal_type: kind,
            });
        }
        if !problems.is_empty() {
            let first = problems[0].message.clone();
            return Err(
                ApiError::bad_request(format!("No permission was changed: {first}"))
                    .with_details(problems),
            );
        }
        self.program_mut(program)?.permissions = next;
        Ok(())
    }
}

/// What a permission lets its holder do on a program: Viewer reads, Editor also writes, Owner
/// also administers (renames the program, changes its permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
    Admin,
}

impl Access {
    fn of_permission(id: &str) -> Option<Self> {
        match PERMISSIONS.iter().find(|(pid, _)| *pid == id)?.1 {
            "Viewer" => Some(Self::Read),
            "Editor" => Some(Self::Write),
            "Owner" => Some(Self::Admin),
            _ => None,
        }
    }

    /// The permission that grants this access.
    pub fn role(self) -> &'static str {
        match self {
            Self::Read => "Viewer",
            Self::Write => "Editor",
            Self::Admin => "Owner",
        }
    }

    /// What a request needs: reads need Viewer, writes Editor, renaming a program or changing
    /// its permissions Owner.
    pub fn needed(method: &axum::http::Method, template: &str) -> Self {
        if template == "/programs/{programId}/permissions/modification"
            || (template == "/programs/{programId}" && method == axum::http::Method::PATCH)
        {
            Self::Admin
        } else if method == axum::http::Method::GET {
            Self::Read
        } else {
            Self::Write
        }
    }
}
