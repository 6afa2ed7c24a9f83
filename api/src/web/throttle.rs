//! Sign-in throttling, kept in the database (migration 0008) so that every server shares it,
//! a restart forgets nothing and no flood of made-up names can push a record out.
//!
//! Attempts are counted per client address and per account (user name as typed, existing or
//! not, so the throttle tells nobody which names exist). Each has a number of free attempts;
//! after that, the next attempt waits 2^(n − free) seconds from the last one, up to a cap:
//!
//! - **address**: 10 free, then 1 s, 2 s, 4 s, … up to 15 minutes. One address guessing
//!   gets about 20 tries in its first half hour and then 4 an hour.
//! - **account**: 20 free, then up to one minute, and **not applied to a clean address**
//!   (one with no failed attempt in the last hour) while the account has fewer than 100
//!   failures. So an attacker cannot lock an official out: the official signing in from
//!   their own office still gets in at once, while the attacker's addresses are slowed by
//!   their own record. An attacker with many addresses (a botnet, an IPv6 /48 of 65,536
//!   /64s) gets one try per fresh address until the account has 100 failures, and then one a
//!   minute from anywhere; the official then waits a minute at most, never longer.
//!
//! An attempt is charged *before* the password is checked, atomically (a conditional update:
//! see `sql::CHARGE_SIGN_IN`), so concurrent attempts from one address, on any server, cannot
//! all slip into the same opening. A success forgets the account's record and refunds the
//! address the attempt it was charged (an attacker who owns an account cannot wipe their
//! address's record by signing in to it). Records are forgotten one hour after their last
//! attempt; the rows are deleted whenever a failure is charged.

use chrono::{DateTime, Utc};
use procedo_engine::store::{SignInCharge, Store, StoreError};
use std::net::{IpAddr, SocketAddr};

/// Free attempts and the longest delay of one kind of subject.
struct Policy {
    free: i64,
    cap_secs: i64,
}

const ADDRESS: Policy = Policy {
    free: 10,
    cap_secs: 15 * 60,
};
const ACCOUNT: Policy = Policy {
    free: 20,
    cap_secs: 60,
};
/// From this many failures on an account, even a clean address waits the account's delay:
/// fresh addresses are cheap for an attacker who has many.
const CLEAN_ADDRESS_BYPASS_BELOW: i64 = 100;
/// A record whose last attempt is older than this counts as none (and its row is deleted).
const FORGET_SECS: i64 = 60 * 60;
/// Times a charge may lose a race with a concurrent attempt before the answer is "wait".
const RACES: usize = 3;

impl Policy {
    /// Seconds left before an attempt is allowed, after `failures` (0: now).
    fn wait(&self, failures: i64, last: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
        if failures < self.free {
            return 0;
        }
        let exponent = u32::try_from(failures - self.free)
            .unwrap_or(u32::MAX)
            .min(30);
        let delay = (1_i64 << exponent).min(self.cap_secs);
        let open = last + chrono::Duration::seconds(delay);
        let left = (open - now).num_milliseconds();
        if left <= 0 { 0 } else { (left + 999) / 1000 }
    }

    /// The charge of one attempt decided on `failures`.
    fn charge<'a>(&self, subject: &'a str, failures: i64) -> SignInCharge<'a> {
        if failures < self.free {
            SignInCharge {
                subject,
                seen: None,
                below: self.free,
            }
        } else {
            SignInCharge {
                subject,
                seen: Some(failures),
                below: self.free,
            }
        }
    }
}

/// The subjects of one attempt: `user:NAME` (none for a token sign-in) and `addr:ADDRESS`.
pub struct Subjects {
    pub account: Option<String>,
    pub address: String,
}

impl Subjects {
    pub fn new(user: Option<&str>, address: &str) -> Self {
        Self {
            account: user.map(|u| format!("user:{u}")),
            address: format!("addr:{address}"),
        }
    }
}

/// What to do with an attempt.
pub enum Admit<T> {
    /// Charged: go ahead, with the reservation taken.
    Go(T),
    /// Wait this many seconds (nothing charged).
    Wait(i64),
    /// The reservation could not be taken (nothing charged).
    Busy,
}

