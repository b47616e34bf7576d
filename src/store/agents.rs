//! Agents: operators who register softphones and log into the API. Every
//! agent is also a user; the built-in `admin` is an agent row with role admin.
//!
//! A password is kept three ways and never in the clear: an argon2 hash for
//! API logins, and one HA1 per digest algorithm for SIP REGISTER (RFC 7616
//! lets the registrar verify digests from HA1 alone).

use super::{Store, StoreError, is_unique_violation, password, wall_clock_ms};
use crate::role::Role;
use crate::sip::digest::{Algorithm, ha1};
use base64::Engine;
use rand::RngCore;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;
use std::fmt;

/// Login of the built-in administrator created by [`Store::ensure_admin`].
pub const ADMIN_LOGIN: &str = "admin";

/// A queue an agent serves, with a skill level (higher = preferred).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QueueSkill {
    pub queue: String,
    #[schema(minimum = 0, maximum = 255)]
    pub skill: u8,
}

impl QueueSkill {
    /// Skill when a queue is listed by name only.
    pub const DEFAULT_SKILL: u8 = 1;

    pub fn new(queue: impl Into<String>) -> Self {
        QueueSkill {
            queue: queue.into(),
            skill: Self::DEFAULT_SKILL,
        }
    }
}

impl<'de> Deserialize<'de> for QueueSkill {
    /// Accepts `"general"` (skill 1) or `{ queue = "general", skill = 3 }` (TOML
    /// and JSON alike); a hand-written
    /// visitor instead of `#[serde(untagged)]` so that a mistake inside the
    /// table is reported as itself, not as "did not match any variant".
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            queue: String,
            #[serde(default = "default_skill")]
            skill: u8,
        }
        fn default_skill() -> u8 {
            QueueSkill::DEFAULT_SKILL
        }
        struct MembershipVisitor;
        impl<'de> Visitor<'de> for MembershipVisitor {
            type Value = QueueSkill;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a queue name or a table { queue = \"name\", skill = N }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<QueueSkill, E> {
                Ok(QueueSkill::new(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<QueueSkill, A::Error> {
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(QueueSkill {
                    queue: t.queue,
                    skill: t.skill,
                })
            }
        }
        deserializer.deserialize_any(MembershipVisitor)
    }
}

/// An agent to create (or to upsert from the config file).
#[derive(Clone)]
pub struct NewAgent {
    pub login: String,
    pub name: String,
    pub role: Role,
    pub password: String,
    pub queues: Vec<QueueSkill>,
    /// Challenge order for REGISTER. Empty means the default, `["MD5"]`.
    pub digest_algorithms: Vec<Algorithm>,
    pub nat: bool,
}

/// A partial update; `None` leaves the field as it is.
#[derive(Clone, Default)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub password: Option<String>,
    pub queues: Option<Vec<QueueSkill>>,
    pub digest_algorithms: Option<Vec<Algorithm>>,
    pub nat: Option<bool>,
}

// Hand-written so that a password never reaches a log line through `{:?}`.
impl fmt::Debug for NewAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAgent")
            .field("login", &self.login)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password", &"<redacted>")
            .field("queues", &self.queues)
            .field("digest_algorithms", &self.digest_algorithms)
            .field("nat", &self.nat)
            .finish()
    }
}

impl fmt::Debug for AgentPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentPatch")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("queues", &self.queues)
            .field("digest_algorithms", &self.digest_algorithms)
            .field("nat", &self.nat)
            .finish()
    }
}

/// An agent as the rest of the program sees it: no password hash, no HA1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    pub login: String,
    pub name: String,
    pub role: Role,
    pub queues: Vec<QueueSkill>,
    pub digest_algorithms: Vec<Algorithm>,
    pub nat: bool,
    pub created_at_ms: i64,
}

