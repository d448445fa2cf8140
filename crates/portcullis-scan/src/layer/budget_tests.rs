//! Layers read under the bounds and the memory budget, with hostile inputs built here.

use std::sync::Barrier;

use super::*;
use crate::budget::MemoryBudget;

/// A tar layer holding one file.
fn layer_with(path: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, path, data).unwrap();
    b.into_inner().unwrap()
}

fn dpkg_status(packages: u64) -> String {
    (0..packages)
        .map(|i| format!("Package: p{i}\nStatus: install ok installed\nVersion: 1.{i}\n\n"))
        .collect()
}

fn read(layer: &[u8], limits: &Limits, memory: &ScanMemory) -> Result<LayerInventory, ScanError> {
    inventory_of_layer_within(layer, None, None, limits, memory)
}

#[test]
fn status_file_over_max_packages_stops_the_scan() {
    let limits = Limits {
        max_packages: 2_000,
        ..Limits::default()
    };
    let layer = layer_with("var/lib/dpkg/status", dpkg_status(2_001).as_bytes());
    let budget = MemoryBudget::mib(64);
    let memory = budget.account();
    let err = read(&layer, &limits, &memory).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dpkg status file var/lib/dpkg/status has more than 2000 packages (limit max_packages)"
    );
    assert!(matches!(
        err.limit(),
        Some(LimitError::TooManyPackages { .. })
    ));
    drop(memory);
    assert_eq!(budget.used(), 0);

    let fits = layer_with("var/lib/dpkg/status", dpkg_status(2_000).as_bytes());
    assert_eq!(
        read(&fits, &limits, &budget.account()).unwrap().files.len(),
        1
    );
}

#[test]
fn packages_of_a_layer_are_bounded_together() {
    let limits = Limits {
        max_packages: 100,
        ..Limits::default()
    };
    let mut b = tar::Builder::new(Vec::new());
    for name in ["a", "b"] {
        let data = dpkg_status(60);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let path = format!("var/lib/dpkg/status.d/{name}");
        b.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    let layer = b.into_inner().unwrap();
    let err = read(&layer, &limits, &MemoryBudget::unlimited().account()).unwrap_err();
    assert_eq!(
        err.limit(),
        Some(&LimitError::TooManyPackages {
            what: "layer".into(),
            limit: 100
        })
    );
}

#[test]
fn huge_single_line_is_refused() {
    let limits = Limits::default();
    let mut status = dpkg_status(3);
    status.push_str("Package: big\nVersion: ");
    status.push_str(&"9".repeat(limits.max_line_len + 1));
    status.push('\n');
    let layer = layer_with("var/lib/dpkg/status", status.as_bytes());
    let err = read(&layer, &limits, &MemoryBudget::unlimited().account()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "var/lib/dpkg/status has a line or value longer than {} bytes (limit max_line_len)",
            limits.max_line_len
        )
    );
}

#[test]
fn package_database_over_its_size_bound_is_refused_before_reading() {
    let limits = Limits {
        max_package_db_size: 1 << 10,
        ..Limits::default()
    };
    let layer = layer_with("lib/apk/db/installed", &[b'x'; 2 << 10]);
    let budget = MemoryBudget::mib(1);
    let err = read(&layer, &limits, &budget.account()).unwrap_err();
    assert!(
        err.to_string().ends_with("(limit max_package_db_size)"),
        "{err}"
    );
    assert_eq!(budget.peak(), 0);
}

#[test]
fn a_file_larger_than_the_whole_budget_ends_the_scan() {
    let status = dpkg_status(5_000);
    let layer = layer_with("var/lib/dpkg/status", status.as_bytes());
    let budget = MemoryBudget::new(status.len() as u64);
    let err = read(&layer, &Limits::default(), &budget.account()).unwrap_err();
    assert!(
        matches!(err.limit(), Some(LimitError::OverBudget { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("scan_memory_budget_mb"), "{err}");
}

/// Two scans of a layer that each need more than half of the budget: the second waits
/// until the first has parsed its file instead of both holding their files at once.
#[test]
fn concurrent_scans_share_the_budget_by_waiting() {
    let limits = Limits::default();
    let layer = layer_with("var/lib/dpkg/status", dpkg_status(20_000).as_bytes());
    let alone = MemoryBudget::unlimited();
    read(&layer, &limits, &alone.account()).unwrap();
    let one_scan = alone.peak();

    let budget = MemoryBudget::new(one_scan + one_scan / 2);
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        let scans: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let memory = budget.account();
                    start.wait();
                    read(&layer, &limits, &memory).map(|inv| inv.files.len())
                })
            })
            .collect();
        for scan in scans {
            assert_eq!(scan.join().unwrap().unwrap(), 1);
        }
    });
    assert!(budget.peak() <= budget.total());
    assert!(budget.peak() >= one_scan);
    assert_eq!(budget.used(), 0);
}
