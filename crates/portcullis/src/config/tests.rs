use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, FromArgMatches};

use super::*;

fn load_file(toml: &str, args: ServeSettings) -> anyhow::Result<Config> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, toml).unwrap();
    Config::load(
        ServeSettings {
            config: Some(file),
            ..args
        },
        None,
    )
}

#[test]
fn layers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:7000\"\nmax_manifest_size = 100\n",
    )
    .unwrap();
    let args = ServeSettings {
        config: Some(file.clone()),
        max_manifest_size: Some(200),
        ..Default::default()
    };
    let c = Config::load(args, Some(dir.path().to_path_buf())).unwrap();
    assert_eq!(c.settings.listen, "127.0.0.1:7000");
    assert_eq!(c.settings.max_manifest_size, 200);
    assert!(c.database_url.starts_with("sqlite://"));
    assert!(matches!(c.storage, Storage::Filesystem(_)));
    std::fs::write(&file, "bogus = 1\n").unwrap();
    let args = ServeSettings {
        config: Some(file),
        ..Default::default()
    };
    assert!(Config::load(args, None).is_err());
    let args = ServeSettings {
        storage: Some("s3".into()),
        ..Default::default()
    };
    assert!(Config::load(args, None).is_err());
}

#[test]
fn defaults_when_no_layer_sets_them() {
    let c = Config::load(ServeSettings::default(), None).unwrap();
    let s = &c.settings;
    assert_eq!(s.data_dir, PathBuf::from("./data"));
    assert_eq!(s.listen, "0.0.0.0:5000");
    assert_eq!(s.max_manifest_size, 4 * 1024 * 1024);
    assert_eq!(s.upload_expiry_hours, 24);
    assert_eq!(s.token_ttl_minutes, 30);
    assert!(!s.log_json && !s.trust_proxy_headers && !s.self_registration);
    assert_eq!(s.audit_retention_days, 365);
    assert_eq!(s.quota_warning_percent, 85);
    assert_eq!((s.webhook_max_attempts, s.webhook_timeout_seconds), (3, 3));
    assert_eq!(
        (s.webhook_retry_delay_ms, s.webhook_backlog),
        (5000, 10_000)
    );
    assert_eq!(s.scan_workers, 2);
    assert!(s.scan_layer_cache);
    assert_eq!(s.vulndb_update_cron, "0 0 4 * * *");
    assert_eq!(s.scan_memory_budget_mb, 512);
    assert_eq!(s.vulndb_update_url, None);
    assert_eq!(
        c.database_url,
        format!(
            "sqlite://{}?mode=rwc",
            Path::new("./data/portcullis.db").display()
        )
    );
    assert!(matches!(&c.storage, Storage::Filesystem(p) if p == Path::new("./data/storage")));
    assert!(c.tls.is_none() && c.scanner_adapter_api_key.is_none());
    assert!(c.job_concurrency.is_empty());
    assert!(c.admission.own_hosts.is_empty() && c.admission.allowed_registries.is_empty());
}

