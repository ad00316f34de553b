//! Flags and environment, with defaults that run on a bare machine.

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug, Clone)]
#[command(name = "tidings", version, about = "A live microblogging server")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Serve the API and the streams (the default).
    Serve,
    /// Operator tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand, Debug, Clone)]
pub enum AdminCommand {
    /// Create an account that can sign in at once.
    CreateUser {
        name: String,
        #[arg(long, env = "TIDINGS_NEW_USER_PASSWORD")]
        password: String,
        #[arg(long)]
        email: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Publish an announcement to every account, live on every open home stream.
    Announce {
        text: String,
        /// When it ends (ISO 8601); it runs until withdrawn otherwise.
        #[arg(long)]
        ends_at: Option<String>,
    },
    /// Withdraw an announcement.
    Unannounce { id: i64 },
    /// List every announcement, with its id.
    Announcements,
    /// Give an account a role: user, moderator, admin or owner (user revokes).
    Role { name: String, role: String },
    /// Suspend an account: its sessions end and its notices leave every feed at once.
    Suspend {
        name: String,
        /// Kept in the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a suspension; the account's notices are back.
    Unsuspend { name: String },
    /// Delete an account's notices, relationships and profile for good (suspending it
    /// first); its name stays taken.
    DeleteAccount { name: String },
    /// Open or close registrations, or make sign-ups wait for approval: open, approved,
    /// closed.
    Registrations { mode: String },
    /// List open reports (every report with --all).
    Reports {
        #[arg(long)]
        all: bool,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registrations {
    Open,
    /// Sign-ups wait for a moderator's approval.
    Approval,
    Closed,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "TIDINGS_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: String,
    /// Connections the kernel may hold for us before we accept them (capped by
    /// `net.core.somaxconn`). Thousands of readers reconnect at once after a network
    /// blip; past the queue their handshakes are dropped and retried a second later.
    #[arg(
        long,
        env = "TIDINGS_LISTEN_BACKLOG",
        default_value_t = 4096,
        global = true
    )]
    pub listen_backlog: u32,
    /// `sqlite://…` (embedded default) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://tidings.db?mode=rwc",
        global = true
    )]
    pub database_url: String,
    /// Connections this node keeps to the database at most: on Postgres its pool (default
    /// 32; each node also holds one for `LISTEN` and one for the sequencer's lease, so
    /// Postgres' `max_connections` must cover nodes × (this + 2)); on SQLite the readers'
    /// pool (default 8; writers have one connection of their own).
    #[arg(long, env = "TIDINGS_DATABASE_CONNECTIONS", value_parser = clap::value_parser!(u32).range(4..=1000), global = true)]
    pub database_connections: Option<u32>,
    /// `redis://…` for several nodes; unset runs the in-process bus.
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// Prefix of Redis channel names, so several deployments can share one Redis.
    #[arg(
        long,
        env = "TIDINGS_REDIS_PREFIX",
        default_value = "tidings",
        global = true
    )]
    pub redis_prefix: String,
    /// Public base URL (links, `uri`s, streaming URL). Defaults to `http://<listen>`.
    #[arg(long, env = "TIDINGS_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Instance title.
    #[arg(long, env = "TIDINGS_TITLE", default_value = "Tidings", global = true)]
    pub title: String,
    /// Longest notice, in characters.
    #[arg(long, env = "TIDINGS_MAX_CHARS", default_value_t = 500, global = true)]
    pub max_chars: usize,
    /// Whether anyone may sign up through the API.
    #[arg(long, env = "TIDINGS_REGISTRATIONS", value_enum, default_value_t = Registrations::Open, global = true)]
    pub registrations: Registrations,
    /// Let federation reach loopback and private addresses (tests on one machine only:
    /// in production this opens the server to SSRF).
    #[arg(long, env = "TIDINGS_FEDERATION_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub federation_allow_private: bool,
    /// Domains (and their subdomains) whose servers we neither read nor take activities
    /// from, comma-separated (until moderation's domain blocks land).
    #[arg(
        long,
        env = "TIDINGS_BLOCKED_DOMAINS",
        value_delimiter = ',',
        global = true
    )]
    pub blocked_domains: Vec<String>,
    /// First wait before a failed delivery is tried again, in milliseconds (doubling).
    #[arg(
        long,
        env = "TIDINGS_DELIVERY_RETRY_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub delivery_retry_ms: u64,
    /// Who may create live events: `posters` (any account allowed to post) or `staff`
    /// (moderators and administrators).
    #[arg(long, env = "TIDINGS_EVENT_CREATORS", default_value = "posters", value_parser = ["posters", "staff"], global = true)]
    pub event_creators: String,
    /// Allow public streams without a token.
    #[arg(long, env = "TIDINGS_ANONYMOUS_STREAMS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub anonymous_streams: bool,
    /// Bytes that may wait in one reader's queue before it is dropped as too slow.
    #[arg(long, env = "TIDINGS_READER_QUEUE_BYTES", default_value_t = 1 << 20, global = true)]
    pub reader_queue_bytes: usize,
    /// Concurrent streaming connections allowed from one IP address.
    #[arg(
        long,
        env = "TIDINGS_MAX_STREAMS_PER_IP",
        default_value_t = 2000,
        global = true
    )]
    pub max_streams_per_ip: usize,
    /// Concurrent streaming connections allowed for one account.
    #[arg(
        long,
        env = "TIDINGS_MAX_STREAMS_PER_ACCOUNT",
        default_value_t = 50,
        global = true
    )]
    pub max_streams_per_account: usize,
    /// Subscriptions allowed on one WebSocket connection.
    #[arg(
        long,
        env = "TIDINGS_MAX_SUBSCRIPTIONS",
        default_value_t = 100,
        global = true
    )]
    pub max_subscriptions: usize,
    /// Let the hub write WebSocket frames straight to idle sockets instead of waking each
    /// connection's task (see BENCHMARKS.md); `false` queues every frame.
    #[arg(long, env = "TIDINGS_DIRECT_WRITES", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub direct_writes: bool,
    /// Seconds between SSE heartbeats.
    #[arg(
        long,
        env = "TIDINGS_SSE_HEARTBEAT_SECS",
        default_value_t = 15,
        global = true
    )]
    pub sse_heartbeat_secs: u64,
    /// How far ahead a notice must be scheduled (Mastodon: five minutes).
    #[arg(
        long,
        env = "TIDINGS_SCHEDULE_MIN_AHEAD_SECS",
        default_value_t = 300,
        global = true
    )]
    pub schedule_min_ahead_secs: u64,
    /// Where uploaded media is kept. Unset: `media/` beside the SQLite file, or, on
    /// Postgres, the database itself (which every node shares).
    #[arg(long, env = "TIDINGS_MEDIA_DIR", global = true)]
    pub media_dir: Option<String>,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>` (else it is open,
    /// for a Prometheus on a private network).
    #[arg(
        long,
        env = "TIDINGS_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Concurrent HTTP connections (of any kind) from one IP address; past it new
    /// connections are closed at once. Keep it above the per-IP stream cap.
    #[arg(
        long,
        env = "TIDINGS_MAX_CONNECTIONS_PER_IP",
        default_value_t = 2100,
        global = true
    )]
    pub max_connections_per_ip: usize,
    /// Load balancers whose `X-Forwarded-For` names the client: comma-separated
    /// addresses or networks (`127.0.0.1,10.0.0.0/8`). Empty: the peer is the client.
    #[arg(
        long,
        env = "TIDINGS_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = crate::proxies::parse_entry,
        global = true
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Kernel send buffer of each connection's socket, in bytes (the kernel doubles it);
    /// 0 leaves the kernel's auto-tuning, which lets a stalled reader hold megabytes.
    #[arg(
        long,
        env = "TIDINGS_SEND_BUFFER_BYTES",
        default_value_t = 131_072,
        global = true
    )]
    pub send_buffer_bytes: usize,
    /// Seconds a client may take to send a request's headers.
    #[arg(
        long,
        env = "TIDINGS_HEADER_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub header_timeout_secs: u64,
    /// Seconds an idle keep-alive connection is kept between requests.
    #[arg(
        long,
        env = "TIDINGS_IDLE_TIMEOUT_SECS",
        default_value_t = 60,
        global = true
    )]
    pub idle_timeout_secs: u64,
    /// Sign-in attempts (password grant, sign-in form) from one IP address per 5 minutes.
    #[arg(
        long,
        env = "TIDINGS_SIGN_IN_ATTEMPTS_PER_IP",
        default_value_t = 25,
        global = true
    )]
    pub sign_in_attempts_per_ip: u32,
    /// Sign-in attempts for one account per hour, from anywhere.
    #[arg(
        long,
        env = "TIDINGS_SIGN_IN_ATTEMPTS_PER_ACCOUNT",
        default_value_t = 25,
        global = true
    )]
    pub sign_in_attempts_per_account: u32,
    /// Sign-ups through the API from one IP address per 30 minutes.
    #[arg(
        long,
        env = "TIDINGS_SIGN_UPS_PER_IP",
        default_value_t = 5,
        global = true
    )]
    pub sign_ups_per_ip: u32,
    /// App registrations from one IP address per 10 minutes.
    #[arg(long, env = "TIDINGS_APPS_PER_IP", default_value_t = 25, global = true)]
    pub apps_per_ip: u32,
    /// REST API requests per token per 5 minutes (Mastodon's default; 0: no limit).
    #[arg(
        long,
        env = "TIDINGS_API_REQUESTS_PER_TOKEN",
        default_value_t = 300,
        global = true
    )]
    pub api_requests_per_token: u32,
    /// REST API requests without a token, per IP address per 5 minutes (0: no limit).
    #[arg(
        long,
        env = "TIDINGS_API_REQUESTS_PER_IP",
        default_value_t = 300,
        global = true
    )]
    pub api_requests_per_ip: u32,
    /// Notices one account may post per 3 hours (0: no limit).
    #[arg(
        long,
        env = "TIDINGS_STATUSES_PER_ACCOUNT",
        default_value_t = 300,
        global = true
    )]
    pub statuses_per_account: u32,
    /// Media uploads per account per 30 minutes (0: no limit).
    #[arg(
        long,
        env = "TIDINGS_MEDIA_PER_ACCOUNT",
        default_value_t = 30,
        global = true
    )]
    pub media_per_account: u32,
    /// Follows per account per 24 hours (0: no limit).
    #[arg(
        long,
        env = "TIDINGS_FOLLOWS_PER_ACCOUNT",
        default_value_t = 400,
        global = true
    )]
    pub follows_per_account: u32,
    /// Reports per account per 24 hours (0: no limit).
    #[arg(
        long,
        env = "TIDINGS_REPORTS_PER_ACCOUNT",
        default_value_t = 400,
        global = true
    )]
    pub reports_per_account: u32,
    /// New streaming connections per IP address per second (0: no limit).
    #[arg(
        long,
        env = "TIDINGS_STREAMS_PER_IP_PER_SECOND",
        default_value_t = 50,
        global = true
    )]
    pub streams_per_ip_per_second: u32,
    /// Wiki mode: the MediaWiki whose accounts sign in here, as the URL of its script
    /// path (where `index.php`, `api.php` and `rest.php` are, e.g.
    /// `https://wiki.example.org/w`). Unset: no wiki.
    #[arg(long, env = "TIDINGS_MEDIAWIKI_URL", global = true)]
    pub mediawiki_url: Option<String>,
    /// The secret shared with the wiki's Tidings extension, which signs the sign-in
    /// assertions of `Special:Tidings` (at least 32 bytes).
    #[arg(
        long,
        env = "TIDINGS_MEDIAWIKI_SHARED_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub mediawiki_shared_secret: Option<String>,
    /// OAuth 2.0 client id of Tidings on a wiki with the OAuth extension.
    #[arg(long, env = "TIDINGS_MEDIAWIKI_CLIENT_ID", global = true)]
    pub mediawiki_client_id: Option<String>,
    /// OAuth 2.0 client secret of Tidings on a wiki with the OAuth extension.
    #[arg(
        long,
        env = "TIDINGS_MEDIAWIKI_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub mediawiki_client_secret: Option<String>,
    /// The wiki group whose members may post (others read, follow and favourite).
    #[arg(
        long,
        env = "TIDINGS_MEDIAWIKI_POST_GROUP",
        default_value = "autoconfirmed",
        global = true
    )]
    pub mediawiki_post_group: String,
    /// Wiki groups whose members are Tidings moderators, comma-separated.
    #[arg(
        long,
        env = "TIDINGS_MEDIAWIKI_MODERATOR_GROUPS",
        value_delimiter = ',',
        default_value = "sysop",
        global = true
    )]
    pub mediawiki_moderator_groups: Vec<String>,
    /// In wiki mode, whether local accounts may still sign in with a password.
    #[arg(long, env = "TIDINGS_MEDIAWIKI_LOCAL_PASSWORDS", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub mediawiki_local_passwords: bool,
    /// How often each wiki account's groups and blocks are asked of the wiki again, in
    /// seconds.
    #[arg(
        long,
        env = "TIDINGS_MEDIAWIKI_RECHECK_SECS",
        default_value_t = 300,
        global = true
    )]
    pub mediawiki_recheck_secs: u64,
    /// What a block on the wiki takes away: `post` (she still reads and streams) or
    /// `all` (her account is disabled while the block lasts: no sign-in, streams closed).
    #[arg(long, env = "TIDINGS_MEDIAWIKI_BLOCKED", value_enum, default_value_t = WikiBlock::Post, global = true)]
    pub mediawiki_blocked: WikiBlock,
    /// The wiki's name on the sign-in button.
    #[arg(
        long,
        env = "TIDINGS_MEDIAWIKI_NAME",
        default_value = "the wiki",
        global = true
    )]
    pub mediawiki_name: String,
}

/// What a block on the wiki takes away in Tidings.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WikiBlock {
    Post,
    All,
}

impl Config {
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// A configuration for tests and tools: the built-in defaults with the given database.
    /// The process environment is not read (a `TIDINGS_*` variable left in a developer's
    /// shell must not change what a test runs against).
    pub fn for_database(database_url: &str) -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let command = Cli::command().mut_args(|a| a.env(None::<&str>));
        let matches = command.get_matches_from(["tidings"]);
        let mut cli = match Cli::from_arg_matches(&matches) {
            Ok(cli) => cli,
            Err(e) => e.exit(),
        };
        cli.config.database_url = database_url.to_string();
        cli.config
    }
}

/// A database or Redis URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparseable URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_for_tests_ignore_the_environment() {
        // SAFETY: no other test of this binary reads TIDINGS_MAX_CHARS.
        unsafe { std::env::set_var("TIDINGS_MAX_CHARS", "7") };
        let c = Config::for_database("sqlite::memory:");
        unsafe { std::env::remove_var("TIDINGS_MAX_CHARS") };
        assert_eq!(c.max_chars, 500);
        assert_eq!(c.database_url, "sqlite::memory:");
    }
}
