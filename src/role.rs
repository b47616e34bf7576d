//! Roles of agents and users. Every agent is also a user of the API and the
//! console; its role decides both what it does in routing and what it may see.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The role of a user or agent (ARCHITECTURE §5, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    ContactManager,
    AdmissionManager,
    EducationManager,
    DepartmentHead,
    Head,
    Admin,
}

/// What a role may do in the API: the three access levels of ARCHITECTURE §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccessLevel {
    /// Own calls and inquiries, their clients.
    Manager,
    /// Everything but users.
    Head,
    /// Everything.
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::ContactManager,
        Role::AdmissionManager,
        Role::EducationManager,
        Role::DepartmentHead,
        Role::Head,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ContactManager => "contact_manager",
            Role::AdmissionManager => "admission_manager",
            Role::EducationManager => "education_manager",
            Role::DepartmentHead => "department_head",
            Role::Head => "head",
            Role::Admin => "admin",
        }
    }

    /// API rights of this role. A department head (of a structural
    /// department, who receives "other" callers) works with their own
    /// inquiries like a manager; only the contact department's head sees all.
    pub fn access(self) -> AccessLevel {
        match self {
            Role::Admin => AccessLevel::Admin,
            Role::Head => AccessLevel::Head,
            Role::ContactManager
            | Role::AdmissionManager
            | Role::EducationManager
            | Role::DepartmentHead => AccessLevel::Manager,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role {0:?} (expected one of contact_manager, admission_manager, education_manager, department_head, head, admin)"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}