#[test]
fn file_under_flags_for_every_kind_of_value() {
    let file = r#"
        data_dir = "/from/file"
        listen = "file:1"
        s3_path_style = false
        self_registration = true
        trusted_keys_dir = "/keys/file"
        admission_allowed_registries = ["file.example"]
        external_url = "https://file.example/"
        webhook_max_attempts = 0
        scan_workers = 0
        [job_concurrency]
        webhook = 2
        scan = 9
    "#;
    let c = load_file(file, ServeSettings::default()).unwrap();
    let s = &c.settings;
    assert_eq!(s.data_dir, PathBuf::from("/from/file"));
    assert_eq!(s.listen, "file:1");
    assert!(!s.s3_path_style && s.self_registration);
    assert_eq!(s.trusted_keys_dir.as_deref(), Some(Path::new("/keys/file")));
    assert_eq!(c.admission.allowed_registries, ["file.example"]);
    // The external URL loses its trailing '/' and gives admission its own host.
    assert_eq!(c.external_url.as_deref(), Some("https://file.example"));
    assert_eq!(c.admission.own_hosts, ["file.example"]);
    // Clamped to at least 1.
    assert_eq!((s.webhook_max_attempts, s.scan_workers), (1, 1));
    assert_eq!(c.job_concurrency.len(), 2);
    assert_eq!(
        (c.job_concurrency["scan"], c.job_concurrency["webhook"]),
        (9, 2)
    );

    let flags = ServeSettings {
        listen: Some("flag:2".into()),
        s3_path_style: Some(true),
        self_registration: Some(false),
        trusted_keys_dir: Some("/keys/flag".into()),
        admission_allowed_registries: Some(vec!["*".into()]),
        admission_registry_hosts: Some(vec!["own.example".into()]),
        // A flag's list replaces the file's table whole.
        job_concurrency: Some(vec!["rejudge=3".into()]),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let c = Config::load(
        ServeSettings {
            config: Some({
                let p = dir.path().join("c.toml");
                std::fs::write(&p, file).unwrap();
                p
            }),
            ..flags
        },
        Some("/from/flag".into()),
    )
    .unwrap();
    let s = &c.settings;
    assert_eq!(s.data_dir, PathBuf::from("/from/flag"));
    assert_eq!(s.listen, "flag:2");
    assert!(s.s3_path_style && !s.self_registration);
    assert_eq!(s.trusted_keys_dir.as_deref(), Some(Path::new("/keys/flag")));
    assert_eq!(c.admission.allowed_registries, ["*"]);
    assert_eq!(c.admission.own_hosts, ["own.example"]);
    assert_eq!(
        c.job_concurrency.into_iter().collect::<Vec<_>>(),
        [("rejudge".to_string(), 3)]
    );
    assert!(matches!(&c.storage, Storage::Filesystem(p) if p == Path::new("/from/flag/storage")));
}

#[test]
fn checks_keep_their_messages() {
    let err = |toml: &str| {
        format!(
            "{:#}",
            load_file(toml, ServeSettings::default()).unwrap_err()
        )
    };
    assert_eq!(
        err("quota_warning_percent = 101"),
        "quota_warning_percent must be 1 to 100, not 101"
    );
    assert_eq!(
        err("tls_cert = \"/c.pem\""),
        "--tls-cert and --tls-key go together"
    );
    assert_eq!(
        err("storage = \"s3\""),
        "--storage s3 needs --s3-secret-key or --s3-secret-key-file"
    );
    assert_eq!(
        err("storage = \"s3\"\ns3_secret_key = \"k\""),
        "--storage s3 needs --s3-bucket"
    );
    assert_eq!(
        err("storage = \"s3\"\ns3_secret_key = \"k\"\ns3_bucket = \"b\""),
        "--storage s3 needs --s3-access-key"
    );
    assert_eq!(
        err("storage = \"tape\""),
        "unknown storage backend \"tape\": use filesystem or s3"
    );
    assert!(err("[job_concurrency]\nscan = 0").contains("--job-concurrency wants kind=N"));
    // The settings file cannot name another settings file.
    assert!(err("config = \"/other.toml\"").contains("unknown field `config`"));
    let c = load_file(
        "storage = \"s3\"\ns3_secret_key = \"k\"\ns3_bucket = \"b\"\ns3_access_key = \"a\"\n\
         s3_endpoint = \"http://minio:9000\"",
        ServeSettings::default(),
    )
    .unwrap();
    let Storage::S3(s3) = c.storage else {
        panic!("{:?}", c.storage)
    };
    assert_eq!(
        (s3.region.as_str(), s3.path_style, s3.allow_http),
        ("us-east-1", true, true)
    );
}

/// Marks the process [`env_under_flags`] starts to run [`env_layer_child`].
const CHILD_MARK: &str = "SETTINGS_TEST_ENV_CHILD";

/// The environment sits between the file and the flags (clap reads both into one layer).
/// Tests cannot set their own environment, so this runs [`env_layer_child`] in a process
/// that has it.
#[test]
fn env_under_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "listen = \"file:1\"\nmax_manifest_size = 100\ntoken_ttl_minutes = 7\n\
         data_dir = \"/from/file\"\n[job_concurrency]\nwebhook = 2\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child.args(["config::tests::env_layer_child", "--exact", "--nocapture"]);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PORTCULLIS_") {
            child.env_remove(name);
        }
    }
    let out = child
        .env(CHILD_MARK, "1")
        .env("PORTCULLIS_CONFIG", &file)
        .env("PORTCULLIS_DATA_DIR", "/from/env")
        .env("PORTCULLIS_LISTEN", "env:2")
        .env("PORTCULLIS_MAX_MANIFEST_SIZE", "200")
        .env("PORTCULLIS_LOG_JSON", "true")
        .env("PORTCULLIS_JOB_CONCURRENCY", "scan=5,rejudge=1")
        .env(
            "PORTCULLIS_ADMISSION_ALLOWED_REGISTRIES",
            "a.example,b.example",
        )
        .env("PORTCULLIS_VULNDB_URL", "http://mirror.example")
        .env("PORTCULLIS_USERNAME", "robot")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the child test did not run: {text}"
    );
}

