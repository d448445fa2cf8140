use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::*;

#[test]
fn a_scan_that_holds_nothing_waits_its_turn() {
    let budget = MemoryBudget::new(100);
    let first = budget.account();
    let held = first.reserve(70).unwrap();
    let (tx, rx) = mpsc::channel();
    let b = budget.clone();
    let waiter = thread::spawn(move || {
        let second = b.account();
        let r = second.reserve(70).map(|_| b.used());
        tx.send(()).unwrap();
        r
    });
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(budget.used(), 70);
    drop(held);
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(waiter.join().unwrap(), Ok(70));
    assert_eq!(budget.peak(), 70);
    drop(first);
    assert_eq!(budget.used(), 0);
}

#[test]
fn more_than_the_whole_budget_is_refused_at_once() {
    let budget = MemoryBudget::new(100);
    let scan = budget.account();
    scan.charge(40).unwrap();
    let err = scan.reserve(61).err().unwrap();
    assert_eq!(
        err,
        LimitError::OverBudget {
            needed: 101,
            budget: 100
        }
    );
    assert!(err.to_string().contains("scan_memory_budget_mb"), "{err}");
    drop(scan);
    assert_eq!(budget.used(), 0);
}

/// Two scans each hold part of the budget and both want more than is left: the second
/// to ask gives up, and the first then gets what it asked for.
#[test]
fn holders_that_would_wait_for_each_other_do_not_deadlock() {
    let budget = MemoryBudget::new(100);
    let a = budget.account();
    a.charge(60).unwrap();
    let b = budget.clone();
    let (tx, rx) = mpsc::channel();
    let other = thread::spawn(move || {
        let mine = b.account();
        // Reserved through the fresh-scan queue: 60 held by `a` leaves room for 30.
        mine.charge(30).unwrap();
        tx.send(()).unwrap();
        thread::sleep(Duration::from_millis(100));
        mine.reserve(30).map(|_| ())
    });
    rx.recv().unwrap();
    let mine = a.reserve(30).map(|_| ());
    // Gives back what `a` holds, which the other scan waits for when `a` gave up.
    drop(a);
    let theirs = other.join().unwrap();
    let busy: Vec<_> = [&mine, &theirs]
        .into_iter()
        .filter(|r| r.is_err())
        .collect();
    assert_eq!(busy.len(), 1, "{mine:?} {theirs:?}");
    assert!(matches!(busy[0], Err(LimitError::BudgetBusy { .. })));
    assert_eq!(budget.used(), 0);
}

#[test]
fn unlimited_never_waits() {
    let budget = MemoryBudget::unlimited();
    let scan = budget.account();
    scan.charge(u64::MAX / 2).unwrap();
    let _r = scan.reserve(1 << 40).unwrap();
}
