//! A plain-text table of a scan result for terminals.

use std::fmt::Write;

use crate::matching::{ScanResult, ScanStatus, Vulnerability};
use crate::report::VulnerabilitySummary;

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Renders `result` (already filtered) under a heading naming the image.
pub fn render(title: &str, result: &ScanResult, vulns: &[&Vulnerability]) -> String {
    let mut out = String::new();
    let os = result
        .inventory
        .os
        .as_ref()
        .map_or("unknown OS".to_string(), |o| o.name.clone());
    let _ = writeln!(
        out,
        "{title} ({os}, {} packages)",
        result.inventory.packages.len()
    );
    if let ScanStatus::Unsupported { reason } = &result.status {
        let _ = writeln!(
            out,
            "UNSUPPORTED: {reason}. The absence of findings below does not mean the image is free of vulnerabilities."
        );
    }
    let owned: Vec<Vulnerability> = vulns.iter().map(|v| (*v).clone()).collect();
    let s = VulnerabilitySummary::of(&owned);
    let counts: Vec<String> = s
        .summary
        .iter()
        .rev()
        .map(|(sev, n)| format!("{sev}: {n}"))
        .collect();
    let _ = writeln!(
        out,
        "Total: {} ({}), fixable: {}",
        s.total,
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        },
        s.fixable
    );
    if vulns.is_empty() {
        return out;
    }
    let rows: Vec<[String; 6]> = vulns
        .iter()
        .map(|v| {
            [
                clip(&v.package.package.name, 32),
                v.id.clone(),
                v.severity().to_string(),
                clip(&v.package.package.version, 24),
                clip(v.fixed_version().unwrap_or(""), 24),
                clip(&format!("/{}", v.package.path), 48),
            ]
        })
        .collect();
    let header = [
        "PACKAGE",
        "VULNERABILITY",
        "SEVERITY",
        "INSTALLED",
        "FIXED",
        "PATH",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let _ = write!(l, "{c:<w$}");
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(&header.map(String::from)));
    let _ = writeln!(out, "{}", widths.map(|w| "-".repeat(w)).join("  "));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r));
    }
    out
}
