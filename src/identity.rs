//! The store's identity: the small file `db.id` that a writer writes when it first opens a
//! directory, holding a random 32-bit *store tag*. Every data file the store writes carries
//! the tag in its header, so recovery can tell the store's own files from files of another
//! store or program that happen to have the same names, and never deletes or rewrites those.
//!
//! ```text
//! 0   [u8; 8]  magic "BITASKID"
//! 8   u32      version (1)
//! 12  u32      store tag (never 0)
//! 16  u32      flags: bit 0 = adopted (the directory held data files of this format written
//!              before stores had a tag: files with tag 0 are the store's too)
//! 20  u32      crc32 of bytes 0..20
//! ```
//!
//! It is written once, as `db.id.tmp` (fsynced) renamed to `db.id` (directory fsynced),
//! before the store creates any data file, and never changed.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::Path;

use crate::error::{Error, Result};
use crate::filename::{ID_FILE, ID_TEMP_FILE};
use crate::vfs::{OpenMode, Vfs};

const MAGIC: [u8; 8] = *b"BITASKID";
const VERSION: u32 = 1;
const LEN: usize = 24;
const ADOPTED: u32 = 1;

/// Who a directory's files belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The tag new data files carry.
    pub tag: u32,
    /// Files with tag 0 (written before stores had an identity) belong to the store.
    pub adopted: bool,
}

impl Identity {
    /// The identity of a directory of untagged files that has no `db.id` yet (a store of an
    /// earlier version, opened read-only): only tag 0 is its own.
    pub const UNTAGGED: Identity = Identity {
        tag: 0,
        adopted: true,
    };

    /// Whether a data file whose header carries `tag` belongs to this store.
    pub fn owns(&self, tag: u32) -> bool {
        tag == self.tag || (tag == 0 && self.adopted)
    }

    fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.tag.to_le_bytes());
        let flags = if self.adopted { ADOPTED } else { 0 };
        b[16..20].copy_from_slice(&flags.to_le_bytes());
        let crc = crc32fast::hash(&b[0..20]);
        b[20..24].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8], path: &Path) -> Result<Identity> {
        let bad = |reason: String| Error::Incompatible {
            path: path.into(),
            reason,
        };
        if b.len() != LEN || b[0..8] != MAGIC {
            return Err(bad("not a bitask store identity file".into()));
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        if u32_at(20) != crc32fast::hash(&b[0..20]) {
            return Err(bad("store identity file checksum mismatch".into()));
        }
        let version = u32_at(8);
        if version != VERSION {
            return Err(bad(format!(
                "store identity version {version}; this library reads version {VERSION}"
            )));
        }
        let (tag, flags) = (u32_at(12), u32_at(16));
        if tag == 0 || flags & !ADOPTED != 0 {
            return Err(bad("store identity file holds unknown values".into()));
        }
        Ok(Identity {
            tag,
            adopted: flags & ADOPTED != 0,
        })
    }
}

/// The identity recorded in `dir`, or `None` when it has no `db.id`.
pub fn read(vfs: &dyn Vfs, dir: &Path) -> Result<Option<Identity>> {
    let path = dir.join(ID_FILE);
    let io_err = |e| Error::io("read", &path, e);
    let file = match vfs.open(&path, OpenMode::ReadShared) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    let len = file.len().map_err(io_err)?;
    if len != LEN as u64 {
        return Err(Error::Incompatible {
            path: path.clone(),
            reason: format!("store identity file of {len} bytes, expected {LEN}"),
        });
    }
    let mut b = [0u8; LEN];
    file.read_exact_at(0, &mut [&mut b]).map_err(io_err)?;
    Identity::decode(&b, &path).map(Some)
}

