//! Provisioning: subscribers and their credentials. Only HA1 values are
//! stored, one per digest algorithm, never the password.

use super::error::{Result, StoreError, extended_code};
use super::{Store, now_i64, validate};
use crate::record::Subscriber;
use rusqlite::{Row, Transaction, TransactionBehavior};
use sipcore::auth::{Algorithm, ha1};
use sipcore::headers::MacAddr;
use std::fmt;

macro_rules! columns {
    () => {
        "number, realm, ha1_md5, ha1_sha256, ha1_sha512_256, mac, home"
    };
}
const SELECT_ONE: &str = concat!("SELECT ", columns!(), " FROM subscribers WHERE number = ?1");
const SELECT_ALL: &str = concat!("SELECT ", columns!(), " FROM subscribers ORDER BY number");

/// A change to a subscriber; `None` fields are left as they are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SubscriberUpdate {
    /// A new password (the HA1s are recomputed).
    pub password: Option<String>,
    /// A new realm. HA1 depends on it, so it needs a new `password` too.
    pub realm: Option<String>,
    /// `Some(None)` clears the MAC binding.
    pub mac: Option<Option<MacAddr>>,
    /// `Some(None)` clears the home location.
    pub home: Option<Option<String>>,
}

impl SubscriberUpdate {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.password.is_none() && self.realm.is_none() && self.mac.is_none() && self.home.is_none()
    }
}

impl fmt::Debug for SubscriberUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriberUpdate")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("realm", &self.realm)
            .field("mac", &self.mac)
            .field("home", &self.home)
            .finish()
    }
}

/// The three HA1 values for `number:realm:password`.
fn ha1s(number: &str, realm: &str, password: &str) -> [String; 3] {
    [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256].map(|alg| ha1(alg, number, realm, password))
}

fn from_row(row: &Row<'_>) -> Result<Subscriber> {
    let number: String = row.get(0)?;
    let mac = match row.get::<_, Option<String>>(5)? {
        None => None,
        Some(text) => Some(text.parse::<MacAddr>().map_err(|e| StoreError::Corrupt(format!("subscriber {number}: mac {text:?}: {e}")))?),
    };
    Ok(Subscriber {
        realm: row.get(1)?,
        ha1_md5: row.get(2)?,
        ha1_sha256: row.get(3)?,
        ha1_sha512_256: row.get(4)?,
        mac,
        home: row.get(6)?,
        number,
    })
}

impl Store {
    /// Provisions `number` with the HA1s of `password` in `realm`. Fails with
    /// [`StoreError::Exists`] if it is already provisioned.
    pub fn add_subscriber(&self, add: NewSubscriber<'_>) -> Result<Subscriber> {
        let new = add.checked()?;
        let NewSubscriber { number, realm, mac, home, .. } = add;
        let Subscriber { ha1_md5, ha1_sha256, ha1_sha512_256, .. } = &new;
        let now = now_i64();
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO subscribers (number, realm, ha1_md5, ha1_sha256, ha1_sha512_256, mac, home, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        )?;
        let mac_text = mac.map(|m| m.to_string());
        match stmt.execute((number, realm, ha1_md5, ha1_sha256, ha1_sha512_256, &mac_text, home, now)) {
            Ok(_) => {}
            Err(e) if extended_code(&e) == Some(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
                return Err(StoreError::Exists(number.to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(new)
    }

    /// Runs `f` in one write transaction: committed when it returns `Ok`,
    /// rolled back when it fails, so a batch (`switch subscriber import`) is
    /// all or nothing and costs one commit instead of one per row. `f` must
    /// not start a transaction of its own (`update_subscriber` does).
    pub fn transaction<T, E: From<StoreError>>(&self, f: impl FnOnce(&Store) -> std::result::Result<T, E>) -> std::result::Result<T, E> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let value = f(self)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Applies `update` to `number` and returns the subscriber as it now is.
    /// A new realm without a new password is refused (the stored HA1s could
    /// not be recomputed); the same realm again is accepted as no change.
    pub fn update_subscriber(&self, number: &str, update: SubscriberUpdate) -> Result<Subscriber> {
        validate_update(number, &update)?;
        // IMMEDIATE: take the write lock before reading, so a concurrent
        // writer cannot slip in between the read and the write.
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let mut sub = get(&tx, number)?.ok_or_else(|| StoreError::NotFound(number.to_owned()))?;
        apply_update(&mut sub, update)?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE subscribers SET realm = ?2, ha1_md5 = ?3, ha1_sha256 = ?4, ha1_sha512_256 = ?5,
                        mac = ?6, home = ?7, updated_at = ?8
                 WHERE number = ?1",
            )?;
            let mac_text = sub.mac.map(|m| m.to_string());
            stmt.execute((number, &sub.realm, &sub.ha1_md5, &sub.ha1_sha256, &sub.ha1_sha512_256, &mac_text, &sub.home, now_i64()))?;
        }
        tx.commit()?;
        Ok(sub)
    }

    /// Deprovisions `number`; its RL record goes with it.
    pub fn remove_subscriber(&self, number: &str) -> Result<()> {
        let mut stmt = self.conn.prepare_cached("DELETE FROM subscribers WHERE number = ?1")?;
        match stmt.execute([number])? {
            0 => Err(StoreError::NotFound(number.to_owned())),
            _ => Ok(()),
        }
    }

    /// The subscriber provisioned as `number`, if any.
    pub fn subscriber(&self, number: &str) -> Result<Option<Subscriber>> {
        get(&self.conn, number)
    }

    /// Every subscriber, ordered by number.
    pub fn subscribers(&self) -> Result<Vec<Subscriber>> {
        let mut stmt = self.conn.prepare_cached(SELECT_ALL)?;
        let rows = stmt.query_and_then([], from_row)?;
        rows.collect()
    }
}

/// A number to provision: its password becomes HA1s and is not kept.
#[derive(Debug, Clone, Copy)]
pub struct NewSubscriber<'a> {
    pub number: &'a str,
    pub password: &'a str,
    pub realm: &'a str,
    /// The one device allowed to register it, if pinned.
    pub mac: Option<MacAddr>,
    /// Its provisioned home location (a SIP URI).
    pub home: Option<&'a str>,
}

impl<'a> NewSubscriber<'a> {
    /// `number` with `password` in `realm`, no MAC pinned, no home.
    pub fn new(number: &'a str, password: &'a str, realm: &'a str) -> Self {
        NewSubscriber { number, password, realm, mac: None, home: None }
    }

