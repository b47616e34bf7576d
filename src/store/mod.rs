//! store — STUB from branch h-config so that `hotline migrate` compiles;
//! h-store's real module replaces this file at the merge.

/// Handle on the database.
pub struct Store;

impl Store {
    /// Opens the database at `url`.
    pub async fn connect(_url: &str) -> anyhow::Result<Store> {
        Ok(Store)
    }

    /// Applies the migrations in `migrations/`.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        Ok(())
    }
}
