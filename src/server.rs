//! STUB kept on branch h-config only so that `hotline serve` compiles before
//! the merge; the lead's real `src/server.rs` replaces this file.

/// Runs the SIP and HTTP servers until `shutdown` resolves.
pub async fn run(
    config: hotline::config::Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tracing::warn!(sip = %config.sip.listen, http = %config.http.listen, "server stub: nothing is served");
    shutdown.await;
    Ok(())
}
