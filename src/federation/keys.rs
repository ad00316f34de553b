//! Each local account's RSA key pair (2048 bits: what Mastodon makes, and what every peer
//! can verify), made the first time it is needed and kept in the database. Made with the
//! `rsa` crate on a blocking thread (a key takes about 0.1–1 s of CPU); two nodes making
//! one at once keep whichever was stored first.

use crate::domain::AccountId;
use crate::store::{KeyPair, Store, StoreError};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

pub const BITS: usize = 2048;

/// A new key pair, PEM encoded (SPKI public key, as `publicKeyPem`; PKCS#8 private key).
pub fn generate() -> Result<KeyPair, String> {
    let mut rng = rand_core::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, BITS).map_err(|e| e.to_string())?;
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?
        .to_string();
    Ok(KeyPair {
        public_pem,
        private_pem,
    })
}

/// The account's key pair, made now if it has none.
pub async fn ensure(store: &dyn Store, account: AccountId) -> Result<KeyPair, StoreError> {
    if let Some(k) = store.account_key(account).await? {
        return Ok(k);
    }
    let made = tokio::task::spawn_blocking(generate)
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))?
        .map_err(StoreError::Invalid)?;
    store.put_account_key(account, made).await
}
