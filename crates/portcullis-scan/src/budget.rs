//! A memory budget shared by every scan of a process. Per-file bounds alone let several
//! scans at once add up to far more memory than any one may take, so each scan reserves
//! bytes here before it reads a file into memory or grows its inventory.
//!
//! A scan that holds nothing yet waits its turn (first come, first served). A scan that
//! already holds memory is served first, since finishing it frees what it holds; it may
//! wait as long as some other holder can still make progress. When every holder waits
//! and no waiting request fits, nobody would ever release anything: the scan asking
//! last gives up with [`LimitError::BudgetBusy`] and frees what it holds.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::LimitError;
use crate::inventory::{FileContent, LayerInventory, Package};

/// The memory all scans of a process may hold together. Clones share the budget.
#[derive(Clone)]
pub struct MemoryBudget {
    shared: Arc<Shared>,
}

struct Shared {
    total: u64,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    used: u64,
    /// Most ever held at once.
    peak: u64,
    accounts: HashMap<u64, Account>,
    next_account: u64,
    next_ticket: u64,
    /// Tickets of waiting scans that hold nothing, oldest first.
    queue: VecDeque<u64>,
}

#[derive(Default)]
struct Account {
    held: u64,
    /// Threads working for the scan (see [`ScanMemory::worker`]).
    workers: u32,
    /// Sizes that its waiting threads ask for.
    wants: Vec<u64>,
    /// Chosen to give up: every further request fails until the scan ends.
    doomed: bool,
}

impl Account {
    /// Whether one of its threads still runs and so may release memory.
    fn running(&self) -> bool {
        self.wants.len() < self.workers.max(1) as usize
    }
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("total", &self.shared.total)
            .field("used", &self.used())
            .finish()
    }
}

impl MemoryBudget {
    /// The server's budget unless configured otherwise (`scan_memory_budget_mb`).
    pub const DEFAULT_MIB: u64 = 512;

    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Self {
        MemoryBudget {
            shared: Arc::new(Shared {
                total: bytes,
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
            }),
        }
    }

    /// A budget of `mib` mebibytes.
    pub fn mib(mib: u64) -> Self {
        Self::new(mib.saturating_mul(1 << 20))
    }

    /// No budget (one-off scans from the command line); the bounds of
    /// [`crate::Limits`] still apply.
    pub fn unlimited() -> Self {
        Self::new(u64::MAX)
    }

    /// Size of the budget in bytes.
    pub fn total(&self) -> u64 {
        self.shared.total
    }

    /// Bytes held by scans now.
    pub fn used(&self) -> u64 {
        self.shared.lock().used
    }

    /// Most bytes ever held at once.
    pub fn peak(&self) -> u64 {
        self.shared.lock().peak
    }

    /// The account of one scan; what it holds is given back when it is dropped.
    pub fn account(&self) -> ScanMemory {
        let mut st = self.shared.lock();
        let id = st.next_account;
        st.next_account += 1;
        st.accounts.insert(id, Account::default());
        ScanMemory {
            budget: self.clone(),
            id,
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn account(&mut self, id: u64) -> &mut Account {
        self.accounts.entry(id).or_default()
    }

    /// No holder can make progress and no waiting request fits: nothing will ever be
    /// released.
    fn deadlocked(&self, total: u64) -> bool {
        let progress = self.accounts.values().any(|a| {
            (a.held > 0 && (a.doomed || a.running()))
                || a.wants
                    .iter()
                    .any(|w| self.used.saturating_add(*w) <= total)
        });
        !progress
    }
}

/// What one scan holds of a [`MemoryBudget`]. Shared by the scan's threads.
pub struct ScanMemory {
    budget: MemoryBudget,
    id: u64,
}

impl std::fmt::Debug for ScanMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanMemory")
            .field("held", &self.held())
            .finish()
    }
}

/// Bytes reserved for a while (a file being read and parsed); given back on drop.
#[must_use = "the reservation is given back when dropped"]
pub struct Reservation<'a> {
    memory: &'a ScanMemory,
    bytes: u64,
}

impl Reservation<'_> {
    /// Moves `bytes` of this reservation to the scan's lasting charges, if it has them.
    pub fn keep(&mut self, bytes: u64) -> bool {
        if bytes > self.bytes {
            return false;
        }
        self.bytes -= bytes;
        true
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.memory.release(self.bytes);
    }
}

/// A thread working for a scan, counted so that the budget can tell a scan whose
/// threads all wait from one that will still release memory.
pub struct Worker<'a> {
    memory: &'a ScanMemory,
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        let shared = &self.memory.budget.shared;
        let mut st = shared.lock();
        let a = st.account(self.memory.id);
        a.workers = a.workers.saturating_sub(1);
        drop(st);
        shared.changed.notify_all();
    }
}

impl ScanMemory {
    /// The budget this account draws from.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Bytes this scan holds.
    pub fn held(&self) -> u64 {
        let mut st = self.budget.shared.lock();
        st.account(self.id).held
    }

    /// Bytes this scan could hold at most: the budget less what it holds.
    pub fn room(&self) -> u64 {
        self.budget.total().saturating_sub(self.held())
    }

