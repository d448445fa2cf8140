//! `portcullis scan`: scan an OCI image layout or a `docker save` archive from the command
//! line.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use portcullis_types::Severity;

use crate::image::{PlatformFilter, open_path};
use crate::matching::{Advisories, ScanStatus, Vulnerability};
use crate::report::{HarborArtifact, harbor_report, table};
use crate::sbom::{SbomSubject, cyclonedx, spdx};
use crate::scan::{ImageScan, Progress, ScanOptions, scan_image};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// The full scan result (inventory and vulnerabilities).
    Json,
    /// Harbor's vulnerability report (version 1.1).
    Harbor,
    /// SPDX 2.3 JSON.
    Spdx,
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
}

/// Arguments of `portcullis scan`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScanArgs {
    /// OCI image layout directory or `docker save` archive.
    pub target: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Report only these severities (comma-separated, e.g. HIGH,CRITICAL).
    #[arg(long, value_delimiter = ',')]
    pub severity: Vec<Severity>,
    /// Exit with this code when a finding at or above the lowest selected severity remains,
    /// or when the image cannot be scanned reliably.
    #[arg(long, default_value_t = 0)]
    pub exit_code: i32,
    /// Scan only this platform of a multi-platform image (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<PlatformFilter>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Runs `portcullis scan` with the vulnerability database under `<data_dir>/vulndb`.
/// Returns the process exit code.
pub async fn run(args: ScanArgs, data_dir: &Path) -> anyhow::Result<i32> {
    let db_dir = data_dir.join("vulndb");
    tokio::task::spawn_blocking(move || {
        let db = portcullis_vulndb::VulnDb::open(&db_dir).with_context(|| {
            format!(
                "opening the vulnerability database in {} (import one with `portcullis vulndb import`)",
                db_dir.display()
            )
        })?;
        run_blocking(&args, &db)
    })
    .await
    .context("scan task failed")?
}

fn selected(args: &ScanArgs, v: &Vulnerability) -> bool {
    args.severity.is_empty() || args.severity.contains(&v.severity())
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Runs a scan against any advisory source; [`run`] is this with the on-disk database.
pub fn run_blocking(args: &ScanArgs, db: &dyn Advisories) -> anyhow::Result<i32> {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reading layers {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let on_progress = |p: Progress| match p {
        Progress::Planned { bytes, .. } => {
            bar.set_length(bar.length().unwrap_or(0) + bytes);
        }
        Progress::Read(n) => bar.inc(n),
        Progress::LayerDone { .. } => {}
    };
    let opts = ScanOptions {
        platform: args.platform.clone(),
        progress: Some(&on_progress),
        ..ScanOptions::default()
    };
    let image = open_path(&args.target, &opts.limits)
        .with_context(|| format!("opening {}", args.target.display()))?;
    let outcome = scan_image(
        image.source.as_ref(),
        &image.root,
        image.root_digest.as_ref(),
        &opts,
        db,
    )
    .with_context(|| format!("scanning {}", args.target.display()))?;
    bar.finish_and_clear();

    let name = args.target.display().to_string();
    let mut images = outcome.images;
    for img in &mut images {
        img.result.vulnerabilities.retain(|v| selected(args, v));
    }
    let rendered = render(args, &name, &images)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, rendered).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().write_all(rendered.as_bytes())?,
    }

    let mut code = 0;
    for img in &images {
        if let ScanStatus::Unsupported { reason } = &img.result.status {
            eprintln!("warning: {name}: image is unsupported: {reason}");
            code = args.exit_code;
        }
        let threshold = args
            .severity
            .iter()
            .min()
            .copied()
            .unwrap_or(Severity::Unknown);
        if img
            .result
            .vulnerabilities
            .iter()
            .any(|v| v.severity() >= threshold)
        {
            code = args.exit_code;
        }
    }
    Ok(code)
}

fn title(name: &str, img: &ImageScan) -> String {
    match &img.platform {
        Some(p) => format!("{name} [{}/{}]", p.os, p.architecture),
        None => name.to_string(),
    }
}

fn one_or_many(mut docs: Vec<serde_json::Value>) -> serde_json::Value {
    if docs.len() == 1 {
        docs.remove(0)
    } else {
        serde_json::Value::Array(docs)
    }
}

fn render(args: &ScanArgs, name: &str, images: &[ImageScan]) -> anyhow::Result<String> {
    let now = now_rfc3339();
    let json = |v: serde_json::Value| -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(&v)? + "\n")
    };
    Ok(match args.format {
        Format::Table => images
            .iter()
            .map(|img| {
                let vulns: Vec<&Vulnerability> = img.result.vulnerabilities.iter().collect();
                table::render(&title(name, img), &img.result, &vulns)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Json => json(serde_json::to_value(images)?)?,
        Format::Harbor => json(one_or_many(
            images
                .iter()
                .map(|img| {
                    let artifact = HarborArtifact {
                        repository: Some(name.to_string()),
                        digest: img.manifest_digest.as_ref().map(|d| d.to_string()),
                        ..HarborArtifact::default()
                    };
                    serde_json::to_value(harbor_report(&img.result, artifact, now.clone()))
                })
                .collect::<Result<_, _>>()?,
        ))?,
        Format::Spdx | Format::Cyclonedx => json(one_or_many(
            images
                .iter()
                .map(|img| {
                    let subject = SbomSubject {
                        name: title(name, img),
                        digest: img.manifest_digest.as_ref().map(|d| d.to_string()),
                        created: now.clone(),
                    };
                    if args.format == Format::Spdx {
                        spdx(&subject, &img.result.inventory)
                    } else {
                        cyclonedx(&subject, &img.result.inventory)
                    }
                })
                .collect(),
        ))?,
    })
}
