//! Tidings: a live microblogging server. People post short notices; every reader of a
//! feed sees them within milliseconds, over WebSocket, SSE or polling.
//!
//! # Layout
//!
//! - [`config`]: flags and environment.
//! - [`domain`]: notices, accounts, streams, events and their typed ids and positions;
//!   validation, parsing, rendering; which event each change makes for its readers
//!   ([`domain::announce`]: streams and payload).
//! - [`store`]: the `Store` trait; SQLite and Postgres, with their migrations. It gathers
//!   what a decision needs and writes what the domain decided, in one transaction with
//!   the change; the sequencer's lease is its own file.
//! - [`sequencer`]: numbers committed events in visible order and publishes them
//!   (the transactional outbox relay).
//! - [`bus`]: the `Bus` trait; in-process (and Redis, for several nodes).
//! - [`stream`]: the streaming layer below the API: [`stream::dispatch`] (bus → hub, in
//!   order, deduplicated, catching up on gaps), [`stream::hub`] (this node's subscribers,
//!   each with a bounded queue), [`stream::frames`] and [`stream::wire`] (wire forms,
//!   encoded once; RFC 6455 framing both ways), [`stream::replays`] (resumes from the
//!   store, identical reads shared).
//! - [`accounts`]: creating an account (validation, hashing, storing), for the API's
//!   sign-up and the operator's CLI alike.
//! - [`media`]: uploaded images checked, decoded with bounds, stripped and kept.
//! - [`moderation`]: how people may join (run-time registration mode, IP and e-mail
//!   blocks) and rate limits shared by every node; what moderators do is a store write
//!   whose events reach every node.
//! - [`passwords`]: argon2 on one worker per core with a bounded queue and reused memory.
//! - [`scheduler`]: posts scheduled notices at their time, each on exactly one node.
//! - [`api`]: axum routes: Mastodon REST, OAuth, and the streaming endpoints' handshakes
//!   (WebSocket, SSE) over the streaming layer.
//! - [`web`]: the pages people read (server-rendered, live through `assets/web/live.js`)
//!   at the same addresses as the entities' `url`s.
//! - [`serve`]: the accept loop and what it bounds per connection and per address.
//! - [`wiki`]: wiki mode: sign-in with a MediaWiki account (signed assertions of the
//!   Tidings extension, or OAuth 2.0), the wiki's groups and blocks kept in step.
//!
//! The flow of one notice: `api` validates → `domain` decides its event → `store` commits
//! the notice and its event row → `sequencer` positions and publishes → `bus` →
//! `stream::dispatch` → `stream::hub` → readers. No arrow points back up: `stream` never
//! imports `api`, `store` never imports `api` or `stream`, `domain` imports none of them.

pub mod accounts;
pub mod api;
pub mod bus;
pub mod config;
pub mod domain;
pub mod federation;
pub mod media;
pub mod metrics;
pub mod moderation;
pub mod passwords;
pub mod proxies;
pub mod scheduler;
pub mod sequencer;
pub mod serve;
pub mod store;
pub mod stream;
pub mod web;
pub mod wiki;

