//! Caps on concurrent streaming connections, per IP address and per account. A
//! connection holds a [`StreamPermit`] for its lifetime; over a cap, the request is
//! answered 429.
//!
//! The IP is the client's address: the peer's, or behind a load balancer listed in
//! `TIDINGS_TRUSTED_PROXIES` the one its `X-Forwarded-For` names ([`crate::proxies`]).

use crate::domain::AccountId;
use dashmap::DashMap;
use std::net::IpAddr;
use std::sync::Arc;

pub struct Limits {
    per_ip: DashMap<IpAddr, usize>,
    per_account: DashMap<AccountId, usize>,
    max_per_ip: usize,
    max_per_account: usize,
}

pub struct StreamPermit {
    limits: Arc<Limits>,
    ip: Option<IpAddr>,
    account: Option<AccountId>,
}

impl Limits {
    pub fn new(config: &crate::config::Config) -> Self {
        Limits {
            per_ip: DashMap::new(),
            per_account: DashMap::new(),
            max_per_ip: config.max_streams_per_ip,
            max_per_account: config.max_streams_per_account,
        }
    }

    /// Take a slot for one more stream, or say which cap is reached.
    pub fn acquire(
        self: &Arc<Self>,
        ip: Option<IpAddr>,
        account: Option<AccountId>,
    ) -> Result<StreamPermit, &'static str> {
        if let Some(ip) = ip {
            let mut n = self.per_ip.entry(ip).or_insert(0);
            if *n >= self.max_per_ip {
                return Err("Too many streams from this address");
            }
            *n += 1;
        }
        // Dropping this on refusal gives the IP slot back.
        let mut permit = StreamPermit {
            limits: self.clone(),
            ip,
            account: None,
        };
        if let Some(a) = account {
            let mut n = self.per_account.entry(a).or_insert(0);
            if *n >= self.max_per_account {
                return Err("Too many streams for this account");
            }
            *n += 1;
            permit.account = Some(a);
        }
        Ok(permit)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            self.limits.per_ip.remove_if_mut(&ip, |_, n| {
                *n -= 1;
                *n == 0
            });
        }
        if let Some(a) = self.account {
            self.limits.per_account.remove_if_mut(&a, |_, n| {
                *n -= 1;
                *n == 0
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_and_slots_come_back() {
        let mut c = crate::config::Config::for_database("sqlite::memory:");
        c.max_streams_per_ip = 2;
        c.max_streams_per_account = 1;
        let l = Arc::new(Limits::new(&c));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = l.acquire(Some(ip), Some(AccountId::new(7))).unwrap();
        assert!(
            l.acquire(Some(ip), Some(AccountId::new(7))).is_err(),
            "account cap"
        );
        let b = l.acquire(Some(ip), None).unwrap();
        assert!(l.acquire(Some(ip), None).is_err(), "IP cap");
        drop(a);
        drop(b);
        assert!(l.acquire(Some(ip), Some(AccountId::new(7))).is_ok());
        assert!(
            l.per_ip.get(&ip).is_none() && l.per_account.is_empty(),
            "no leak"
        );
    }
}
