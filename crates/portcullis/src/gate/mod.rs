//! `portcullis gate`: the CI step that decides whether an image may ship. It logs in
//! (user or robot), makes sure the image has a finished scan (starting one if needed and
//! waiting with a progress display), applies the severity threshold and the CVE
//! allowlists, optionally requires a signature, asks the registry whether it would serve
//! the image, prints a summary, and exits 0 (pass), 1 (fail, with reasons) or 2 (could not
//! decide: bad arguments, login, missing image, timeout).

mod client;
mod verdict;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use client::{Client, ImageRef};
use portcullis_policy::Threshold;
use verdict::Verdict;

/// Exit status of a pass.
pub const PASS: i32 = 0;
/// Exit status of a policy failure.
pub const FAIL: i32 = 1;
/// Exit status when no decision could be made.
pub const ERROR: i32 = 2;

#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// The image: `<registry>/<project>/<repository>:<tag>` (or `@<digest>`); prefix
    /// `http://` for a registry served without TLS.
    pub image: String,
    /// Fail on vulnerabilities of this severity or higher (low, medium, high, critical;
    /// none: no vulnerability fails) [default: the project's policy, else high].
    #[arg(long)]
    pub severity: Option<String>,
    /// Fail unless a cosign or notation signature is attached (and verified, when the
    /// project trusts keys).
    #[arg(long)]
    pub require_signature: bool,
    /// How long to wait for a scan to finish, e.g. 90s, 5m, 1h.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// User or robot name (`robot$project+name`).
    #[arg(long, env = crate::config::vars::USERNAME)]
    pub username: Option<String>,
    /// Password or robot secret.
    #[arg(long, env = crate::config::vars::PASSWORD, hide_env_values = true)]
    pub password: Option<String>,
    /// Accept a registry certificate that does not verify.
    #[arg(long)]
    pub insecure: bool,
    /// Findings listed at most.
    #[arg(long, default_value_t = 20)]
    pub show: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("invalid duration {s:?}: use s, m or h")),
    };
    Ok(Duration::from_secs(secs))
}

/// Runs the gate; returns the exit status.
pub async fn run(args: GateArgs) -> i32 {
    match decide(&args).await {
        Ok(v) => {
            print!("{}", v.render(args.show));
            if v.passed() { PASS } else { FAIL }
        }
        Err(e) => {
            eprintln!("portcullis gate: {e:#}");
            ERROR
        }
    }
}

async fn decide(args: &GateArgs) -> anyhow::Result<Verdict> {
    let image = ImageRef::parse(&args.image)?;
    let client = Client::new(&image, args)?;
    let project = client.project().await?;
    let threshold = match &args.severity {
        Some(s) => Threshold::from_cli_word(s)?,
        None => project.policy_threshold().unwrap_or(Threshold::CLI_DEFAULT),
    };
    let mut artifact = client.artifact().await?;
    let started = Instant::now();
    // No scan yet, or the last one did not finish: scan now.
    if artifact
        .scan_status()
        .is_none_or(|s| s == "Error" || s == "Stopped")
    {
        client.start_scan().await?;
        artifact = client.artifact().await?;
    }
    let progress = indicatif::ProgressBar::new_spinner();
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(Duration::from_millis(120));
    loop {
        let status = artifact.scan_status().unwrap_or("Pending").to_string();
        if matches!(status.as_str(), "Success" | "Error" | "Stopped") {
            break;
        }
        if started.elapsed() > args.timeout {
            progress.finish_and_clear();
            bail!(
                "the scan of {} did not finish within {}s (status {status})",
                image.display(),
                args.timeout.as_secs()
            );
        }
        progress.set_message(format!(
            "scanning {}: {status} {}%",
            image.display(),
            artifact.complete_percent()
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        artifact = client.artifact().await?;
    }
    progress.finish_and_clear();
    let vulnerabilities = if artifact.scan_status() == Some("Success") {
        client.vulnerabilities().await?
    } else {
        Vec::new()
    };
    let allowlist = client.allowlist(&project).await;
    let served = client
        .registry_check()
        .await
        .context("asking the registry")?;
    Ok(Verdict::new(
        image.display(),
        &artifact,
        threshold,
        vulnerabilities,
        allowlist,
        args.require_signature,
        served,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("m").is_err());
    }
}