    /// Registers the calling thread as working for the scan until the guard is dropped.
    /// A scan used from one thread only needs none.
    pub fn worker(&self) -> Worker<'_> {
        self.budget.shared.lock().account(self.id).workers += 1;
        Worker { memory: self }
    }

    /// Reserves `bytes` until the returned guard is dropped, waiting while other scans
    /// hold the budget.
    pub fn reserve(&self, bytes: u64) -> Result<Reservation<'_>, LimitError> {
        self.acquire(bytes)?;
        Ok(Reservation {
            memory: self,
            bytes,
        })
    }

    /// Reserves `bytes` for as long as the scan lasts (its inventory).
    pub fn charge(&self, bytes: u64) -> Result<(), LimitError> {
        self.acquire(bytes)
    }

    fn release(&self, bytes: u64) {
        let shared = &self.budget.shared;
        let mut st = shared.lock();
        st.used = st.used.saturating_sub(bytes);
        let a = st.account(self.id);
        a.held = a.held.saturating_sub(bytes);
        drop(st);
        shared.changed.notify_all();
    }

    fn acquire(&self, bytes: u64) -> Result<(), LimitError> {
        if bytes == 0 {
            return Ok(());
        }
        let shared = &self.budget.shared;
        let total = shared.total;
        let busy = || LimitError::BudgetBusy { budget: total };
        let mut st = shared.lock();
        let held = st.account(self.id).held;
        if bytes > total.saturating_sub(held) {
            return Err(LimitError::OverBudget {
                needed: held.saturating_add(bytes),
                budget: total,
            });
        }
        let mut ticket = None;
        st.account(self.id).wants.push(bytes);
        let outcome = loop {
            let a = &st.accounts[&self.id];
            if a.doomed {
                break Err(busy());
            }
            let holder = a.held > 0;
            let fits = st.used.saturating_add(bytes) <= total;
            let turn = holder || {
                let t = *ticket.get_or_insert_with(|| {
                    let t = st.next_ticket;
                    st.next_ticket += 1;
                    st.queue.push_back(t);
                    t
                });
                let holder_waits = st
                    .accounts
                    .values()
                    .any(|a| a.held > 0 && !a.wants.is_empty());
                !holder_waits && st.queue.front() == Some(&t)
            };
            if fits && turn {
                break Ok(());
            }
            if holder && st.deadlocked(total) {
                st.account(self.id).doomed = true;
                break Err(busy());
            }
            st = shared.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        };
        if let Some(t) = ticket {
            st.queue.retain(|q| *q != t);
        }
        let a = st.account(self.id);
        if let Some(i) = a.wants.iter().position(|w| *w == bytes) {
            a.wants.swap_remove(i);
        }
        if outcome.is_ok() {
            a.held += bytes;
            st.used += bytes;
            st.peak = st.peak.max(st.used);
        }
        drop(st);
        shared.changed.notify_all();
        outcome
    }
}

impl Drop for ScanMemory {
    fn drop(&mut self) {
        let shared = &self.budget.shared;
        let mut st = shared.lock();
        if let Some(a) = st.accounts.remove(&self.id) {
            st.used = st.used.saturating_sub(a.held);
        }
        drop(st);
        shared.changed.notify_all();
    }
}

/// Bytes of heap and struct one string takes, allocator overhead included.
pub(crate) fn string_cost(s: &str) -> u64 {
    s.len() as u64 + 32
}

/// What a package costs while a scan holds it: the layer inventory's copy, the image
/// inventory's copy (with its path and purl) and the report built from it.
pub(crate) fn package_cost(p: &Package) -> u64 {
    let strings = [&p.source_name, &p.source_version, &p.arch, &p.license]
        .into_iter()
        .flatten()
        .map(|s| string_cost(s))
        .sum::<u64>()
        + string_cost(&p.name)
        + string_cost(&p.version);
    3 * (std::mem::size_of::<Package>() as u64 + strings)
}

/// Most that the packages parsed from a file of `size` bytes can cost: no package is
/// listed in fewer than 16 bytes, and no more than `max_packages` are, and their strings
/// (copied into source fields, purls and reports) come from the file.
pub(crate) fn packages_bound(size: u64, max_packages: u64) -> u64 {
    let fixed = 3 * (std::mem::size_of::<Package>() as u64 + 6 * string_cost(""));
    (size / 16 + 1).min(max_packages).saturating_mul(fixed) + size.saturating_mul(6)
}

/// What a whole layer inventory costs (for one taken from the cache).
pub(crate) fn inventory_cost(inv: &LayerInventory) -> u64 {
    let strings = |v: &[String]| v.iter().map(|s| 2 * string_cost(s)).sum::<u64>();
    let files = inv
        .files
        .iter()
        .map(|f| {
            2 * string_cost(&f.path)
                + match &f.content {
                    FileContent::Packages { packages, .. } => {
                        packages.iter().map(package_cost).sum()
                    }
                    FileContent::OsFile { text } => string_cost(text),
                    FileContent::Link { target, .. } => string_cost(target),
                    FileContent::UnsupportedDb { reason, .. } => string_cost(reason),
                }
        })
        .sum::<u64>();
    files + strings(&inv.whiteouts) + strings(&inv.opaque_dirs) + strings(&inv.notes)
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
