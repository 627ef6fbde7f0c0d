//! Subscribers in Redis: `sw:{N}:sub` hashes, written by Lua scripts so a
//! read-modify-write cannot interleave with another writer, then the index.

use super::{RedisStore, keys};
use crate::record::Subscriber;
use crate::store::error::{Result, StoreError};
use crate::store::now_i64;
use crate::store::subscribers::{NewSubscriber, SubscriberUpdate, apply_update, validate_update};
use redis::Script;
use sipcore::headers::MacAddr;
use std::collections::HashMap;
use std::sync::LazyLock;

/// Creates the hash only if the number is not provisioned.
static ADD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
         redis.call('HSET', KEYS[1], unpack(ARGV))
         return 1",
    )
});

/// Replaces the hash only if nobody wrote it since it was read (`rev` = ARGV[1]).
static REPLACE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('HGET', KEYS[1], 'rev') ~= ARGV[1] then return 0 end
         redis.call('DEL', KEYS[1])
         redis.call('HSET', KEYS[1], unpack(ARGV, 2))
         return 1",
    )
});

/// Deletes the subscriber and its RL record; 1 if it was there.
static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local n = redis.call('DEL', KEYS[1])
         redis.call('DEL', KEYS[2])
         return n",
    )
});

/// Adds (ARGV[2] = '1') or removes ARGV[1] in the index and moves the version.
static INDEX: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if ARGV[2] == '1' then redis.call('SADD', KEYS[1], ARGV[1]) else redis.call('SREM', KEYS[1], ARGV[1]) end
         return redis.call('INCR', KEYS[2])",
    )
});

/// How often an update retries when another writer got in between.
const RETRIES: usize = 16;

/// The hash's fields for `sub`, at revision `rev`.
fn fields(sub: &Subscriber, rev: u64, created_at: i64) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("realm", sub.realm.clone()),
        ("ha1_md5", sub.ha1_md5.clone()),
        ("ha1_sha256", sub.ha1_sha256.clone()),
        ("ha1_sha512_256", sub.ha1_sha512_256.clone()),
        ("rev", rev.to_string()),
        ("created_at", created_at.to_string()),
        ("updated_at", now_i64().to_string()),
    ];
    if let Some(mac) = sub.mac {
        f.push(("mac", mac.to_string()));
    }
    if let Some(home) = &sub.home {
        f.push(("home", home.clone()));
    }
    f
}

fn flat(fields: Vec<(&'static str, String)>) -> Vec<String> {
    fields.into_iter().flat_map(|(k, v)| [k.to_owned(), v]).collect()
}

/// The subscriber, its revision and creation time, from the hash.
fn from_hash(number: &str, mut h: HashMap<String, String>) -> Result<(Subscriber, u64, i64)> {
    let mut take = |field: &str| h.remove(field).ok_or_else(|| StoreError::Corrupt(format!("subscriber {number}: no {field}")));
    let realm = take("realm")?;
    let (ha1_md5, ha1_sha256, ha1_sha512_256) = (take("ha1_md5")?, take("ha1_sha256")?, take("ha1_sha512_256")?);
    let rev: u64 = parse_field(number, "rev", take("rev")?)?;
    let created_at: i64 = parse_field(number, "created_at", take("created_at")?)?;
    let mac = match h.remove("mac") {
        None => None,
        Some(text) => Some(text.parse::<MacAddr>().map_err(|e| StoreError::Corrupt(format!("subscriber {number}: mac {text:?}: {e}")))?),
    };
    let sub = Subscriber { number: number.to_owned(), realm, ha1_md5, ha1_sha256, ha1_sha512_256, mac, home: h.remove("home") };
    Ok((sub, rev, created_at))
}

fn parse_field<T: std::str::FromStr>(number: &str, what: &str, text: String) -> Result<T> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("subscriber {number}: {what} {text:?}")))
}

