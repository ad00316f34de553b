//! Sign-in, sign-up and app-registration throttles, and password work that cannot be
//! turned against the server.
//!
//! **Rate limits** follow Mastodon's defaults (its Rack::Attack rules): sign-in attempts
//! 25 per IP per 5 minutes and 25 per account per hour, API sign-ups 5 per IP per 30
//! minutes, app registrations per IP per 10 minutes (all configurable). Past a limit the
//! answer is `429` with `Retry-After`, `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset`. Counting is per node and in memory (the `governor` crate's
//! keyed GCRA limiter, a well-kept crate whose keyed state is a `DashMap`, as ours is);
//! with N nodes behind a balancer an attacker gets at most N times the budget.
//!
//! **Password hashing** (argon2, 19 MiB of memory per hash) runs on a fixed set of worker
//! threads, one per core, fed through a bounded queue; a request finding the queue full
//! is answered 429 at once. Before, each check ran on tokio's blocking pool, which grows
//! to hundreds of threads: twelve clients guessing passwords took the process from 15 MiB
//! to 1.27 GiB, kept by the allocator's per-thread arenas. With a fixed set of threads the
//! memory argon2 can hold is bounded by the core count.
//!
//! **No account enumeration by timing**: a sign-in for an unknown account verifies the
//! password against a dummy hash made with the same parameters, so it costs what a
//! known one costs.

use super::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

/// A keyed limit: `burst` attempts, refilled evenly over `period`.
pub struct Limit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    burst: u32,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Limit<K> {
    pub fn new(burst: u32, period: Duration) -> Self {
        let burst = burst.max(1);
        let n = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period / burst)
            .unwrap_or_else(|| Quota::per_second(n))
            .allow_burst(n);
        Limit {
            limiter: RateLimiter::keyed(quota),
            burst,
            checks: AtomicU64::new(0),
        }
    }

    /// Count one attempt for `key`, or the 429 to answer.
    pub fn check(&self, key: &K) -> Result<(), ApiError> {
        // Forget keys whose budget is full again, now and then, so the map stays small.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::Throttled {
                limit: self.burst,
                retry_after: wait.as_secs().max(1),
            }
        })
    }
}

/// Every throttle of the node.
pub struct Throttles {
    pub sign_in_per_ip: Limit<IpAddr>,
    pub sign_in_per_account: Limit<i64>,
    pub sign_ups_per_ip: Limit<IpAddr>,
    pub apps_per_ip: Limit<IpAddr>,
}

impl Throttles {
    pub fn new(config: &crate::config::Config) -> Self {
        const MIN: u64 = 60;
        Throttles {
            sign_in_per_ip: Limit::new(
                config.sign_in_attempts_per_ip,
                Duration::from_secs(5 * MIN),
            ),
            sign_in_per_account: Limit::new(
                config.sign_in_attempts_per_account,
                Duration::from_secs(60 * MIN),
            ),
            sign_ups_per_ip: Limit::new(config.sign_ups_per_ip, Duration::from_secs(30 * MIN)),
            apps_per_ip: Limit::new(config.apps_per_ip, Duration::from_secs(10 * MIN)),
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The process's password workers (one set, however many nodes a test starts).
pub fn passwords() -> &'static Passwords {
    static PASSWORDS: OnceLock<Passwords> = OnceLock::new();
    PASSWORDS.get_or_init(Passwords::start)
}

/// Argon2 work on a fixed set of threads (see the module doc).
pub struct Passwords {
    jobs: mpsc::SyncSender<Job>,
}

/// Checks that may wait for a worker; past them a sign-in is refused at once.
const QUEUE: usize = 64;

impl Passwords {
    fn start() -> Self {
        let (jobs, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..workers {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("tidings-argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password worker");
            }
        }
        Passwords { jobs }
    }

    /// Run `f` on a password worker; 429 when too many checks are already waiting.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.try_send(job).map_err(|_| ApiError::Throttled {
            limit: QUEUE as u32,
            retry_after: 1,
        })?;
        rx.await
            .map_err(|_| ApiError::Internal("a password worker stopped".into()))
    }

    /// An argon2 hash of `password` (PHC string).
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || hash_now(&password))
            .await?
            .map_err(ApiError::Internal)
    }

    /// Whether `password` matches `hash`; with no hash (unknown account) the work is
    /// done against a dummy one and the answer is no.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        self.run(move || {
            use argon2::password_hash::{PasswordHash, PasswordVerifier};
            let known = hash.is_some();
            let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
            let ok = PasswordHash::new(&hash).is_ok_and(|h| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            });
            known && ok
        })
        .await
    }
}

fn hash_now(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// A hash of a random password with the parameters real ones use, made once.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret = hex::encode(rand::random::<[u8; 16]>());
        hash_now(&secret).unwrap_or_default()
    })
}
