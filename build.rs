// Rebuild when a migration is added, not only when one changes: sqlx::migrate!
// embeds the directory at compile time.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
