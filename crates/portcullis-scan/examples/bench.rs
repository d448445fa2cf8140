//! Scanner throughput on a realistic image.
//!
//! `bench make BASE.tar LAYOUT` packs a root file system tar (e.g. from
//! `debootstrap --variant=minbase bookworm`) as a gzip layer and adds a Python layer and
//! an npm layer, writing an OCI image layout. `bench run LAYOUT [ROUNDS]` then compares
//! the time to only decompress the layers with the time to build the image's inventory.
//! With a data directory (`bench import DATA OSV.zip…` fills one) it also times the full
//! scan with matching. `benches/debian.sh` runs it all.

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use portcullis_scan::image::{open_path, resolve_images};
use portcullis_scan::layer::decompress::decompressed;
use portcullis_scan::scan::layer_inventories;
use portcullis_scan::{ImageInventory, ScanOptions, scan_image};
use portcullis_types::Digest;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["make", base, out] => make(Path::new(base), Path::new(out)),
        ["run", layout] => run(Path::new(layout), 5, None),
        ["run", layout, rounds] => run(Path::new(layout), rounds.parse()?, None),
        ["run", layout, rounds, data] => {
            run(Path::new(layout), rounds.parse()?, Some(Path::new(data)))
        }
        ["import", data, files @ ..] => {
            let files: Vec<_> = files.iter().map(std::path::PathBuf::from).collect();
            let s = portcullis_vulndb::import(&Path::new(data).join("vulndb"), &files, &|_| {})?;
            println!("{s:?}");
            Ok(())
        }
        _ => bail!(
            "usage: bench make BASE.tar LAYOUT | bench run LAYOUT [ROUNDS [DATA_DIR]] | bench import DATA_DIR OSV.zip..."
        ),
    }
}

fn put_blob(dir: &Path, data: &[u8]) -> anyhow::Result<Digest> {
    let d = Digest::sha256_of(data);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p)?;
    std::fs::write(p.join(d.hex()), data)?;
    Ok(d)
}

fn gzip(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data)?;
    Ok(e.finish()?)
}

/// Text that compresses about as well as source code does.
fn filler(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "def ",
        "return ",
        "self",
        "import ",
        "class ",
        "(",
        ")",
        ":\n    ",
        "value",
        "None",
        "if ",
        "else",
        "for ",
        " in ",
        "range",
        "function ",
        "const ",
        "=> ",
        "{",
        "}\n",
        "module.exports",
        "require",
        "0x",
        "error",
        "data",
        "lodash",
        "_",
        "42",
        ".",
        ",",
    ];
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x % WORDS.len() as u64) as usize].as_bytes());
        if x.is_multiple_of(11) {
            out.extend_from_slice(format!("{:x}", x >> 40).as_bytes());
        }
    }
    out.truncate(len);
    out
}

fn add(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) -> anyhow::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    b.append_data(&mut h, path, data)?;
    Ok(())
}

fn python_layer() -> anyhow::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..400 {
        let (name, version) = (format!("pkg{i}"), format!("1.{}.{}", i % 7, i % 3));
        let dir = format!("usr/local/lib/python3.11/site-packages/{name}-{version}.dist-info");
        add(
            &mut b,
            &format!("{dir}/METADATA"),
            format!(
                "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: MIT\n\n{}",
                "Long description. ".repeat(50)
            )
            .as_bytes(),
        )?;
        add(&mut b, &format!("{dir}/RECORD"), &filler(i, 4000))?;
        for j in 0..6 {
            add(
                &mut b,
                &format!("usr/local/lib/python3.11/site-packages/{name}/m{j}.py"),
                &filler(i * 100 + j, 24_000),
            )?;
        }
    }
    Ok(b.into_inner()?)
}

fn npm_layer() -> anyhow::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..1500 {
        let name = format!("dep{i}");
        let dir = format!("app/node_modules/{name}");
        add(
            &mut b,
            &format!("{dir}/package.json"),
            serde_json::to_string_pretty(&json!({"name": name, "version": format!("2.{}.0", i % 13), "license": "MIT", "main": "index.js"}))?.as_bytes(),
        )?;
        for j in 0..4 {
            add(
                &mut b,
                &format!("{dir}/lib/f{j}.js"),
                &filler(1_000_000 + i * 10 + j, 9_000),
            )?;
        }
    }
    add(
        &mut b,
        "app/package-lock.json",
        br#"{"lockfileVersion":3,"packages":{"":{"name":"app"}}}"#,
    )?;
    Ok(b.into_inner()?)
}