/// Decides whether an attempt may go ahead and, if so, takes `reserve` (a place in the
/// hashing pool: only once the throttle let the attempt through, so a throttled address
/// occupies no place) and charges the attempt.
pub async fn admit<T>(
    store: &Store,
    subjects: &Subjects,
    now: DateTime<Utc>,
    reserve: impl FnOnce() -> Option<T>,
) -> Result<Admit<T>, StoreError> {
    let forget_before = now - chrono::Duration::seconds(FORGET_SECS);
    let account = subjects.account.as_deref();
    let mut reserve = Some(reserve);
    let mut reserved = None;
    for _ in 0..RACES {
        let rows = store
            .sign_in_failures(account.unwrap_or(""), &subjects.address, forget_before)
            .await?;
        let of = |subject: &str| {
            rows.iter()
                .find(|r| r.subject == subject)
                .map_or((0, now), |r| (r.failures, r.last_at))
        };
        let (address_failures, address_last) = of(&subjects.address);
        let wait = ADDRESS.wait(address_failures, address_last, now);
        if wait > 0 {
            return Ok(Admit::Wait(wait));
        }
        let mut charges = vec![ADDRESS.charge(&subjects.address, address_failures)];
        if let Some(account) = account {
            let (failures, last) = of(account);
            if address_failures == 0 && failures < CLEAN_ADDRESS_BYPASS_BELOW {
                // A clean address: the account's delay does not apply, the attempt still counts.
                charges.push(SignInCharge {
                    subject: account,
                    seen: None,
                    below: i64::MAX,
                });
            } else {
                let wait = ACCOUNT.wait(failures, last, now);
                if wait > 0 {
                    return Ok(Admit::Wait(wait));
                }
                charges.push(ACCOUNT.charge(account, failures));
            }
        }
        if let Some(reserve) = reserve.take() {
            match reserve() {
                Some(r) => reserved = Some(r),
                None => return Ok(Admit::Busy),
            }
        }
        if store.charge_sign_in(&charges, now, forget_before).await? {
            return Ok(reserved.map_or(Admit::Busy, Admit::Go));
        }
    }
    Ok(Admit::Wait(1))
}

/// After a successful sign-in.
pub async fn succeeded(store: &Store, subjects: &Subjects) -> Result<(), StoreError> {
    store
        .sign_in_succeeded(subjects.account.as_deref(), &subjects.address)
        .await
}

/// The client's address: the socket peer, or — only when the peer is one of the operator's
/// `trusted` proxies — the address that proxy saw, the rightmost entry of `X-Forwarded-For`
/// that is not itself a trusted proxy (entries further left are whatever the client wrote).
/// IPv6 addresses count by their /64, which one subscriber usually holds whole.
pub fn client_address(
    peer: Option<SocketAddr>,
    headers: &axum::http::HeaderMap,
    trusted: &[IpAddr],
) -> String {
    let Some(peer) = peer.map(|p| p.ip()) else {
        return "unknown".to_string();
    };
    let mut address = canonical(peer);
    if trusted.contains(&address) {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for entry in forwarded.iter().rev() {
            match entry.parse::<IpAddr>() {
                Ok(ip) => {
                    address = canonical(ip);
                    if !trusted.contains(&address) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// An IPv4 address seen through an IPv6 socket is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_from_the_free_attempts_up_to_the_cap() {
        let now = Utc::now();
        let waits: Vec<i64> = [9, 10, 11, 12, 19, 20, 40]
            .iter()
            .map(|n| ADDRESS.wait(*n, now, now))
            .collect();
        assert_eq!(waits, [0, 1, 2, 4, 512, 900, 900]);
        assert_eq!(ACCOUNT.wait(30, now, now), 60);
        assert_eq!(ADDRESS.wait(12, now - chrono::Duration::seconds(3), now), 1);
        assert_eq!(ADDRESS.wait(12, now - chrono::Duration::seconds(4), now), 0);
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.7, 10.0.0.2".parse().expect("header"),
        );
        let proxy: SocketAddr = "10.0.0.1:4000".parse().expect("address");
        assert_eq!(client_address(Some(proxy), &headers, &[]), "10.0.0.1");
        let trusted: Vec<IpAddr> = vec![
            "10.0.0.1".parse().expect("ip"),
            "10.0.0.2".parse().expect("ip"),
        ];
        assert_eq!(
            client_address(Some(proxy), &headers, &trusted),
            "203.0.113.7",
            "the client cannot choose its address by writing to the left"
        );
        let v6: SocketAddr = "[2001:db8:1:2:3:4:5:6]:1".parse().expect("address");
        assert_eq!(client_address(Some(v6), &headers, &[]), "2001:db8:1:2::/64");
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:1".parse().expect("address");
        assert_eq!(client_address(Some(mapped), &headers, &[]), "192.0.2.1");
    }
}
