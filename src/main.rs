use anyhow::Context;
use clap::Parser;
use tidings::config::{AdminCommand, Cli, Command};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Serve) => serve(cli.config).await,
        Some(Command::Admin(cmd)) => admin(cli.config, cmd).await,
    }
}

async fn serve(config: tidings::config::Config) -> anyhow::Result<()> {
    tidings::serve::raise_fd_limit();
    let listener = tidings::serve::listen(&config.listen, config.listen_backlog)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another server using it?)",
                config.listen
            )
        })?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
        tracing::info!("shutting down");
        signal.cancel();
    });
    tidings::run(config, listener, shutdown).await
}

async fn admin(config: tidings::config::Config, cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateUser {
            name,
            password,
            email,
            admin,
        } => {
            let site = tidings::domain::Site::new(&config.public_url());
            let store = tidings::store::open(&config.database_url, site).await?;
            let account = tidings::accounts::create(
                &*store,
                tidings::accounts::Request {
                    username: &name,
                    password: &password,
                    email,
                    admin,
                    creator: tidings::accounts::Creator::Operator,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot create {name:?}: {e}"))?;
            println!(
                "created account {} (id {}){}",
                account.username,
                account.id,
                if admin { " as administrator" } else { "" }
            );
            Ok(())
        }
    }
}