fn make(base: &Path, out: &Path) -> anyhow::Result<()> {
    let base_tar = std::fs::read(base).with_context(|| format!("reading {}", base.display()))?;
    let layers = [
        gzip(&base_tar)?,
        gzip(&python_layer()?)?,
        gzip(&npm_layer()?)?,
    ];
    let mut descs = Vec::new();
    for l in &layers {
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put_blob(out, l)?, "size": l.len()}));
    }
    let config = serde_json::to_vec(
        &json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}),
    )?;
    let cd = put_blob(out, &config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": descs,
    }))?;
    let md = put_blob(out, &manifest)?;
    std::fs::write(out.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    std::fs::write(
        out.join("index.json"),
        serde_json::to_vec(
            &json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len()}]}),
        )?,
    )?;
    let total: usize = layers.iter().map(Vec::len).sum();
    println!(
        "wrote {} ({:.1} MiB compressed in {} layers)",
        out.display(),
        total as f64 / 1048576.0,
        layers.len()
    );
    Ok(())
}

fn best<T>(
    rounds: usize,
    mut f: impl FnMut() -> anyhow::Result<T>,
) -> anyhow::Result<(Duration, T)> {
    let mut best = None;
    let mut last = None;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let v = f()?;
        let d = t.elapsed();
        best = Some(best.map_or(d, |b: Duration| b.min(d)));
        last = Some(v);
    }
    Ok((best.unwrap_or_default(), last.context("no round ran")?))
}

fn run(layout: &Path, rounds: usize, data: Option<&Path>) -> anyhow::Result<()> {
    let opts = ScanOptions::default();
    let img = open_path(layout, &opts.limits)?;
    let images = resolve_images(img.source.as_ref(), &img.root, None, None, &opts.limits)?;
    let manifest = &images.first().context("no image")?.manifest;
    let compressed: u64 = manifest.layers.iter().map(|l| l.size).sum();
    let mib = compressed as f64 / 1048576.0;

    let decompress_all = |threads: usize| -> anyhow::Result<u64> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let total = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| -> anyhow::Result<()> {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| -> anyhow::Result<()> {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let Some(l) = manifest.layers.get(i) else {
                                return Ok(());
                            };
                            let mut r =
                                decompressed(img.source.open(&l.digest)?, Some(&l.media_type))?;
                            let n = io::copy(&mut r, &mut io::sink())?;
                            total.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
            }
            Ok(())
        })?;
        Ok(total.into_inner())
    };

    let threads = opts.threads;
    let (d1, raw) = best(rounds, || decompress_all(1))?;
    let (dn, _) = best(rounds, || decompress_all(threads))?;
    let (scan, inv) = best(rounds, || {
        let layers = layer_inventories(img.source.as_ref(), manifest, &opts)?;
        Ok(ImageInventory::from_layers(&layers, &opts.limits)?)
    })?;
    let cached = serde_json::to_vec(&layer_inventories(img.source.as_ref(), manifest, &opts)?)?;
    println!(
        "layer inventories as JSON (what a cache stores): {} KiB",
        cached.len() / 1024
    );
    println!(
        "image: {mib:.1} MiB compressed, {:.1} MiB uncompressed, {} layers, {} packages",
        raw as f64 / 1048576.0,
        manifest.layers.len(),
        inv.packages.len()
    );
    println!(
        "decompress only, 1 thread:   {:>7.3} s  {:>7.1} MB/s compressed",
        d1.as_secs_f64(),
        mib / d1.as_secs_f64()
    );
    println!(
        "decompress only, {threads} threads:  {:>7.3} s  {:>7.1} MB/s compressed",
        dn.as_secs_f64(),
        mib / dn.as_secs_f64()
    );
    println!(
        "inventory ({threads} threads):       {:>7.3} s  {:>7.1} MB/s compressed  ({:.2}x decompress-only with the same threads)",
        scan.as_secs_f64(),
        mib / scan.as_secs_f64(),
        scan.as_secs_f64() / dn.as_secs_f64()
    );
    if let Some(data) = data {
        let db = portcullis_vulndb::VulnDb::open(&data.join("vulndb"))?;
        let (full, outcome) = best(rounds, || {
            Ok(scan_image(
                img.source.as_ref(),
                &img.root,
                None,
                &opts,
                &db,
            )?)
        })?;
        let r = &outcome.images[0].result;
        println!(
            "full scan with matching:      {:>7.3} s  {:>7.1} MB/s compressed  ({} vulnerabilities, {:?})",
            full.as_secs_f64(),
            mib / full.as_secs_f64(),
            r.vulnerabilities.len(),
            r.status
        );
    }
    Ok(())
}