/// Gives `dir` a new identity and makes it durable. `adopted`: the directory already holds
/// untagged data files of this format, which become the store's.
pub fn create(vfs: &dyn Vfs, dir: &Path, adopted: bool) -> Result<Identity> {
    let id = Identity {
        tag: new_tag(),
        adopted,
    };
    let tmp = dir.join(ID_TEMP_FILE);
    let path = dir.join(ID_FILE);
    clear_leftover_temp(vfs, &tmp)?;
    let io_err = |op, e| Error::io(op, &tmp, e);
    let file = vfs
        .open(&tmp, OpenMode::CreateNew)
        .map_err(|e| io_err("create", e))?;
    file.write_all_at(0, &[&id.encode()])
        .map_err(|e| io_err("write", e))?;
    file.sync_data().map_err(|e| io_err("sync", e))?;
    drop(file);
    vfs.rename(&tmp, &path).map_err(|e| io_err("rename", e))?;
    vfs.sync_dir(dir)
        .map_err(|e| Error::io("sync directory", dir, e))?;
    Ok(id)
}

/// Removes a `db.id.tmp` left by a crash while the identity was written: at most as long as
/// the identity, it holds nothing else. A longer file of that name is not the store's.
fn clear_leftover_temp(vfs: &dyn Vfs, tmp: &Path) -> Result<()> {
    let len = match vfs.open(tmp, OpenMode::ReadShared) {
        Ok(f) => f.len().map_err(|e| Error::io("read", tmp, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("open", tmp, e)),
    };
    if len > LEN as u64 {
        return Err(Error::Incompatible {
            path: tmp.into(),
            reason: format!("{len} bytes: not a store identity being written"),
        });
    }
    vfs.remove_file(tmp)
        .map_err(|e| Error::io("remove", tmp, e))
}

/// A random, non-zero tag: the standard library's per-process random hash keys, mixed with
/// the clock and the process id so that two stores made in one process differ too.
fn new_tag() -> u32 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    let x = h.finish();
    match (x ^ (x >> 32)) as u32 {
        0 => 1,
        t => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::sim::SimVfs;

    #[test]
    fn an_identity_round_trips_and_a_damaged_one_is_refused() {
        let vfs = SimVfs::new();
        let dir = Path::new("/db");
        vfs.create_dir_all(dir).unwrap();
        assert_eq!(read(&vfs, dir).unwrap(), None);
        let made = create(&vfs, dir, true).unwrap();
        assert_ne!(made.tag, 0);
        assert_eq!(read(&vfs, dir).unwrap(), Some(made));
        let path = dir.join(ID_FILE);
        for at in 0..LEN {
            let mut b = made.encode();
            b[at] ^= 0x10;
            vfs.remove_file(&path).unwrap();
            let f = vfs.open(&path, OpenMode::CreateNew).unwrap();
            f.write_all_at(0, &[&b]).unwrap();
            let err = read(&vfs, dir).unwrap_err();
            assert!(
                matches!(err, Error::Incompatible { .. }),
                "byte {at}: {err}"
            );
        }
    }

    #[test]
    fn ownership_follows_the_tag_and_the_adopted_flag() {
        let fresh = Identity {
            tag: 7,
            adopted: false,
        };
        assert!(fresh.owns(7) && !fresh.owns(0) && !fresh.owns(8));
        let adopted = Identity {
            tag: 7,
            adopted: true,
        };
        assert!(adopted.owns(7) && adopted.owns(0) && !adopted.owns(8));
    }

    #[test]
    fn tags_differ_between_stores() {
        let tags: std::collections::BTreeSet<u32> = (0..64).map(|_| new_tag()).collect();
        assert!(tags.len() > 60, "{tags:?}");
        assert!(!tags.contains(&0));
    }

    #[test]
    fn a_long_file_named_like_the_temporary_identity_is_left_alone() {
        let vfs = SimVfs::new();
        let dir = Path::new("/db");
        vfs.create_dir_all(dir).unwrap();
        let tmp = dir.join(ID_TEMP_FILE);
        let f = vfs.open(&tmp, OpenMode::CreateNew).unwrap();
        f.write_all_at(0, &[&[1u8; 100]]).unwrap();
        assert!(matches!(
            create(&vfs, dir, false),
            Err(Error::Incompatible { .. })
        ));
        assert_eq!(
            vfs.open(&tmp, OpenMode::ReadShared).unwrap().len().unwrap(),
            100
        );
    }
}
