//! Facts about files for the File* rules (SPEC §12.14): listings with size
//! and modification time, and content checksums where a rule needs them.
//! Gathered before planning, so planning and judging stay free of I/O.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use sha2::Digest;

use super::{DatasetSpec, SourceOptions, objects};

/// A checksum algorithm of FileMatch's `hashAlgorithm` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256 (the default).
    Sha256,
}

impl HashAlgorithm {
    /// The algorithm a tag value names (`MD5`, `SHA-1`, `SHA-256`, any case,
    /// dash optional).
    pub fn parse(name: &str) -> Option<HashAlgorithm> {
        match name.to_ascii_uppercase().replace('-', "").as_str() {
            "MD5" => Some(HashAlgorithm::Md5),
            "SHA1" => Some(HashAlgorithm::Sha1),
            "SHA256" => Some(HashAlgorithm::Sha256),
            _ => None,
        }
    }

    /// A running hash of this algorithm.
    pub fn hasher(self) -> Hasher {
        match self {
            HashAlgorithm::Md5 => Hasher::Md5(md5::Md5::new()),
            HashAlgorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            HashAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    /// Lower-case hex digest of `bytes`.
    pub fn digest(self, bytes: &[u8]) -> String {
        let mut h = self.hasher();
        h.update(bytes);
        h.finish()
    }
}

/// A hash fed chunk by chunk.
pub enum Hasher {
    /// MD5.
    Md5(md5::Md5),
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
}

impl Hasher {
    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
        }
    }

    /// Lower-case hex digest.
    pub fn finish(self) -> String {
        let raw: Vec<u8> = match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        };
        raw.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a File rule needs of one location.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileRequest {
    /// A file, folder, prefix or `s3://` URL.
    pub location: String,
    /// Checksums to compute for every file there.
    pub algorithms: Vec<HashAlgorithm>,
}

/// A file with the facts rules judge.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    /// Where it is.
    pub location: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub modified: DateTime<Utc>,
    /// Hex checksums by algorithm.
    pub checksums: BTreeMap<HashAlgorithm, String>,
}

/// Listings by location; a listing that failed holds the reason.
#[derive(Debug, Clone, Default)]
pub struct FileFacts {
    listings: HashMap<String, Result<Vec<FileInfo>, String>>,
}

impl FileFacts {
    /// The files at a location, or why they could not be listed.
    pub fn files(&self, location: &str) -> Result<&[FileInfo], String> {
        match self.listings.get(location) {
            Some(Ok(files)) => Ok(files),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("internal: {location} was not listed")),
        }
    }
}

/// Files hashed at once.
const PARALLEL_READS: usize = 8;

/// Lists every requested location (merging requests for one location) and
/// computes the checksums asked for, with the primary dataset's options.
/// A confined dataset's rules reach only the allowed roots and, in S3, the
/// dataset's own location.
pub async fn gather(
    ctx: &SessionContext,
    requests: &[FileRequest],
    primary: Option<&DatasetSpec>,
) -> FileFacts {
    let options = primary.map(|p| p.options.clone()).unwrap_or_default();
    let mut merged: BTreeMap<&str, Vec<HashAlgorithm>> = BTreeMap::new();
    for r in requests {
        let algorithms = merged.entry(r.location.as_str()).or_default();
        algorithms.extend(r.algorithms.iter().copied());
        algorithms.sort();
        algorithms.dedup();
    }
    let mut facts = FileFacts::default();
    for (location, algorithms) in merged {
        let allowed = match primary.and_then(|p| Some((p.confinement.as_ref()?, p))) {
            Some((c, p)) => c.check_file_rule(location, &p.location),
            None => Ok(()),
        };
        let listing = match allowed {
            Ok(()) => list(ctx, location, &algorithms, &options).await,
            Err(e) => Err(e.to_string()),
        };
        facts.listings.insert(location.to_string(), listing);
    }
    facts
}

async fn list(
    ctx: &SessionContext,
    location: &str,
    algorithms: &[HashAlgorithm],
    options: &SourceOptions,
) -> Result<Vec<FileInfo>, String> {
    let entries = objects::list_files(ctx, location, options)
        .await
        .map_err(|e| e.to_string())?;
    futures::stream::iter(entries)
        .map(|entry| async move {
            let mut checksums = BTreeMap::new();
            if !algorithms.is_empty() {
                let mut hashers: Vec<Hasher> = algorithms.iter().map(|a| a.hasher()).collect();
                let mut chunks = objects::open(ctx, &entry.location, options)
                    .await
                    .map_err(|e| e.to_string())?;
                while let Some(chunk) = chunks.next().await {
                    let chunk = chunk.map_err(|e| e.to_string())?;
                    hashers.iter_mut().for_each(|h| h.update(&chunk));
                }
                for (a, h) in algorithms.iter().zip(hashers) {
                    checksums.insert(*a, h.finish());
                }
            }
            Ok::<FileInfo, String>(FileInfo {
                location: entry.location,
                size: entry.size,
                modified: entry.modified,
                checksums,
            })
        })
        .buffered(PARALLEL_READS)
        .try_collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_values() {
        assert_eq!(
            HashAlgorithm::Md5.digest(b"abc"),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            HashAlgorithm::Sha1.digest(b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            HashAlgorithm::Sha256.digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(HashAlgorithm::parse("sha-256"), Some(HashAlgorithm::Sha256));
        assert_eq!(HashAlgorithm::parse("crc32"), None);
    }
}
