//! Sealed backup files: AES-256-GCM in chunks under a key derived from the KEK, so a copied
//! backup shows nothing of the journal and a changed byte is found.
//!
//! A sealed file is `suanpan-sealed-1\n`, 32 random bytes (salt), then chunks of at most
//! [`CHUNK_BYTES`] plaintext, each encrypted with its own nonce (chunk number, and a flag on
//! the last chunk) and the file's role (`database`, `evidence:<sha256>`) as associated
//! data. The key of one file is HMAC(`derive("backup.enc")`, salt): nonces never repeat
//! under a key. Reordered, dropped or appended chunks, a file cut short, or a file put in
//! another's place do not decrypt.

use crate::error::StoreError;
use crate::keys::{KeyProvider, keyed_hash};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Read, Write};

/// The purpose of the backup encryption key (`KeyProvider::derive`).
pub const SEAL_PURPOSE: &str = "backup.enc";
/// The header of a sealed file.
pub const MAGIC: &[u8] = b"suanpan-sealed-1\n";
/// Plaintext bytes per chunk.
pub const CHUNK_BYTES: usize = 64 * 1024;
const SALT_BYTES: usize = 32;
const TAG_BYTES: usize = 16;

fn cipher(keys: &dyn KeyProvider, salt: &[u8]) -> Result<Aes256Gcm, StoreError> {
    let base = keys.derive(SEAL_PURPOSE)?;
    let key = zeroize::Zeroizing::new(
        hex::decode(keyed_hash(&base, &[b"suanpan sealed file key", salt]))
            .map_err(|_| StoreError::Key("file key".into()))?,
    );
    Aes256Gcm::new_from_slice(&key).map_err(|_| StoreError::Key("file key".into()))
}

fn nonce(n: u64, last: bool) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..8].copy_from_slice(&n.to_be_bytes());
    b[11] = u8::from(last);
    b
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn fill(from: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match from.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// How a sealed file failed.
#[derive(Debug)]
pub enum OpenError {
    /// Reading or writing failed.
    Io(std::io::Error),
    /// Not a sealed file, or its bytes were changed, cut, or moved from another file.
    Altered(String),
}

/// Seals `from` into `to` for `role`; returns the SHA-256 and size of what was written.
pub fn seal(
    keys: &dyn KeyProvider,
    role: &str,
    mut from: impl Read,
    to: &mut impl Write,
) -> Result<(String, u64), StoreError> {
    let io = |e: std::io::Error| StoreError::Sqlite(format!("sealing {role}: {e}"));
    let salt: [u8; SALT_BYTES] = rand::random();
    let c = cipher(keys, &salt)?;
    let mut h = Sha256::new();
    let mut written = 0u64;
    let mut put = |bytes: &[u8]| -> Result<(), StoreError> {
        h.update(bytes);
        written += bytes.len() as u64;
        to.write_all(bytes).map_err(|e| {
            if e.raw_os_error() == Some(28) {
                StoreError::DiskFull
            } else {
                io(e)
            }
        })
    };
    put(MAGIC)?;
    put(&salt)?;
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut next = vec![0u8; CHUNK_BYTES];
    let mut len = fill(&mut from, &mut buf).map_err(io)?;
    for n in 0u64.. {
        // One chunk ahead: the last chunk is the one after which the input ends.
        let next_len = if len == CHUNK_BYTES {
            fill(&mut from, &mut next).map_err(io)?
        } else {
            0
        };
        let last = next_len == 0;
        let ct = c
            .encrypt(
                Nonce::from_slice(&nonce(n, last)),
                Payload {
                    msg: &buf[..len],
                    aad: role.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Key("sealing failed".into()))?;
        put(&ct)?;
        if last {
            break;
        }
        std::mem::swap(&mut buf, &mut next);
        len = next_len;
    }
    Ok((hex::encode(h.finalize()), written))
}

/// Opens a sealed file for `role` into `to`; returns the plaintext's SHA-256 and size.
/// Nothing it wrote may be trusted unless it returns `Ok`.
pub fn open(
    keys: &dyn KeyProvider,
    role: &str,
    from: impl Read,
    to: &mut impl Write,
) -> Result<(String, u64), OpenError> {
    let mut from = std::io::BufReader::with_capacity(CHUNK_BYTES + TAG_BYTES, from);
    let mut head = vec![0u8; MAGIC.len() + SALT_BYTES];
    let got = fill(&mut from, &mut head).map_err(OpenError::Io)?;
    if got < head.len() || &head[..MAGIC.len()] != MAGIC {
        return Err(OpenError::Altered("not a sealed backup file".into()));
    }
    let c = cipher(keys, &head[MAGIC.len()..]).map_err(|e| OpenError::Altered(e.to_string()))?;
    let mut h = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; CHUNK_BYTES + TAG_BYTES];
    for n in 0u64.. {
        let len = fill(&mut from, &mut buf).map_err(OpenError::Io)?;
        let last = from.fill_buf().map_err(OpenError::Io)?.is_empty();
        let plain = c
            .decrypt(
                Nonce::from_slice(&nonce(n, last)),
                Payload {
                    msg: &buf[..len],
                    aad: role.as_bytes(),
                },
            )
            .map_err(|_| {
                OpenError::Altered(format!(
                    "chunk {n} does not decrypt (changed, cut short, or not this file)"
                ))
            })?;
        h.update(&plain);
        total += plain.len() as u64;
        to.write_all(&plain).map_err(OpenError::Io)?;
        if last {
            break;
        }
    }
    Ok((hex::encode(h.finalize()), total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::MemoryKek;

    fn roundtrip(len: usize) {
        let k = MemoryKek::new([3; 32]);
        let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut sealed = Vec::new();
        seal(&k, "database", &plain[..], &mut sealed).expect("seal");
        let mut back = Vec::new();
        open(&k, "database", &sealed[..], &mut back).expect("open");
        assert_eq!(back, plain, "{len}");
        // Another role, another KEK, a flipped byte, a cut: refused.
        assert!(open(&k, "evidence:x", &sealed[..], &mut Vec::new()).is_err());
        assert!(
            open(
                &MemoryKek::new([4; 32]),
                "database",
                &sealed[..],
                &mut Vec::new()
            )
            .is_err()
        );
        let mut flipped = sealed.clone();
        let i = flipped.len() - 20;
        flipped[i] ^= 1;
        assert!(open(&k, "database", &flipped[..], &mut Vec::new()).is_err());
        if len > CHUNK_BYTES {
            let cut = &sealed[..MAGIC.len() + SALT_BYTES + CHUNK_BYTES + TAG_BYTES];
            assert!(open(&k, "database", cut, &mut Vec::new()).is_err());
        }
    }

    #[test]
    fn seals_and_opens_every_length() {
        for len in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            3 * CHUNK_BYTES + 5,
        ] {
            roundtrip(len);
        }
    }
}
