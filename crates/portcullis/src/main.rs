//! `portcullis`: a secure OCI container registry in one binary.

mod config;
mod gate;
mod listener;
mod maintenance;
mod scanning;
mod serve;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "A secure OCI container registry: OCI Distribution 1.1, Harbor's API v2.0, built-in vulnerability scanning."
)]
struct Cli {
    #[command(flatten)]
    common: config::CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the registry. The first start creates the data directory, the database, the
    /// token signing key and the `admin` user (password from PORTCULLIS_ADMIN_PASSWORD, or
    /// generated and printed once).
    Serve(Box<config::ServeSettings>),
    /// Scan an image (OCI layout directory or `docker save` archive) for known
    /// vulnerabilities with the local database (`portcullis vulndb import` fills it).
    Scan(portcullis_scan::cli::ScanArgs),
    /// Decide whether an image in a registry may ship (for CI): scan it if needed, apply
    /// the severity threshold, the CVE allowlists and the signature requirement; exit 0
    /// on pass, 1 on fail, 2 when no decision could be made.
    Gate(Box<gate::GateArgs>),
    /// Manage the offline vulnerability database in `<data-dir>/vulndb`.
    Vulndb {
        #[command(subcommand)]
        command: portcullis_vulndb::cli::VulndbCommand,
    },
}

fn main() -> std::process::ExitCode {
    let matches = config::command(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portcullis: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let data_dir = cli.common.data_dir();
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(config::Config::load(*args, cli.common.data_dir)?)
                .await
                .map(|_| 0),
            Command::Scan(args) => portcullis_scan::cli::run(args, &data_dir).await,
            Command::Gate(args) => Ok(gate::run(*args).await),
            Command::Vulndb { command } => portcullis_vulndb::cli::run(command, &data_dir)
                .await
                .map(|_| 0),
        }
    });
    match result {
        Ok(code) => std::process::ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("portcullis: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