/// What the registrar needs to challenge and verify a REGISTER.
#[derive(Debug, Clone, PartialEq)]
pub struct SipCredentials {
    pub login: String,
    /// Challenge order (RFC 8760: strongest first when several).
    pub digest_algorithms: Vec<Algorithm>,
    pub ha1_md5: String,
    pub ha1_sha256: String,
    pub nat: bool,
}

impl SipCredentials {
    /// The stored HA1 for `algorithm`.
    pub fn ha1(&self, algorithm: Algorithm) -> &str {
        match algorithm {
            Algorithm::Md5 => &self.ha1_md5,
            Algorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// One validation failure, named by the request field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

const MAX_LOGIN_LEN: usize = 64;
const MAX_NAME_CHARS: usize = 200;
const MIN_PASSWORD_CHARS: usize = 8;
/// Bounds the argon2 input; nobody types more, and it caps the work per request.
const MAX_PASSWORD_CHARS: usize = 1024;
const MAX_QUEUE_LEN: usize = 64;

/// The login is the user part of SIP URIs and digest usernames, so it is
/// kept to characters that need no escaping anywhere.
fn check_login(login: &str) -> Option<FieldError> {
    if login.is_empty() || login.len() > MAX_LOGIN_LEN {
        return Some(FieldError::new(
            "login",
            format!("must be 1 to {MAX_LOGIN_LEN} characters"),
        ));
    }
    if !login
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Some(FieldError::new(
            "login",
            "may contain only a-z, 0-9, '.', '_' and '-'",
        ));
    }
    None
}

fn check_name(name: &str) -> Option<FieldError> {
    if name.trim().is_empty() {
        return Some(FieldError::new("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(FieldError::new(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    None
}

fn check_password(password: &str) -> Option<FieldError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(FieldError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Some(FieldError::new(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    None
}

fn check_queues(queues: &[QueueSkill]) -> Option<FieldError> {
    let mut seen = std::collections::HashSet::new();
    for q in queues {
        let valid = !q.queue.is_empty()
            && q.queue.len() <= MAX_QUEUE_LEN
            && q.queue
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
        if !valid {
            return Some(FieldError::new(
                "queues",
                format!(
                    "queue name {:?} must be 1 to {MAX_QUEUE_LEN} characters of a-z, 0-9, '_' and '-'",
                    q.queue
                ),
            ));
        }
        if !seen.insert(q.queue.as_str()) {
            return Some(FieldError::new(
                "queues",
                format!("queue {:?} is listed twice", q.queue),
            ));
        }
    }
    None
}

fn check_algorithms(algorithms: &[Algorithm]) -> Option<FieldError> {
    if algorithms.is_empty() {
        return Some(FieldError::new(
            "digest_algorithms",
            "must name at least one of MD5, SHA-256",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if algorithms.iter().any(|a| !seen.insert(*a)) {
        return Some(FieldError::new(
            "digest_algorithms",
            "lists an algorithm twice",
        ));
    }
    None
}

/// Every problem with a new agent, so an API client can fix them all at once.
/// An empty `digest_algorithms` is allowed here: it means the default.
pub fn validate_new_agent(a: &NewAgent) -> Vec<FieldError> {
    [
        check_login(&a.login),
        check_name(&a.name),
        check_password(&a.password),
        check_queues(&a.queues),
        if a.digest_algorithms.is_empty() {
            None
        } else {
            check_algorithms(&a.digest_algorithms)
        },
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every problem with a patch (only the fields it sets are checked).
pub fn validate_patch(p: &AgentPatch) -> Vec<FieldError> {
    [
        p.name.as_deref().and_then(check_name),
        p.password.as_deref().and_then(check_password),
        p.queues.as_deref().and_then(check_queues),
        p.digest_algorithms.as_deref().and_then(check_algorithms),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn first_error(errors: Vec<FieldError>) -> Result<(), StoreError> {
    match errors.into_iter().next() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

fn default_algorithms(algorithms: &[Algorithm]) -> Vec<Algorithm> {
    if algorithms.is_empty() {
        vec![Algorithm::Md5]
    } else {
        algorithms.to_vec()
    }
}

fn encode_algorithms(algorithms: &[Algorithm]) -> String {
    algorithms
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_algorithms(s: &str) -> Result<Vec<Algorithm>, StoreError> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse()
                .map_err(|e| StoreError::Corrupt(format!("agents.digest_algorithms: {e}")))
        })
        .collect()
}

/// Everything derived from a password, computed outside any transaction
/// because argon2 takes a while.
struct Secrets {
    password_hash: String,
    ha1_md5: String,
    ha1_sha256: String,
}

async fn secrets(login: &str, realm: &str, password: &str) -> Result<Secrets, StoreError> {
    Ok(Secrets {
        password_hash: password::hash(password).await?,
        ha1_md5: ha1(Algorithm::Md5, login, realm, password),
        ha1_sha256: ha1(Algorithm::Sha256, login, realm, password),
    })
}

const AGENT_COLUMNS: &str = "login, name, role, digest_algorithms, nat, created_at_ms";

fn agent_from_row(row: &AnyRow, queues: Vec<QueueSkill>) -> Result<Agent, StoreError> {
    let role: String = row.try_get("role")?;
    let algorithms: String = row.try_get("digest_algorithms")?;
    Ok(Agent {
        login: row.try_get("login")?,
        name: row.try_get("name")?,
        role: role
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("agents.role: {e}")))?,
        queues,
        digest_algorithms: decode_algorithms(&algorithms)?,
        nat: row.try_get::<i64, _>("nat")? != 0,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn queue_from_row(row: &AnyRow) -> Result<(String, QueueSkill), StoreError> {
    let skill: i64 = row.try_get("skill")?;
    Ok((
        row.try_get("login")?,
        QueueSkill {
            queue: row.try_get("queue")?,
            skill: u8::try_from(skill)
                .map_err(|_| StoreError::Corrupt(format!("agent_queues.skill {skill}")))?,
        },
    ))
}

async fn replace_queues(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    login: &str,
    queues: &[QueueSkill],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM agent_queues WHERE login = $1")
        .bind(login)
        .execute(&mut **tx)
        .await?;
    for (position, q) in (0_i64..).zip(queues) {
        sqlx::query(
            "INSERT INTO agent_queues (login, queue, skill, position) VALUES ($1, $2, $3, $4)",
        )
        .bind(login)
        .bind(q.queue.as_str())
        .bind(i64::from(q.skill))
        .bind(position)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn generate_password() -> String {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Store {
    /// Creates the agent or, when the login exists, replaces everything but
    /// its creation time (used for `[[agents]]` in the config file).
    pub async fn upsert_agent(&self, a: &NewAgent, realm: &str) -> Result<Agent, StoreError> {
        first_error(validate_new_agent(a))?;
        let s = secrets(&a.login, realm, &a.password).await?;
        let now = wall_clock_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO agents (login, name, role, password_hash, ha1_md5, ha1_sha256, \
             digest_algorithms, nat, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             ON CONFLICT (login) DO UPDATE SET name = excluded.name, role = excluded.role, \
             password_hash = excluded.password_hash, ha1_md5 = excluded.ha1_md5, \
             ha1_sha256 = excluded.ha1_sha256, digest_algorithms = excluded.digest_algorithms, \
             nat = excluded.nat, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(a.login.as_str())
        .bind(a.name.as_str())
        .bind(a.role.as_str())
        .bind(s.password_hash)
        .bind(s.ha1_md5)
        .bind(s.ha1_sha256)
        .bind(encode_algorithms(&default_algorithms(&a.digest_algorithms)))
        .bind(i64::from(a.nat))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        replace_queues(&mut tx, &a.login, &a.queues).await?;
        tx.commit().await?;
        self.get_agent(&a.login).await?.ok_or(StoreError::NotFound)
    }

    /// Creates an agent; `Conflict` when the login is taken.
    pub async fn create_agent(&self, a: &NewAgent, realm: &str) -> Result<Agent, StoreError> {
        first_error(validate_new_agent(a))?;
        if self.get_agent(&a.login).await?.is_some() {
            return Err(conflict_login(&a.login));
        }
        let s = secrets(&a.login, realm, &a.password).await?;
        let now = wall_clock_ms();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO agents (login, name, role, password_hash, ha1_md5, ha1_sha256, \
             digest_algorithms, nat, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(a.login.as_str())
        .bind(a.name.as_str())
        .bind(a.role.as_str())
        .bind(s.password_hash)
        .bind(s.ha1_md5)
        .bind(s.ha1_sha256)
        .bind(encode_algorithms(&default_algorithms(&a.digest_algorithms)))
        .bind(i64::from(a.nat))
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            // Lost a race with another create of the same login.
            Err(e) if is_unique_violation(&e) => return Err(conflict_login(&a.login)),
            other => other?,
        };
        replace_queues(&mut tx, &a.login, &a.queues).await?;
        tx.commit().await?;
        self.get_agent(&a.login).await?.ok_or(StoreError::NotFound)
    }

    /// Changes the fields the patch sets. A new password recomputes the
    /// argon2 hash and both HA1s (with `realm`) and revokes the agent's
    /// tokens.
    pub async fn update_agent(
        &self,
        login: &str,
        p: &AgentPatch,
        realm: &str,
    ) -> Result<Agent, StoreError> {
        first_error(validate_patch(p))?;
        let s = match &p.password {
            Some(password) => Some(secrets(login, realm, password).await?),
            None => None,
        };
        let (password_hash, ha1_md5, ha1_sha256) = match s {
            Some(s) => (Some(s.password_hash), Some(s.ha1_md5), Some(s.ha1_sha256)),
            None => (None, None, None),
        };
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE agents SET name = COALESCE($2, name), role = COALESCE($3, role), \
             password_hash = COALESCE($4, password_hash), ha1_md5 = COALESCE($5, ha1_md5), \
             ha1_sha256 = COALESCE($6, ha1_sha256), \
             digest_algorithms = COALESCE($7, digest_algorithms), nat = COALESCE($8, nat), \
             updated_at_ms = $9 WHERE login = $1",
        )
        .bind(login)
        .bind(p.name.clone())
        .bind(p.role.map(|r| r.as_str().to_string()))
        .bind(password_hash)
        .bind(ha1_md5)
        .bind(ha1_sha256)
        .bind(p.digest_algorithms.as_deref().map(encode_algorithms))
        .bind(p.nat.map(i64::from))
        .bind(wall_clock_ms())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(queues) = &p.queues {
            replace_queues(&mut tx, login, queues).await?;
        }
        if p.password.is_some() {
            // A new password ends every session of the old one (API tokens
            // and console cookies alike): a password is usually changed
            // because someone else may know the old one.
            sqlx::query("DELETE FROM api_tokens WHERE login = $1")
                .bind(login)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.get_agent(login).await?.ok_or(StoreError::NotFound)
    }

    /// Deletes the agent with its queues, bindings and API tokens.
    pub async fn delete_agent(&self, login: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Explicit deletes rather than relying on ON DELETE CASCADE alone:
        // the result must not depend on a PRAGMA.
        for table in ["bindings", "api_tokens", "agent_queues"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE login = $1"))
                .bind(login)
                .execute(&mut *tx)
                .await?;
        }
        let deleted = sqlx::query("DELETE FROM agents WHERE login = $1")
            .bind(login)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_agent(&self, login: &str) -> Result<Option<Agent>, StoreError> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE login = $1"
        ))
        .bind(login)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let queues = self.queues_of(login).await?;
        agent_from_row(&row, queues).map(Some)
    }

    async fn queues_of(&self, login: &str) -> Result<Vec<QueueSkill>, StoreError> {
        sqlx::query(
            "SELECT login, queue, skill FROM agent_queues WHERE login = $1 ORDER BY position",
        )
        .bind(login)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| queue_from_row(row).map(|(_, q)| q))
        .collect()
    }

    /// Every agent, ordered by login.
    pub async fn list_agents(&self) -> Result<Vec<Agent>, StoreError> {
        self.list_agents_page(None, i64::MAX).await
    }

    /// Up to `limit` agents with a login greater than `after`, ordered by
    /// login (keyset paging: stable while agents are added or removed).
    pub async fn list_agents_page(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Agent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE login > $1 ORDER BY login LIMIT $2"
        ))
        .bind(after.unwrap_or(""))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        let Some(last) = rows.last() else {
            return Ok(Vec::new());
        };
        let last: String = last.try_get("login")?;
        let mut queues: HashMap<String, Vec<QueueSkill>> = HashMap::new();
        for row in sqlx::query(
            "SELECT login, queue, skill FROM agent_queues WHERE login > $1 AND login <= $2 \
             ORDER BY login, position",
        )
        .bind(after.unwrap_or(""))
        .bind(last)
        .fetch_all(&self.pool)
        .await?
        {
            let (login, q) = queue_from_row(&row)?;
            queues.entry(login).or_default().push(q);
        }
        rows.iter()
            .map(|row| {
                let login: String = row.try_get("login")?;
                agent_from_row(row, queues.remove(&login).unwrap_or_default())
            })
            .collect()
    }

    /// Number of agents with role admin (the API refuses to remove the last).
    pub async fn count_admins(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM agents WHERE role = $1")
            .bind(Role::Admin.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// The registrar's lookup on every REGISTER: one indexed row, no argon2.
    pub async fn sip_credentials(&self, login: &str) -> Result<Option<SipCredentials>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT login, digest_algorithms, ha1_md5, ha1_sha256, nat FROM agents WHERE login = $1",
        )
        .bind(login)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let algorithms: String = row.try_get("digest_algorithms")?;
        Ok(Some(SipCredentials {
            login: row.try_get("login")?,
            digest_algorithms: decode_algorithms(&algorithms)?,
            ha1_md5: row.try_get("ha1_md5")?,
            ha1_sha256: row.try_get("ha1_sha256")?,
            nat: row.try_get::<i64, _>("nat")? != 0,
        }))
    }

    /// The agent when `password` is right; `None` for a wrong password or
    /// an unknown login, which take the same time (no login probing).
    pub async fn verify_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Option<Agent>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS}, password_hash FROM agents WHERE login = $1"
        ))
        .bind(login)
        .fetch_optional(&self.pool)
        .await?;
        let stored = match &row {
            Some(row) => Some(row.try_get::<String, _>("password_hash")?),
            None => None,
        };
        if !password::verify(stored, password).await? {
            return Ok(None);
        }
        match row {
            Some(row) => {
                let queues = self.queues_of(login).await?;
                agent_from_row(&row, queues).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Makes sure someone can administer the server: when no agent has role
    /// admin, (re)creates `admin` with `password`, or with a random one that
    /// is returned so the caller can show it once. `None` when an admin
    /// already existed or the given password was used.
    pub async fn ensure_admin(
        &self,
        password: Option<&str>,
        realm: &str,
    ) -> Result<Option<String>, StoreError> {
        if self.count_admins().await? > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p.to_string(), false),
            None => (generate_password(), true),
        };
        self.upsert_agent(
            &NewAgent {
                login: ADMIN_LOGIN.to_string(),
                name: "Administrator".to_string(),
                role: Role::Admin,
                password: password.clone(),
                queues: Vec::new(),
                digest_algorithms: vec![Algorithm::Md5],
                nat: false,
            },
            realm,
        )
        .await?;
        Ok(generated.then_some(password))
    }
}

fn conflict_login(login: &str) -> StoreError {
    StoreError::Conflict(format!("an agent with login {login:?} already exists"))
}