    /// The subscriber to store, checked, with its HA1s (both backends).
    pub(super) fn checked(&self) -> Result<Subscriber> {
        let NewSubscriber { number, password, realm, mac, home } = *self;
        validate::number(number)?;
        validate::password(password)?;
        validate::realm(realm)?;
        if let Some(home) = home {
            validate::home(home)?;
        }
        let [ha1_md5, ha1_sha256, ha1_sha512_256] = ha1s(number, realm, password);
        Ok(Subscriber {
            number: number.to_owned(),
            realm: realm.to_owned(),
            ha1_md5,
            ha1_sha256,
            ha1_sha512_256,
            mac,
            home: home.map(str::to_owned),
        })
    }
}

/// Checks an update's values before anything is read (both backends).
pub(super) fn validate_update(number: &str, update: &SubscriberUpdate) -> Result<()> {
    validate::number(number)?;
    if let Some(password) = &update.password {
        validate::password(password)?;
    }
    if let Some(realm) = &update.realm {
        validate::realm(realm)?;
    }
    if let Some(Some(home)) = &update.home {
        validate::home(home)?;
    }
    Ok(())
}

/// `update` applied to the subscriber as stored (both backends). A new realm
/// without a new password is refused; the same realm again is no change.
pub(super) fn apply_update(sub: &mut Subscriber, update: SubscriberUpdate) -> Result<()> {
    let realm_changes = update.realm.as_ref().is_some_and(|r| *r != sub.realm);
    match (&update.password, update.realm) {
        (None, Some(_)) if realm_changes => {
            return Err(StoreError::Invalid(format!(
                "changing the realm of {} needs a new password (the stored HA1s depend on the realm)",
                sub.number
            )));
        }
        (Some(password), realm) => {
            if let Some(realm) = realm {
                sub.realm = realm;
            }
            [sub.ha1_md5, sub.ha1_sha256, sub.ha1_sha512_256] = ha1s(&sub.number, &sub.realm, password);
        }
        (None, _) => {}
    }
    if let Some(mac) = update.mac {
        sub.mac = mac;
    }
    if let Some(home) = update.home {
        sub.home = home;
    }
    Ok(())
}

fn get(conn: &rusqlite::Connection, number: &str) -> Result<Option<Subscriber>> {
    let mut stmt = conn.prepare_cached(SELECT_ONE)?;
    let mut rows = stmt.query([number])?;
    rows.next()?.map(from_row).transpose()
}
