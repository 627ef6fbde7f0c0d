//! `switch subscriber add|set|remove|list`.

use super::StoreArgs;
use super::table;
use anyhow::{Context, Result, bail};
use sipcore::headers::MacAddr;
use std::io::Read;
use std::path::PathBuf;
use switch::admin::view::{self, SubscriberView};
use switch::defaults::DEFAULT_DOMAIN;
use switch::store::{NewSubscriber, StoreError, SubscriberUpdate, validate};

/// The environment variable a password may come from, to keep it out of argv.
pub(crate) const PASSWORD_ENV: &str = "SWITCH_PASSWORD";

#[derive(clap::Subcommand, Debug)]
pub(crate) enum SubscriberCommand {
    /// Provision a number.
    Add(AddArgs),
    /// Change a provisioned number's password, realm, MAC binding or home.
    Set(SetArgs),
    /// Deprovision a number (its registration goes too).
    Remove(RemoveArgs),
    /// List provisioned numbers (never their credentials).
    List(ListArgs),
    /// Provision many numbers from a file, all or nothing (one transaction).
    ///
    /// FILE has one `NUMBER;PASSWORD` per line (the password is everything after
    /// the first ';'); empty lines and lines starting with '#' are skipped. If any
    /// line is bad or names a number already provisioned, nothing is imported
    /// and the error names the line. Use '-' to read standard input.
    Import(ImportArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct AddArgs {
    /// The number (DN): digits, '+', '*', '#' or letters, '.', '_', '-'; at most 32.
    number: String,
    /// The SIP digest password. Default: the SWITCH_PASSWORD environment variable.
    #[arg(long, value_name = "PW")]
    password: Option<String>,
    /// Only the device with this MAC (X-MAC) may register the number.
    #[arg(long, value_name = "MAC")]
    mac: Option<String>,
    /// Where calls go when the number is not reachable (sip:, sips: or tel: URI).
    #[arg(long, value_name = "SIP-URI")]
    home: Option<String>,
    /// The digest realm [default: the switch's domain: --config's, else the one
    /// `switch run` last served on this data dir, else switch.local].
    #[arg(long, value_name = "REALM")]
    realm: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args, Debug)]
pub(crate) struct SetArgs {
    number: String,
    /// A new password.
    #[arg(long, value_name = "PW", conflicts_with = "password_env")]
    password: Option<String>,
    /// Take the new password from the SWITCH_PASSWORD environment variable.
    #[arg(long)]
    password_env: bool,
    /// Bind the number to this MAC.
    #[arg(long, value_name = "MAC", conflicts_with = "no_mac")]
    mac: Option<String>,
    /// Remove the MAC binding.
    #[arg(long)]
    no_mac: bool,
    /// A new home location (sip:, sips: or tel: URI).
    #[arg(long, value_name = "URI", conflicts_with = "no_home")]
    home: Option<String>,
    /// Remove the home location.
    #[arg(long)]
    no_home: bool,
    /// A new realm; needs a new password too (HA1 depends on the realm).
    #[arg(long, value_name = "R")]
    realm: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args, Debug)]