use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A handle on the node: one pointer, cloned into every connection and its tasks (when
/// each clone copied every field, every idle WebSocket paid for it: BENCHMARKS.md,
/// "Before and after").
#[derive(Clone)]
pub struct Node(Arc<NodeParts>);

impl std::ops::Deref for Node {
    type Target = NodeParts;
    fn deref(&self) -> &NodeParts {
        &self.0
    }
}

/// Everything a node holds, chosen once at start-up from the configuration.
pub struct NodeParts {
    pub config: Arc<config::Config>,
    pub site: Arc<domain::Site>,
    pub store: Arc<dyn store::Store>,
    pub bus: Arc<dyn bus::Bus>,
    pub hub: Arc<stream::hub::Hub>,
    /// Resumes reading the same page share one read.
    pub replays: Arc<stream::replays::Replays>,
    pub metrics: Arc<metrics::Metrics>,
    /// Rate-limit counters: in memory on one node, in Redis across nodes.
    pub rate: Arc<moderation::rate::RateLimits>,
    /// How other servers are reached (SSRF-guarded).
    pub fetcher: federation::fetch::Fetcher,
    /// The wiki whose accounts sign in here (wiki mode), if any.
    pub wiki: Option<Arc<wiki::Wiki>>,
    /// Ticks every 30 s: WebSocket connections ping their clients on it.
    pub ping: tokio::sync::watch::Receiver<u64>,
    /// Live events known to exist, by slug, with when that was read: a storm of readers
    /// subscribing to one event asks the database once (see `api::streaming::may_open`).
    pub known_events: dashmap::DashMap<String, std::time::Instant>,
    pub shutdown: CancellationToken,
}

impl Node {
    /// Open the database (running migrations), choose the bus, start the background
    /// tasks (sequencer, dispatcher). They stop when `shutdown` is cancelled.
    pub async fn start(
        config: config::Config,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Node> {
        anyhow::ensure!(
            config.reader_queue_bytes >= stream::hub::largest_frame(config.max_chars),
            "TIDINGS_READER_QUEUE_BYTES ({}) must hold the largest frame a notice of \
             TIDINGS_MAX_CHARS ({}) characters can make ({} bytes)",
            config.reader_queue_bytes,
            config.max_chars,
            stream::hub::largest_frame(config.max_chars)
        );
        let site = Arc::new(domain::Site::new(&config.public_url()));
        let store = store::open_with(
            &config.database_url,
            (*site).clone(),
            config.database_connections,
        )
        .await?;
        let metrics = Arc::new(metrics::Metrics::default());
        let bus: Arc<dyn bus::Bus> = match &config.redis_url {
            Some(url) => bus::RedisBus::connect(url, &config.redis_prefix, metrics.clone()).await?,
            None => Arc::new(bus::LocalBus::new(65_536)),
        };
        let rate = Arc::new(match &config.redis_url {
            Some(url) => moderation::rate::RateLimits::redis(url, &config.redis_prefix).await?,
            None => moderation::rate::RateLimits::local(),
        });
        let hub = stream::hub::Hub::with_unrouted(store.unrouted());
        tokio::spawn(sequencer::run(
            store.clone(),
            bus.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(stream::dispatch::Dispatcher::run(
            store.clone(),
            bus.clone(),
            hub.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(scheduler::run(store.clone(), shutdown.clone()));
        tokio::spawn(store::keep_index(store.clone(), shutdown.clone()));
        let fetcher = federation::fetch::Fetcher::new(
            config.federation_allow_private,
            &config.blocked_domains,
            &format!("Tidings/{} (+{})", env!("CARGO_PKG_VERSION"), site.base_url),
        );
        tokio::spawn(federation::deliver::run(
            store.clone(),
            fetcher.clone(),
            site.clone(),
            metrics.clone(),
            std::time::Duration::from_millis(config.delivery_retry_ms),
            shutdown.clone(),
        ));
        let wiki = wiki::Wiki::from_config(&config)?.map(Arc::new);
        if let Some(w) = &wiki {
            tokio::spawn(wiki::run(
                w.clone(),
                store.clone(),
                metrics.clone(),
                shutdown.clone(),
            ));
        }
        let (ping_tx, ping) = tokio::sync::watch::channel(0u64);
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let period = std::time::Duration::from_secs(30);
            let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tokio::select! {
                    _ = every.tick() => ping_tx.send_modify(|n| *n += 1),
                    _ = stop.cancelled() => return,
                }
            }
        });
        let replays = Arc::new(stream::replays::Replays::new(
            store.clone(),
            hub.clone(),
            metrics.clone(),
        ));
        Ok(Node(Arc::new(NodeParts {
            ping,
            config: Arc::new(config),
            site,
            store,
            bus,
            hub,
            replays,
            metrics,
            rate,
            fetcher,
            wiki,
            known_events: dashmap::DashMap::new(),
            shutdown,
        })))
    }
}

/// Serve on `listener` until `shutdown` is cancelled. Used by the binary and the tests.
pub async fn run(
    config: config::Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let options = serve::Options::from_config(&config);
    let node = Node::start(config, shutdown.clone()).await?;
    let metrics = node.metrics.clone();
    // Clients such as Mastodon.py ask for `/api/v1/instance/`: trailing slashes are
    // trimmed before routing.
    let app = axum::Router::new().fallback_service(tower::Layer::layer(
        &tower_http::normalize_path::NormalizePathLayer::trim_trailing_slash(),
        api::router(node),
    ));
    tracing::info!(addr = %listener.local_addr()?, "serving");
    serve::serve(listener, app, options, shutdown).await;
    // WebSockets close themselves on shutdown (1012); give them a moment to say so.
    for _ in 0..50 {
        if metrics
            .ws_connections
            .load(std::sync::atomic::Ordering::Relaxed)
            <= 0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let left = metrics
        .ws_connections
        .load(std::sync::atomic::Ordering::Relaxed);
    tracing::info!(
        websockets_left = left,
        "stopped: streams were told to reconnect elsewhere (1012)"
    );
    Ok(())
}