impl RedisStore {
    /// As [`Store::add_subscriber`](crate::store::Store::add_subscriber).
    pub fn add_subscriber(&self, add: NewSubscriber<'_>) -> Result<Subscriber> {
        let sub = add.checked()?;
        let number = add.number;
        let added: bool = self.run(|c| ADD.key(keys::sub(number)).arg(flat(fields(&sub, 1, now_i64()))).invoke(c))?;
        if !added {
            // Heals an index entry lost between the two steps of an earlier add.
            self.indexed(number, true)?;
            return Err(StoreError::Exists(number.to_owned()));
        }
        self.indexed(number, true)?;
        Ok(sub)
    }

    /// As [`Store::update_subscriber`](crate::store::Store::update_subscriber).
    pub fn update_subscriber(&self, number: &str, update: SubscriberUpdate) -> Result<Subscriber> {
        validate_update(number, &update)?;
        for _ in 0..RETRIES {
            let (mut sub, rev, created_at) = self.subscriber_rev(number)?.ok_or_else(|| StoreError::NotFound(number.to_owned()))?;
            apply_update(&mut sub, update.clone())?;
            let mut args = vec![rev.to_string()];
            args.extend(flat(fields(&sub, rev + 1, created_at)));
            let replaced: bool = self.run(|c| REPLACE.key(keys::sub(number)).arg(args).invoke(c))?;
            if replaced {
                self.indexed(number, true)?;
                return Ok(sub);
            }
        }
        Err(StoreError::Invalid(format!("subscriber {number} kept changing under this update; try again")))
    }

    /// As [`Store::remove_subscriber`](crate::store::Store::remove_subscriber).
    pub fn remove_subscriber(&self, number: &str) -> Result<()> {
        let removed: bool = self.run(|c| REMOVE.key(keys::sub(number)).key(keys::rl(number)).invoke(c))?;
        self.indexed(number, false)?;
        if removed { Ok(()) } else { Err(StoreError::NotFound(number.to_owned())) }
    }

    /// Puts `number` in (or takes it out of) the index and moves the version,
    /// atomically (both keys share the `{subscribers}` slot; a script, since
    /// the Cluster connection sends no MULTI pipelines).
    fn indexed(&self, number: &str, present: bool) -> Result<()> {
        self.run(|c| INDEX.key(keys::INDEX).key(keys::VERSION).arg(number).arg(u8::from(present)).invoke::<()>(c))
    }

    fn subscriber_rev(&self, number: &str) -> Result<Option<(Subscriber, u64, i64)>> {
        let h: HashMap<String, String> = self.run(|c| redis::cmd("HGETALL").arg(keys::sub(number)).query(c))?;
        if h.is_empty() { Ok(None) } else { from_hash(number, h).map(Some) }
    }

    /// As [`Store::subscriber`](crate::store::Store::subscriber).
    pub fn subscriber(&self, number: &str) -> Result<Option<Subscriber>> {
        Ok(self.subscriber_rev(number)?.map(|(s, _, _)| s))
    }

    /// The indexed numbers, sorted.
    pub(super) fn numbers(&self) -> Result<Vec<String>> {
        let mut numbers: Vec<String> = self.run(|c| redis::cmd("SMEMBERS").arg(keys::INDEX).query(c))?;
        numbers.sort();
        Ok(numbers)
    }

    /// As [`Store::subscribers`](crate::store::Store::subscribers): one read
    /// per number (each in its own slot).
    pub fn subscribers(&self) -> Result<Vec<Subscriber>> {
        let mut all = Vec::new();
        for number in self.numbers()? {
            all.extend(self.subscriber(&number)?);
        }
        Ok(all)
    }

    /// As [`Store::subscribers_version`](crate::store::Store::subscribers_version).
    pub fn subscribers_version(&self) -> Result<i64> {
        let v: Option<i64> = self.run(|c| redis::cmd("GET").arg(keys::VERSION).query(c))?;
        Ok(v.unwrap_or(0))
    }
}
