//! Password work that cannot be turned against the server.
//!
//! **Hashing** (argon2, 19 MiB of memory per hash) runs on a fixed set of worker
//! threads, one per core, fed through a bounded queue; a request finding the queue full
//! is refused at once ([`Busy`]). Each worker allocates its argon2 memory once and reuses
//! it for every hash (argon2's `hash_password_into_with_memory`), so the memory password
//! checks hold is one block per core and does not grow. Before, each check ran on tokio's
//! blocking pool, which grows to hundreds of threads, each allocating its own argon2
//! memory every time, and the allocator kept what a guessing attack made it take
//! (BENCHMARKS.md, "Password guessing").
//!
//! **No account enumeration by timing**: checking a password for an unknown account
//! ([`Passwords::verify`] with no hash) does the work against a dummy hash made with the
//! same parameters, so it costs what a known one costs.
//!
//! This module knows nothing of HTTP.

use std::sync::{Arc, Mutex, OnceLock, mpsc};

/// Too many password checks are already waiting: try again shortly.
#[derive(Debug, thiserror::Error)]
#[error("too many password checks are waiting")]
pub struct Busy;

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// A worker's argon2 memory: allocated on its first hash, reused for every later one.
#[derive(Default)]
pub struct Memory(Vec<argon2::Block>);

impl Memory {
    fn blocks(&mut self, n: usize) -> &mut [argon2::Block] {
        if self.0.len() < n {
            self.0.resize(n, argon2::Block::default());
        }
        &mut self.0[..n]
    }
}

/// The process's password workers (one set, however many nodes a test starts).
pub fn passwords() -> &'static Passwords {
    static PASSWORDS: OnceLock<Passwords> = OnceLock::new();
    PASSWORDS.get_or_init(Passwords::start)
}

/// Argon2 work on a fixed set of threads (see the module doc).
pub struct Passwords {
    jobs: mpsc::SyncSender<Job>,
}

/// Checks that may wait for a worker; past them a check is refused at once.
pub const QUEUE: usize = 64;

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
                    let mut memory = Memory::default();
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut memory),
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
        f: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = tx.send(f(memory));
        });
        self.jobs.try_send(job).map_err(|_| Busy)?;
        // A worker that stopped (it cannot, short of a panic in argon2) counts as busy.
        rx.await.map_err(|_| Busy)
    }

    /// An argon2 hash of `password` (PHC string).
    pub async fn hash(&self, password: String) -> Result<Result<String, String>, Busy> {
        self.run(move |memory| hash_now(memory, &password)).await
    }

    /// Whether `password` matches `hash`; with no hash (unknown account) the work is
    /// done against a dummy one and the answer is no.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Busy> {
        self.run(move |memory| {
            let known = hash.is_some();
            let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
            let ok = verify_now(memory, &password, &hash);
            known && ok
        })
        .await
    }
}

/// An argon2id hash of `password` with the default parameters, as a PHC string.
fn hash_now(memory: &mut Memory, password: &str) -> Result<String, String> {
    use argon2::password_hash::{Output, PasswordHash, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| e.to_string())?;
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_raw,
            &mut out,
            memory.blocks(params.block_count()),
        )
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .map_err(|e: argon2::password_hash::Error| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`, computed in the worker's memory.
fn verify_now(memory: &mut Memory, password: &str, phc: &str) -> bool {
    use argon2::password_hash::PasswordHash;
    use argon2::{Algorithm, Argon2, Params, Version};
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(h.algorithm),
        Params::try_from(&h),
        h.salt,
        h.hash,
    ) else {
        return false;
    };
    let Ok(version) = h.version.map_or(Ok(Version::V0x13), Version::try_from) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let blocks = memory.blocks(params.block_count());
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
        .is_ok()
        && constant_time_eq(&out, expected.as_bytes())
}

/// Equal bytes, compared in time that depends only on their length (password hashes,
/// client secrets, CSRF tokens).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A hash of a random password with the parameters real ones use, made once.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret = hex::encode(rand::random::<[u8; 16]>());
        hash_now(&mut Memory::default(), &secret).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_here_and_with_the_argon2_crate_alike() {
        use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
        let mut memory = Memory::default();
        let ours = hash_now(&mut memory, "correct horse").unwrap();
        assert!(verify_now(&mut memory, "correct horse", &ours));
        assert!(!verify_now(&mut memory, "wrong horse", &ours));
        // The crate's own verifier accepts ours, and ours accepts the crate's hashes.
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let theirs = argon2::Argon2::default()
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now(&mut memory, "battery staple", &theirs));
        assert!(!verify_now(&mut memory, "battery", &theirs));
        assert!(!verify_now(&mut memory, "x", "not a hash"));
    }
}
