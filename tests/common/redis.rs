//! A `redis-server` of a test's own, on a free port, that the test may stop and start.

use std::process::{Child, Command, Stdio};

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

/// `redis-server` on PATH, or `None` (loudly; a failure under `CI=true`).
pub fn available() -> bool {
    let ok = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but redis-server is not installed");
        }
        eprintln!(
            "\n*** SKIPPED: redis-server is not installed, so this Redis story did not run ***\n"
        );
    }
    ok
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = RedisServer { port, child: None };
        r.start_again().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn start_again(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let port = self.port;
        super::eventually(
            "redis-server to accept connections",
            super::WAIT,
            || async {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
            },
        )
        .await;
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Nodes on one fresh Postgres database and a Redis of the test's own.
pub struct Cluster {
    pub db: String,
    pub redis: RedisServer,
    prefix: String,
}

impl Cluster {
    /// `None` (announced) where Redis or Postgres is missing.
    pub async fn start() -> Option<Cluster> {
        if !available() {
            return None;
        }
        let db = super::fresh_postgres_database().await?;
        Some(Cluster {
            db,
            redis: RedisServer::start().await,
            prefix: format!("t{}", hex::encode(rand::random::<[u8; 4]>())),
        })
    }

    /// One more node, with `tweak` applied to its configuration.
    pub async fn node(
        &self,
        tweak: impl FnOnce(&mut tidings::config::Config) + Send + 'static,
    ) -> super::TestApp {
        let (r, p) = (self.redis.url(), self.prefix.clone());
        super::spawn_on(super::Backend::Postgres, &self.db, None, move |c| {
            c.redis_url = Some(r);
            c.redis_prefix = p;
            tweak(c);
        })
        .await
    }
}