#[test]
fn env_layer_child() {
    if std::env::var_os(CHILD_MARK).is_none() {
        return;
    }
    let parse = |argv: &[&str]| {
        let matches = command(crate::Cli::command())
            .try_get_matches_from(argv)
            .unwrap();
        crate::Cli::from_arg_matches(&matches).unwrap()
    };
    let cli = parse(&["portcullis", "serve", "--max-manifest-size", "300"]);
    let crate::Command::Serve(args) = cli.command else {
        panic!("not serve")
    };
    let c = Config::load(*args, cli.common.data_dir).unwrap();
    let s = &c.settings;
    assert_eq!(s.listen, "env:2", "the environment wins over the file");
    assert_eq!(s.max_manifest_size, 300, "a flag wins over the environment");
    assert_eq!(s.token_ttl_minutes, 7, "the file wins over defaults");
    assert_eq!(s.upload_expiry_hours, 24);
    assert!(s.log_json);
    assert_eq!(s.data_dir, PathBuf::from("/from/env"));
    assert_eq!(c.admission.allowed_registries, ["a.example", "b.example"]);
    assert_eq!(
        c.job_concurrency.into_iter().collect::<Vec<_>>(),
        [("rejudge".to_string(), 1), ("scan".to_string(), 5)]
    );
    // Variables of other commands, declared with the settings too.
    let cli = parse(&["portcullis", "vulndb", "update"]);
    let crate::Command::Vulndb {
        command: portcullis_vulndb::cli::VulndbCommand::Update { base_url, .. },
    } = cli.command
    else {
        panic!("not vulndb update")
    };
    assert_eq!(base_url, "http://mirror.example");
    let cli = parse(&["portcullis", "gate", "localhost:5000/p/r:1"]);
    let crate::Command::Gate(gate) = cli.command else {
        panic!("not gate")
    };
    assert_eq!(gate.username.as_deref(), Some("robot"));
}

fn serve_command() -> clap::Command {
    ServeSettings::augment_args(clap::Command::new("serve"))
}

#[test]
fn cli_is_well_formed() {
    command(crate::Cli::command()).debug_assert();
}

/// Each flag is `--name` with `PORTCULLIS_NAME`, and each file key `name` with '_' for '-'
/// (serde's field names are clap's ids); each default is in the help text.
#[test]
fn names_and_shown_defaults() {
    for arg in serve_command().get_arguments() {
        let id = arg.get_id().as_str();
        assert_eq!(arg.get_long(), Some(id.replace('_', "-").as_str()));
        let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
        assert_eq!(env, format!("PORTCULLIS_{}", id.to_ascii_uppercase()));
    }
    let cli = command(crate::Cli::command());
    let serve = cli.find_subcommand("serve").unwrap();
    let help = |cmd: &clap::Command, id: &str| {
        let arg = cmd.get_arguments().find(|a| a.get_id() == id).unwrap();
        arg.get_help().unwrap().to_string()
    };
    let defaults = ServeSettings::shown_defaults();
    assert!(defaults.len() >= 20, "{defaults:?}");
    for (id, default) in defaults {
        let text = help(if id == "data_dir" { &cli } else { serve }, id);
        assert!(
            text.ends_with(&format!(" [default: {default}]")),
            "{id}: {text}"
        );
        assert_eq!(text.matches("[default:").count(), 1, "{id}: {text}");
    }
    assert!(help(serve, "vulndb_update_cron").ends_with("[default: \"0 0 4 * * *\"]"));
}

/// The flags and environment variables of `portcullis serve`, with the default each shows.
fn declared() -> Vec<(String, String, Option<String>)> {
    let defaults = ServeSettings::shown_defaults();
    let common = CommonArgs::augment_args(clap::Command::new("x"));
    let serve = serve_command();
    common
        .get_arguments()
        .chain(serve.get_arguments())
        .map(|a| {
            let id = a.get_id().as_str();
            (
                format!("--{}", a.get_long().unwrap()),
                a.get_env().unwrap().to_str().unwrap().to_string(),
                defaults
                    .iter()
                    .find(|(f, _)| *f == id)
                    .map(|(_, d)| d.trim_matches('"').to_string()),
            )
        })
        .collect()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The words in backquotes of a table cell that are flags or environment variables.
fn names_in(cell: &str) -> Vec<&str> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.starts_with("--") || w.starts_with("PORTCULLIS_"))
        .collect()
}

