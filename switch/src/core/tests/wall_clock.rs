//! The wall clock stepped forward and back mid-run (NTP, a VM resumed): no
//! binding expires early or late, since every deadline is on the monotonic
//! clock; what is stored, and what `switch registrations` prints from it,
//! follows the new wall clock, since it is computed through the store's anchor.

use super::*;
use crate::location::Cause;
use crate::store::{NewSubscriber, Store, WallClock};

/// The wall clock at the start, in Unix milliseconds.
const U0: u64 = 1_800_000_000_000;
const HOUR_MS: u64 = 3_600_000;

/// Stores the registration changes in `out` as the driver does (through
/// `clock`), and returns them.
fn store_changes(store: &Store, clock: &WallClock, out: &[(Instant, Output)]) -> Vec<(Instant, Change)> {
    let all = changes(out);
    for (_, change) in &all {
        match change {
            Change::Upserted { record, .. } | Change::Challenged { record, .. } => {
                store.put_record(&clock.stored_record(record.clone())).unwrap()
            }
            Change::Removed { record, .. } => assert!(store.delete_record(&record.number).unwrap()),
            Change::CloseFlow { .. } | Change::ForgetFlow { .. } => {}
        }
    }
    all
}

/// What `switch registrations` would print as time left, `wall_ms` being the wall clock then.
fn printed_time_left(store: &Store, wall_ms: u64) -> u64 {
    store.record("1001").unwrap().expect("stored").time_left(wall_ms / 1000)
}

#[test]
fn a_stepped_wall_clock_moves_no_deadline_and_stored_times_follow_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.add_subscriber(NewSubscriber { home: Some(HOME), ..NewSubscriber::new("1001", PASSWORD, REALM) }).unwrap();
    // Keep-alives are not this test's subject: the flow outlives the binding.
    let mut lab = Lab::with_flow_timer(600);
    let mut clock = WallClock::new(lab.t0, U0);

    // t = 1 s: registered for 600 s.
    lab.register(lab.at(1, 0), 600);
    let stored = store_changes(&store, &clock, &lab.take());
    assert!(matches!(&stored[..], [(_, Change::Upserted { cause: Cause::Registered, .. })]), "{stored:#?}");
    assert_eq!(store.record("1001").unwrap().unwrap().expires_at, U0 / 1000 + 601);
    assert_eq!(printed_time_left(&store, U0 + 1_000), 600);

    // t = 100 s: the wall clock jumps an hour ahead. By the wall clock the
    // binding is long past its TTL; by the monotonic clock it has 501 s left.
    assert_eq!(clock.resync_to(lab.at(100, 0), U0 + 100_000 + HOUR_MS), Some(HOUR_MS as i64));
    lab.advance_to(lab.at(100, 0));
    assert!(changes(&lab.take()).is_empty(), "nothing expires early");
    assert!(lab.core.table().reach("1001", lab.at(100, 0)).is_ok());

    // t = 200 s: a refresh for 600 s is stored in the new wall clock's terms.
    lab.register(lab.at(200, 0), 600);
    let stored = store_changes(&store, &clock, &lab.take());
    assert!(matches!(&stored[..], [(_, Change::Upserted { record, cause: Cause::Refreshed })] if record.expires_at == lab.at(800, 0)));
    assert_eq!(store.record("1001").unwrap().unwrap().expires_at, (U0 + HOUR_MS) / 1000 + 800);
    assert_eq!(printed_time_left(&store, U0 + HOUR_MS + 200_000), 600);
    // A restart under the same wall clock reads it back to the same instant.
    let stepped = clock;
    assert_eq!(stepped.live_record(store.record("1001").unwrap().unwrap()).expires_at, lab.at(800, 0));

    // t = 300 s: the wall clock jumps back two hours. Nothing freezes either.
    assert_eq!(clock.resync_to(lab.at(300, 0), U0 + 300_000 - HOUR_MS), Some(-2 * HOUR_MS as i64));
    lab.advance_to(lab.at(300, 0));
    assert!(changes(&lab.take()).is_empty());

    // t = 400 s: another refresh, stored in the newest wall clock's terms.
    lab.register(lab.at(400, 0), 600);
    store_changes(&store, &clock, &lab.take());
    assert_eq!(store.record("1001").unwrap().unwrap().expires_at, (U0 - HOUR_MS) / 1000 + 1_000);
    assert_eq!(printed_time_left(&store, U0 - HOUR_MS + 400_000), 600);

    // The binding expires at exactly 400 + 600 s on the monotonic clock.
    lab.advance_to(lab.at(1_000, 0) - Duration::from_millis(1));
    assert!(changes(&lab.take()).is_empty(), "not a millisecond early");
    assert!(lab.core.table().reach("1001", lab.at(999, 999)).is_ok());
    lab.advance_to(lab.at(1_000, 0));
    let gone = store_changes(&store, &clock, &lab.take());
    assert!(matches!(gone.first(), Some((t, Change::Removed { cause: Cause::TtlExpired, .. })) if *t == lab.at(1_000, 0)), "{gone:#?}");
    assert_eq!(store.record("1001").unwrap(), None);
}