pub(crate) struct RemoveArgs {
    number: String,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ImportArgs {
    /// `NUMBER;PASSWORD` lines; '-' for standard input.
    file: PathBuf,
    /// The digest realm of every imported number [default: as for `add`].
    #[arg(long, value_name = "REALM")]
    realm: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ListArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub(crate) fn run(cmd: SubscriberCommand) -> Result<()> {
    match cmd {
        SubscriberCommand::Add(a) => add(a),
        SubscriberCommand::Set(a) => set(a),
        SubscriberCommand::Remove(a) => remove(a),
        SubscriberCommand::List(a) => list(a),
        SubscriberCommand::Import(a) => import(a),
    }
}

fn parse_mac(s: &str) -> Result<MacAddr> {
    Ok(view::parse_mac(s)?)
}

fn password_from_env() -> Result<String> {
    match std::env::var(PASSWORD_ENV) {
        Ok(pw) => Ok(pw),
        Err(std::env::VarError::NotPresent) => bail!("no password: give --password PW or set {PASSWORD_ENV}"),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{PASSWORD_ENV} is not valid UTF-8"),
    }
}

fn add(a: AddArgs) -> Result<()> {
    let mac = a.mac.as_deref().map(parse_mac).transpose()?;
    let password = match a.password {
        Some(pw) => pw,
        None => password_from_env()?,
    };
    let realm = realm_for(&a.store, a.realm)?;
    let store = a.store.open()?;
    let sub = store.add_subscriber(NewSubscriber { mac, home: a.home.as_deref(), ..NewSubscriber::new(&a.number, &password, &realm) })?;
    println!("added {} (realm {})", sub.number, sub.realm);
    Ok(())
}

fn set(a: SetArgs) -> Result<()> {
    let password = match (a.password, a.password_env) {
        (Some(pw), _) => Some(pw),
        (None, true) => Some(password_from_env()?),
        (None, false) => None,
    };
    let mac = match (a.mac, a.no_mac) {
        (Some(m), _) => Some(Some(parse_mac(&m)?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let home = match (a.home, a.no_home) {
        (Some(h), _) => Some(Some(h)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    if let Some(realm) = &a.realm {
        warn_if_not_served(&a.store, realm)?;
    }
    let update = SubscriberUpdate { password, realm: a.realm, mac, home };
    if update.is_empty() {
        bail!("nothing to change: give --password, --password-env, --realm, --mac/--no-mac or --home/--no-home");
    }
    let store = a.store.open_existing()?;
    let sub = store.update_subscriber(&a.number, update)?;
    println!("updated {}", sub.number);
    Ok(())
}

fn remove(a: RemoveArgs) -> Result<()> {
    let store = a.store.open_existing()?;
    store.remove_subscriber(&a.number)?;
    println!("removed {}", a.number);
    Ok(())
}

fn import(a: ImportArgs) -> Result<()> {
    let mut text = String::new();
    if a.file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).context("reading standard input")?;
    } else {
        text = std::fs::read_to_string(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    }
    let realm = realm_for(&a.store, a.realm)?;
    let store = a.store.open()?;
    let entries = import_entries(&text)?;
    // Everything is checked before anything is written: with Redis the
    // writes are not one transaction, so a failure must come first.
    let mut seen = std::collections::HashSet::new();
    for (line, number, password) in &entries {
        let mut check = || -> switch::store::Result<()> {
            validate::number(number)?;
            validate::password(password)?;
            validate::realm(&realm)?;
            if !seen.insert(*number) || store.subscriber(number)?.is_some() {
                return Err(StoreError::Exists((*number).to_owned()));
            }
            Ok(())
        };
        check().with_context(|| format!("line {line}"))?;
    }
    let count = store.transaction(|store| -> Result<usize> {
        for (line, number, password) in &entries {
            store.add_subscriber(NewSubscriber::new(number, password, &realm)).with_context(|| format!("line {line}"))?;
        }
        Ok(entries.len())
    })?;
    println!("imported {count} subscribers (realm {realm})");
    Ok(())
}

/// The realm to provision for: the one asked for (warned about when the switch
/// serves another domain), else the switch's domain, else the default.
fn realm_for(store: &StoreArgs, asked: Option<String>) -> Result<String> {
    match asked {
        Some(realm) => {
            warn_if_not_served(store, &realm)?;
            Ok(realm)
        }
        None => Ok(store.dir.site()?.domain.map_or_else(|| DEFAULT_DOMAIN.to_owned(), |(domain, _)| domain)),
    }
}

/// A realm the switch does not serve provisions a number whose phone is refused
/// (403) on every attempt: say so, but do it (the switch may be about to move).
fn warn_if_not_served(store: &StoreArgs, realm: &str) -> Result<()> {
    if let Some((domain, from)) = store.dir.site()?.domain
        && let Some(warning) = view::realm_warning(realm, &domain, &from)
    {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

/// The `(line number, number, password)` entries of an import file.
fn import_entries(text: &str) -> Result<Vec<(usize, &str, &str)>> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((number, password)) = line.split_once(';') else {
            bail!("line {}: expected NUMBER;PASSWORD", i + 1);
        };
        entries.push((i + 1, number.trim(), password));
    }
    Ok(entries)
}

fn list(a: ListArgs) -> Result<()> {
    let store = a.store.open_existing()?;
    let subs = store.subscribers()?;
    if a.json {
        let views: Vec<SubscriberView<'_>> = subs.iter().map(SubscriberView::new).collect();
        println!("{}", serde_json::to_string_pretty(&views).context("encoding JSON")?);
    } else {
        let rows: Vec<Vec<String>> =
            subs.iter().map(|s| vec![s.number.clone(), s.realm.clone(), table::opt(s.mac), table::opt(s.home.as_deref())]).collect();
        print!("{}", table::render(&["NUMBER", "REALM", "MAC", "HOME"], &rows));
    }
    Ok(())
}