/// README's table under "## Configuration" lists every flag with its variable and default,
/// and nothing else.
#[test]
fn readme_table_matches_the_settings() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("README has a Configuration section");
    let rows: Vec<Vec<&str>> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    let mut problems = Vec::new();
    let declared = declared();
    let mut known: BTreeSet<String> = [vars::ADMIN_PASSWORD, vars::LOG]
        .map(String::from)
        .into_iter()
        .collect();
    for (flag, env, default) in &declared {
        known.insert(flag.clone());
        known.insert(env.clone());
        let row = rows
            .iter()
            .find(|r| r.iter().any(|c| names_in(c).contains(&flag.as_str())));
        let Some(row) = row else {
            problems.push(format!("{flag} ({env}) has no row"));
            continue;
        };
        if !row.iter().any(|c| names_in(c).contains(&env.as_str())) {
            problems.push(format!("{flag}'s row does not name {env}"));
        }
        if let Some(d) = default
            && names_in(row[0]) == [flag.as_str()]
            && row[2] != format!("`{d}`")
        {
            problems.push(format!("{flag}'s default is `{d}`, not {}", row[2]));
        }
    }
    for name in [vars::ADMIN_PASSWORD, vars::LOG] {
        if !rows
            .iter()
            .any(|r| r.iter().any(|c| names_in(c).contains(&name)))
        {
            problems.push(format!("{name} is not in the table"));
        }
    }
    for row in &rows {
        for name in row.iter().flat_map(|c| names_in(c)) {
            if !known.contains(name) {
                problems.push(format!("the table names {name}, which is not a setting"));
            }
        }
    }
    let expected: Vec<String> = declared
        .iter()
        .map(|(f, e, d)| {
            format!(
                "| `{f}` | `{e}` | {} | … |",
                d.as_ref().map_or("–".into(), |d| format!("`{d}`"))
            )
        })
        .collect();
    assert!(
        problems.is_empty(),
        "README.md's settings table differs from the settings:\n{}\n\nthe settings:\n{}",
        problems.join("\n"),
        expected.join("\n")
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `PORTCULLIS_X` names in `text`, with whether each is a whole string literal (`"PORTCULLIS_X"`,
/// as where a variable is read or given to a flag).
fn env_names(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("PORTCULLIS_") {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if name.len() == "PORTCULLIS_".len() {
            continue;
        }
        let literal = text[..at].ends_with('"') && text[at + name.len()..].starts_with('"');
        out.push((name, literal));
    }
    out
}

#[test]
fn finds_variable_names() {
    let text = r#"env = "PORTCULLIS_A1", "set PORTCULLIS_B_C to", PORTCULLIS_…"#;
    assert_eq!(
        env_names(text),
        [
            ("PORTCULLIS_A1".to_string(), true),
            ("PORTCULLIS_B_C".to_string(), false)
        ]
    );
}

/// Every `PORTCULLIS_…` variable is declared in this module: elsewhere in the workspace's
/// sources (test helpers aside) one is only named in prose, never read or declared.
#[test]
fn every_variable_is_declared_here() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config");
    let mut files = Vec::new();
    rust_files(&here, &mut files);
    let declared: BTreeSet<String> = files
        .iter()
        .flat_map(|f| env_names(&std::fs::read_to_string(f).unwrap()))
        .filter(|(_, literal)| *literal)
        .map(|(name, _)| name)
        .collect();
    assert!(
        declared.contains(vars::ADMIN_PASSWORD) && declared.len() > 40,
        "{declared:?}"
    );
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(workspace_root().join("crates")).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "{files:?}");
    for file in files {
        let canonical = file.canonicalize().unwrap();
        if canonical.starts_with(here.canonicalize().unwrap())
            || file.file_name().is_some_and(|n| n == "testing.rs")
        {
            continue;
        }
        for (name, literal) in env_names(&std::fs::read_to_string(&file).unwrap()) {
            if literal {
                problems.push(format!(
                    "{}: \"{name}\" belongs in config/settings.rs",
                    file.display()
                ));
            } else if !declared.contains(&name) {
                problems.push(format!(
                    "{}: {name} is not declared in config/settings.rs",
                    file.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
