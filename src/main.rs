use anyhow::Context;
use clap::Parser;
use tidings::config::{AdminCommand, Cli, Command};
use tokio_util::sync::CancellationToken;

/// jemalloc instead of glibc's malloc (measured in BENCHMARKS.md, issue 18).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
            let store =
                tidings::store::open_with(&config.database_url, site, config.database_connections)
                    .await?;
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
        AdminCommand::Announce { text, ends_at } => {
            let store = open_store(&config).await?;
            let ends_at = match ends_at {
                None => None,
                Some(t) => Some(
                    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| anyhow::anyhow!("--ends-at {t:?} is not ISO 8601: {e}"))?
                        .unix_timestamp()
                        * 1_000_000,
                ),
            };
            let text = text.trim().to_string();
            if text.is_empty() || text.chars().count() > tidings::api::announcements::MAX_TEXT {
                anyhow::bail!(
                    "an announcement is 1 to {} characters",
                    tidings::api::announcements::MAX_TEXT
                );
            }
            let a = store
                .announce(
                    &tidings::store::NewAnnouncement {
                        text,
                        starts_at: None,
                        ends_at,
                        all_day: false,
                    },
                    None,
                )
                .await?;
            println!("published announcement {}", a.id);
            Ok(())
        }
        AdminCommand::Unannounce { id } => {
            let store = open_store(&config).await?;
            if store.unannounce(id).await? {
                println!("withdrew announcement {id}");
                Ok(())
            } else {
                anyhow::bail!("there is no announcement {id}")
            }
        }
        AdminCommand::Role { name, role } => {
            let store = open_store(&config).await?;
            let role = tidings::domain::moderation::Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("a role is user, moderator, admin or owner"))?;
            let a = account_named(&*store, &name).await?;
            let audit = shell_audit(&format!("role:{}", role.as_str()), &a);
            store.set_role(a.id, role, audit).await?;
            println!("{name} is now {}", role.as_str());
            Ok(())
        }
        AdminCommand::Suspend { name, reason } => {
            let action = tidings::domain::moderation::AccountAction::Suspend;
            moderate_named(&config, &name, action, reason.as_deref()).await?;
            println!("suspended {name}");
            Ok(())
        }
        AdminCommand::Unsuspend { name } => {
            let action = tidings::domain::moderation::AccountAction::Unsuspend;
            moderate_named(&config, &name, action, None).await?;
            println!("lifted the suspension of {name}");
            Ok(())
        }
        AdminCommand::DeleteAccount { name } => {
            let store = open_store(&config).await?;
            let a = account_named(&*store, &name).await?;
            if a.standing.suspended_at.is_none() {
                let audit = shell_audit("suspend", &a);
                store
                    .moderate(
                        a.id,
                        tidings::domain::moderation::AccountAction::Suspend,
                        audit,
                    )
                    .await?;
            }
            store.purge_account(a.id, shell_audit("delete", &a)).await?;
            println!("deleted the data of {name}");
            Ok(())
        }
        AdminCommand::Registrations { mode } => {
            let store = open_store(&config).await?;
            let mode = tidings::domain::moderation::Registrations::parse(&mode)
                .ok_or_else(|| anyhow::anyhow!("registrations are open, approved or closed"))?;
            let audit = tidings::store::Audit::new(
                None,
                "change_setting",
                "Setting",
                tidings::moderation::REGISTRATIONS,
                mode.as_str(),
            );
            store
                .set_setting(tidings::moderation::REGISTRATIONS, mode.as_str(), audit)
                .await?;
            println!("registrations: {}", mode.as_str());
            Ok(())
        }
        AdminCommand::Reports { all } => {
            let store = open_store(&config).await?;
            let q = tidings::store::ReportQuery {
                resolved: (!all).then_some(false),
                limit: 200,
                ..Default::default()
            };
            for r in store.reports(&q).await? {
                println!(
                    "{}	{}	{} reports {}	{}	{}",
                    r.id,
                    tidings::domain::iso8601(r.created_at),
                    r.account.username,
                    r.target.username,
                    r.category,
                    if r.action_taken_at.is_some() {
                        "resolved"
                    } else {
                        "open"
                    }
                );
            }
            Ok(())
        }
        AdminCommand::Announcements => {
            let store = open_store(&config).await?;
            for a in store.announcements(None, true).await? {
                println!(
                    "{}\t{}\t{}",
                    a.id,
                    a.ends_at
                        .map_or("no end".to_string(), tidings::domain::iso8601),
                    a.content
                );
            }
            Ok(())
        }
    }
}

/// The account `name` (a local name, or `name@domain` of another server).
async fn account_named(
    store: &dyn tidings::store::Store,
    name: &str,
) -> anyhow::Result<tidings::domain::entities::AccountRecord> {
    let name = name.trim_start_matches('@');
    let found = if name.contains('@') {
        store.remote_account(&name.to_lowercase()).await?
    } else {
        store.account_by_username(name).await?
    };
    found.ok_or_else(|| anyhow::anyhow!("there is no account {name:?}"))
}

/// Change the standing of the account `name`, audited as the operator's.
async fn moderate_named(
    config: &tidings::config::Config,
    name: &str,
    action: tidings::domain::moderation::AccountAction,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let a = account_named(&*store, name).await?;
    let audit = shell_audit(action.as_str(), &a).because(reason);
    store.moderate(a.id, action, audit).await?;
    Ok(())
}

/// An audit line for the operator at a shell.
fn shell_audit(
    action: &str,
    a: &tidings::domain::entities::AccountRecord,
) -> tidings::store::Audit {
    let name = match &a.remote {
        None => a.username.clone(),
        Some(r) => format!("{}@{}", a.username, r.domain),
    };
    tidings::store::Audit::new(None, action, "Account", a.id, name)
}

async fn open_store(
    config: &tidings::config::Config,
) -> anyhow::Result<std::sync::Arc<dyn tidings::store::Store>> {
    let site = tidings::domain::Site::new(&config.public_url());
    tidings::store::open_with(&config.database_url, site, config.database_connections).await
}
