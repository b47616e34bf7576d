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
