//! API bearer tokens. The client gets 32 random bytes in hex; the store keeps
//! only their SHA-256, so reading the database does not yield a usable token.

use super::agents::Agent;
use super::{Store, StoreError, wall_clock_ms};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Issues a token for `login` valid for `ttl_s` seconds from `now_ms`.
    pub async fn create_token(
        &self,
        login: &str,
        ttl_s: i64,
        now_ms: i64,
    ) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let expires_at_ms = now_ms.saturating_add(ttl_s.saturating_mul(1000));
        sqlx::query(
            "INSERT INTO api_tokens (token_sha256, login, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_digest(&token))
        .bind(login)
        .bind(wall_clock_ms())
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// The agent a token belongs to, if the token exists and is unexpired at
    /// `now_ms`. The agent is read fresh, so a role change applies at once.
    pub async fn token_user(&self, token: &str, now_ms: i64) -> Result<Option<Agent>, StoreError> {
        let row = sqlx::query(
            "SELECT login FROM api_tokens WHERE token_sha256 = $1 AND expires_at_ms > $2",
        )
        .bind(token_digest(token))
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => {
                let login: String = row.try_get("login")?;
                self.get_agent(&login).await
            }
            None => Ok(None),
        }
    }

    /// Revokes one token (logout). Unknown tokens are ignored.
    pub async fn revoke_token(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM api_tokens WHERE token_sha256 = $1")
            .bind(token_digest(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes tokens expired at `now_ms`; returns how many.
    pub async fn purge_expired_tokens(&self, now_ms: i64) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM api_tokens WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}

/// When repeated failed logins lock a username (password guessing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLockout {
    /// Failures within `window_ms` that lock the username.
    pub max_failures: u32,
    pub window_ms: i64,
    /// How long a locked username is refused.
    pub lockout_ms: i64,
}

impl Default for LoginLockout {
    /// The configuration defaults: 5 failures in 5 minutes lock for 15.
    fn default() -> Self {
        LoginLockout {
            max_failures: 5,
            window_ms: 300_000,
            lockout_ms: 900_000,
        }
    }
}

/// Longest username kept as a key: longer input is cut, so a flood of huge
/// garbage usernames cannot bloat the table.
const MAX_USERNAME_KEY: usize = 128;

fn username_key(username: &str) -> &str {
    match username.char_indices().nth(MAX_USERNAME_KEY) {
        Some((cut, _)) => username.get(..cut).unwrap_or(username),
        None => username,
    }
}

impl Store {
    /// Until when `username` is locked, if it is locked at `now_ms`.
    pub async fn login_locked_until(
        &self,
        username: &str,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT locked_until_ms FROM login_failures WHERE username = $1")
            .bind(username_key(username))
            .fetch_optional(&self.pool)
            .await?;
        let until: Option<i64> = row.map(|r| r.try_get("locked_until_ms")).transpose()?;
        Ok(until.filter(|until| *until > now_ms))
    }

    /// Counts one failed login of `username` at `now_ms`. Returns the end of
    /// the lockout when this failure reaches `policy.max_failures` within
    /// the window; the count then starts again from zero, so after the
    /// lockout the user has the full number of attempts.
    ///
    /// The count is one atomic upsert, so concurrent guesses cannot slip
    /// past the limit by racing each other.
    pub async fn record_login_failure(
        &self,
        username: &str,
        now_ms: i64,
        policy: LoginLockout,
    ) -> Result<Option<i64>, StoreError> {
        let key = username_key(username);
        let window_expired_before = now_ms.saturating_sub(policy.window_ms);
        // Usernames nobody has tried for a while are forgotten, so guessing
        // random usernames cannot grow the table without bound.
        sqlx::query(
            "DELETE FROM login_failures WHERE window_start_ms <= $1 AND locked_until_ms <= $2",
        )
        .bind(window_expired_before)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(
            "INSERT INTO login_failures (username, failures, window_start_ms, locked_until_ms) \
             VALUES ($1, 1, $2, 0) \
             ON CONFLICT (username) DO UPDATE SET \
             failures = CASE WHEN login_failures.window_start_ms <= $3 THEN 1 \
                        ELSE login_failures.failures + 1 END, \
             window_start_ms = CASE WHEN login_failures.window_start_ms <= $3 THEN $2 \
                        ELSE login_failures.window_start_ms END \
             RETURNING failures",
        )
        .bind(key)
        .bind(now_ms)
        .bind(window_expired_before)
        .fetch_one(&self.pool)
        .await?;
        let failures: i64 = row.try_get("failures")?;
        if failures < i64::from(policy.max_failures) {
            return Ok(None);
        }
        let until = now_ms.saturating_add(policy.lockout_ms);
        sqlx::query(
            "UPDATE login_failures SET failures = 0, window_start_ms = $2, locked_until_ms = $3 \
             WHERE username = $1",
        )
        .bind(key)
        .bind(now_ms)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(Some(until))
    }

    /// Forgets the failures of `username` (after a successful login).
    pub async fn clear_login_failures(&self, username: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE username = $1")
            .bind(username_key(username))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
