//! `portcullis vulndb …`: import, update and status of the vulnerability database.

use crate::import::{ImportPhase, ImportProgress, ImportSummary, import};
use crate::store::reader::VulnDb;
use crate::update::{DEFAULT_BASE_URL, DEFAULT_ECOSYSTEMS, update};
use crate::{DbError, db_dir};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Subcommands of `portcullis vulndb`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum VulndbCommand {
    /// Import osv.dev `all.zip` archives, directories of OSV JSON/YAML files, or single
    /// files, offline. Merges with the existing database (newer records win).
    Import {
        /// Archives, directories or files to import.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Download the per-ecosystem archives and import them.
    Update {
        /// Where `<ecosystem>/all.zip` is downloaded from (a mirror, for instance).
        // The binary gives it an environment variable (declared with its settings).
        #[arg(long, default_value = DEFAULT_BASE_URL)]
        base_url: String,
        /// Ecosystems to download, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_ECOSYSTEMS.iter().map(|s| s.to_string()))]
        ecosystems: Vec<String>,
    },
    /// Show record counts per ecosystem and when the database was last written.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `vulndb` subcommand against `<data_dir>/vulndb`.
pub async fn run(cmd: VulndbCommand, data_dir: &Path) -> anyhow::Result<()> {
    let dir = db_dir(data_dir);
    match cmd {
        VulndbCommand::Import { paths } => {
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            let style = ProgressStyle::with_template(
                "{spinner} {msg} {pos} records [{elapsed_precise}] ({per_sec})",
            )
            .context("progress bar template")?;
            bar.set_style(style);
            let summary = {
                let bar = bar.clone();
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || {
                    import(&dir, &paths, &|p: ImportProgress| show(&bar, &p))
                })
                .await
                .context("import task")??
            };
            bar.finish_and_clear();
            print_summary(&summary);
        }
        VulndbCommand::Update {
            base_url,
            ecosystems,
        } => {
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(format!(
                "downloading {} archives from {base_url} and importing",
                ecosystems.len()
            ));
            let result = update(&dir, &base_url, &ecosystems).await;
            bar.finish_and_clear();
            let summary = result.context("vulnerability database update failed")?;
            print_summary(&summary);
        }
        VulndbCommand::Status { json } => {
            let db = match VulnDb::open(&dir) {
                Ok(db) => db,
                Err(e @ DbError::Missing(_)) if !json => {
                    println!("{e}");
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
            let meta = db.metadata();
            if json {
                let out = serde_json::json!({ "path": dir, "metadata": meta });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", status_table(&dir, meta));
            }
        }
    }
    Ok(())
}

fn show(bar: &ProgressBar, p: &ImportProgress) {
    bar.set_position(p.records_read);
    let msg = match (p.phase, &p.source) {
        (ImportPhase::Loading, _) => "loading existing database".to_string(),
        (ImportPhase::Reading, Some(src)) => format!(
            "reading {}",
            src.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ),
        (ImportPhase::Reading, None) => "reading".to_string(),
        (ImportPhase::Writing, _) => "writing index".to_string(),
        (ImportPhase::Done, _) => "done".to_string(),
    };
    bar.set_message(msg);
}

fn print_summary(s: &ImportSummary) {
    println!(
        "imported {} records from {} files in {:.1?}: {} added, {} updated, {} unchanged, {} invalid",
        s.records_read, s.files, s.elapsed, s.added, s.updated, s.unchanged, s.invalid
    );
    for e in &s.errors {
        println!("  skipped: {e}");
    }
    println!(
        "database now holds {} records (generation {})",
        s.total_records, s.generation
    );
}

fn status_table(dir: &Path, meta: &crate::DbMetadata) -> String {
    use std::fmt::Write;
    let updated = meta
        .updated_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| meta.updated_at.to_string());
    let mut out = String::new();
    let _ = writeln!(out, "database:   {}", dir.display());
    let _ = writeln!(out, "updated:    {updated}");
    let _ = writeln!(out, "generation: {}", meta.generation);
    let _ = writeln!(
        out,
        "records:    {} ({} withdrawn)",
        meta.records, meta.withdrawn
    );
    let width = meta
        .counts
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(9)
        .max(9);
    let _ = writeln!(out, "\n{:<width$}  {:>8}", "ECOSYSTEM", "RECORDS");
    for (eco, n) in &meta.counts {
        let _ = writeln!(out, "{eco:<width$}  {n:>8}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: VulndbCommand,
    }

    #[test]
    fn parses_subcommands_with_defaults() {
        let c = Cli::parse_from(["x", "update"]);
        match c.cmd {
            VulndbCommand::Update {
                base_url,
                ecosystems,
            } => {
                assert!(base_url.starts_with("https://"));
                assert!(ecosystems.iter().any(|e| e == "Debian"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let c = Cli::parse_from(["x", "update", "--ecosystems", "PyPI,Red Hat"]);
        assert!(
            matches!(c.cmd, VulndbCommand::Update { ecosystems, .. } if ecosystems == ["PyPI", "Red Hat"])
        );
        let c = Cli::parse_from(["x", "status", "--json"]);
        assert_eq!(c.cmd, VulndbCommand::Status { json: true });
        assert!(Cli::try_parse_from(["x", "import"]).is_err());
    }

    #[test]
    fn status_table_lists_ecosystems() {
        let meta = crate::DbMetadata {
            generation: 3,
            updated_at: time::macros::datetime!(2026-01-02 03:04:05 UTC),
            counts: [("Debian:12".to_string(), 5u64), ("PyPI".to_string(), 7)].into(),
            records: 13,
            withdrawn: 1,
        };
        let t = status_table(Path::new("/d/vulndb"), &meta);
        assert!(t.contains("updated:    2026-01-02T03:04:05Z"));
        assert!(t.contains("\nDebian:12         5\n"), "{t}");
        assert!(t.contains("records:    13 (1 withdrawn)"));
    }
}
