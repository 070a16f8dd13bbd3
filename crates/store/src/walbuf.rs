//! A SQLite VFS that writes the WAL a commit at a time (issue 15, s25-walbuf).
//!
//! SQLite writes each WAL frame with two `write`s, its 24-byte header and then its page, so a
//! group commit of a hundred pages costs two hundred system calls, each of them also doing
//! the file system's work for the page it touches (a frame of 4,120 bytes straddles two).
//! On the network path that was a third of the writer thread's time (docs/BENCHMARKS.md,
//! s25). This VFS is SQLite's own (`unix`) with one change: the frames a transaction appends
//! to the WAL are gathered in memory and written with one `pwrite` when the commit frame is
//! complete, before SQLite publishes the commit in the WAL index. So the bytes on disk, their
//! order and the moment a reader can see a commit are those of SQLite's own VFS; only the
//! number of calls changes.
//!
//! The rules, each also a test below:
//! - Only writes that continue the previous write (or write the WAL header at offset 0, a
//!   restarted log) are gathered. Any other write (SQLite rewriting a frame of the same
//!   transaction in place, or the checksums of the frames after it) first writes what is
//!   gathered, then goes to the file at once.
//! - A frame header whose commit field (bytes 4–8: the database size after the commit) is
//!   not zero marks the commit: the write after it (the commit frame's page) ends the
//!   gathering, and its result is the result of writing everything gathered (`SQLITE_FULL`
//!   on a full disk, as SQLite's own VFS would have answered one of the writes).
//! - A read that overlaps what is gathered, a sync, a truncate, a size query, a file control
//!   and the close write what is gathered first. Past [`GATHER_BYTES_MAX`] it is written too.
//! - Files other than the WAL (the database, temporary files) are SQLite's own files, not
//!   wrapped at all.
//!
//! After every group commit the writer writes anything left gathered ([`flush`]), which is
//! nothing unless the rules above missed a commit (asserted in debug builds).

use rusqlite::ffi;
use std::ffi::{CStr, c_int, c_void};
use std::sync::OnceLock;

/// The name the writer's connection opens the database with.
pub const VFS_NAME: &CStr = c"suanpan-walbuf";

/// Bytes gathered at most before they are written (a bound on the memory of a transaction
/// larger than a group commit, such as a bulk load's).
pub const GATHER_BYTES_MAX: usize = 1 << 20;

/// Bytes handed to the real `xWrite` at once: SQLite's unix VFS writes at most 128 KiB − 1
/// per call (`seekAndWriteFd` masks the length with `0x1ffff`, and a longer write would come
/// back short, reported as a full disk), so what is gathered goes in pieces of 31 pages.
const WRITE_BYTES_MAX: usize = 0x1f000;

/// A WAL frame header's size (SQLite's `WAL_FRAME_HDRSIZE`).
const FRAME_HEADER: usize = 24;

/// A wrapped WAL file: SQLite's handle, the gathered bytes, then the real file (in the same
/// allocation, at [`REAL_AT`]).
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    gathered: Vec<u8>,
    /// The file offset of `gathered[0]`.
    start: i64,
    /// Where the previous write ended: a write starting here continues it.
    next: i64,
    /// The commit frame's header was written: the next write ends the commit.
    commit_pending: bool,
    /// Real `write` calls made (for the tests and the benchmark notes).
    writes: u64,
}

/// The real file's place in the allocation SQLite gives `xOpen`.
const REAL_AT: usize = std::mem::size_of::<WalFile>().next_multiple_of(16);

/// Registers the VFS once (not as the default); later calls return the first result.
pub fn register() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            // SAFETY: `sqlite3_vfs_find(NULL)` returns the default VFS, which SQLite keeps for
            // the life of the process; the copy is leaked, so it outlives every connection.
            unsafe {
                let real = ffi::sqlite3_vfs_find(std::ptr::null());
                if real.is_null() {
                    return Err("SQLite has no default VFS".into());
                }
                let mut vfs = *real;
                vfs.szOsFile = c_int::try_from(REAL_AT)
                    .ok()
                    .and_then(|at| at.checked_add((*real).szOsFile))
                    .ok_or("VFS file size overflow")?;
                vfs.pNext = std::ptr::null_mut();
                vfs.zName = VFS_NAME.as_ptr();
                vfs.pAppData = real.cast::<c_void>();
                vfs.xOpen = Some(open);
                let vfs = Box::leak(Box::new(vfs));
                match ffi::sqlite3_vfs_register(vfs, 0) {
                    ffi::SQLITE_OK => Ok(()),
                    rc => Err(format!("sqlite3_vfs_register: {rc}")),
                }
            }
        })
        .clone()
}

/// Bytes gathered and not yet written on `conn`'s WAL (0 when it has none, or it is not
/// opened through this VFS).
pub fn unwritten(conn: &rusqlite::Connection) -> usize {
    with_wal(conn, |w| w.gathered.len()).unwrap_or(0)
}

/// Real `write` calls made on `conn`'s WAL since it was opened.
pub fn writes(conn: &rusqlite::Connection) -> u64 {
    with_wal(conn, |w| w.writes).unwrap_or(0)
}

/// Writes what is gathered on `conn`'s WAL, if anything (a safety net after a commit), and
/// returns how many bytes that was: 0 unless a commit left frames behind.
pub fn flush(conn: &rusqlite::Connection) -> Result<usize, rusqlite::Error> {
    match with_wal(conn, |w| (w.gathered.len(), unsafe { write_gathered(w) })) {
        Some((left, ffi::SQLITE_OK)) => Ok(left),
        None => Ok(0),
        Some((_, rc)) => Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None)),
    }
}

fn with_wal<T>(conn: &rusqlite::Connection, f: impl FnOnce(&mut WalFile) -> T) -> Option<T> {
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: the handle is live for the borrow of `conn`; the file pointer SQLite returns
    // for its WAL is ours only if its methods are ours, checked before the cast.
    unsafe {
        let rc = ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_JOURNAL_POINTER,
            (&raw mut file).cast::<c_void>(),
        );
        if rc != ffi::SQLITE_OK || file.is_null() || (*file).pMethods != &raw const WAL_METHODS {
            return None;
        }
        Some(f(&mut *file.cast::<WalFile>()))
    }
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: `pAppData` is the real VFS (see `register`); `file` has `szOsFile` bytes,
    // room for the real file alone or for a `WalFile` followed by it.
    unsafe {
        let real_vfs = (*vfs).pAppData.cast::<ffi::sqlite3_vfs>();
        let Some(real_open) = (*real_vfs).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            return real_open(real_vfs, name, file, flags, out_flags);
        }
        (*file).pMethods = std::ptr::null();
        let real = file.cast::<u8>().add(REAL_AT).cast::<ffi::sqlite3_file>();
        (*real).pMethods = std::ptr::null();
        let rc = real_open(real_vfs, name, real, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            if !(*real).pMethods.is_null()
                && let Some(close) = (*(*real).pMethods).xClose
            {
                close(real);
            }
            return rc;
        }
        std::ptr::write(
            file.cast::<WalFile>(),
            WalFile {
                base: ffi::sqlite3_file {
                    pMethods: &raw const WAL_METHODS,
                },
                real,
                gathered: Vec::new(),
                start: 0,
                next: 0,
                commit_pending: false,
                writes: 0,
            },
        );
        ffi::SQLITE_OK
    }
}

/// SAFETY (every method below): SQLite calls them with a file `open` initialized as a
/// `WalFile`, from one thread at a time (the connection's).
unsafe fn wal<'a>(f: *mut ffi::sqlite3_file) -> &'a mut WalFile {
    unsafe { &mut *f.cast::<WalFile>() }
}

unsafe fn real_methods(w: &WalFile) -> &ffi::sqlite3_io_methods {
    unsafe { &*(*w.real).pMethods }
}

/// Writes what is gathered, with one call; forgets it whatever the result, so a failed
/// write is never repeated over later frames.
unsafe fn write_gathered(w: &mut WalFile) -> c_int {
    if w.gathered.is_empty() {
        return ffi::SQLITE_OK;
    }
    let mut rc = ffi::SQLITE_OK;
    let mut offset = w.start;
    for chunk in w.gathered.chunks(WRITE_BYTES_MAX) {
        // `chunks` of at most WRITE_BYTES_MAX: the length fits a c_int.
        let len = chunk.len() as c_int;
        rc = unsafe {
            match real_methods(w).xWrite {
                Some(f) => f(w.real, chunk.as_ptr().cast::<c_void>(), len, offset),
                None => ffi::SQLITE_IOERR_WRITE,
            }
        };
        w.writes += 1;
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += i64::from(len);
    }
    w.gathered.clear();
    if w.gathered.capacity() > GATHER_BYTES_MAX {
        w.gathered.shrink_to(GATHER_BYTES_MAX);
    }
    rc
}

unsafe extern "C" fn close(f: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let w = wal(f);
        let written = write_gathered(w);
        let closed = match real_methods(w).xClose {
            Some(c) => c(w.real),
            None => ffi::SQLITE_OK,
        };
        std::ptr::drop_in_place(f.cast::<WalFile>());
        if written != ffi::SQLITE_OK {
            written
        } else {
            closed
        }
    }
}

unsafe extern "C" fn read(
    f: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    offset: i64,
) -> c_int {
    unsafe {
        let w = wal(f);
        let end = w.start + w.gathered.len() as i64;
        if !w.gathered.is_empty() && offset < end && offset + i64::from(amt) > w.start {
            let rc = write_gathered(w);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        match real_methods(w).xRead {
            Some(r) => r(w.real, buf, amt, offset),
            None => ffi::SQLITE_IOERR_READ,
        }
    }
}

unsafe extern "C" fn write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    offset: i64,
) -> c_int {
    unsafe {
        let w = wal(f);
        let Ok(len) = usize::try_from(amt) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), len);
        let continues = offset == w.next || offset == 0;
        let ends_commit = std::mem::take(&mut w.commit_pending);
        w.commit_pending = len == FRAME_HEADER && bytes[4..8] != [0, 0, 0, 0];
        w.next = offset + i64::from(amt);
        if !continues {
            // A rewrite in place: what is gathered goes first, then this, as SQLite ordered them.
            let rc = write_gathered(w);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            w.writes += 1;
            return match real_methods(w).xWrite {
                Some(wr) => wr(w.real, buf, amt, offset),
                None => ffi::SQLITE_IOERR_WRITE,
            };
        }
        if w.gathered.is_empty() {
            w.start = offset;
        } else if offset != w.start + w.gathered.len() as i64 {
            // The WAL header of a restarted log while frames are gathered (not seen: SQLite
            // restarts the log before a transaction's first frame).
            let rc = write_gathered(w);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            w.start = offset;
        }
        w.gathered.extend_from_slice(bytes);
        if ends_commit || w.gathered.len() >= GATHER_BYTES_MAX {
            return write_gathered(w);
        }
        ffi::SQLITE_OK
    }
}

/// Calls the real method (nothing gathered is involved).
macro_rules! pass {
    ($f:expr, $method:ident, $missing:expr, |$m:ident, $real:ident| $call:expr) => {
        unsafe {
            let w = wal($f);
            let $real = w.real;
            match real_methods(w).$method {
                Some($m) => $call,
                None => $missing,
            }
        }
    };
}

/// Writes what is gathered, then calls the real method as `pass!` does.
macro_rules! after_writing {
    ($f:expr, $method:ident, $missing:expr, |$m:ident, $real:ident| $call:expr) => {{
        let rc = unsafe { write_gathered(wal($f)) };
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        pass!($f, $method, $missing, |$m, $real| $call)
    }};
}

unsafe extern "C" fn truncate(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    after_writing!(f, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, |m, r| m(r, size))
}

unsafe extern "C" fn sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    after_writing!(f, xSync, ffi::SQLITE_IOERR_FSYNC, |m, r| m(r, flags))
}

unsafe extern "C" fn file_size(f: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    after_writing!(f, xFileSize, ffi::SQLITE_IOERR_FSTAT, |m, r| m(r, size))
}

unsafe extern "C" fn file_control(f: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    after_writing!(f, xFileControl, ffi::SQLITE_NOTFOUND, |m, r| m(r, op, arg))
}

unsafe extern "C" fn lock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    pass!(f, xLock, ffi::SQLITE_OK, |m, r| m(r, level))
}

unsafe extern "C" fn unlock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    pass!(f, xUnlock, ffi::SQLITE_OK, |m, r| m(r, level))
}

unsafe extern "C" fn check_reserved_lock(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    pass!(f, xCheckReservedLock, ffi::SQLITE_OK, |m, r| m(r, out))
}

unsafe extern "C" fn sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    pass!(f, xSectorSize, 4096, |m, r| m(r))
}

unsafe extern "C" fn device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    pass!(f, xDeviceCharacteristics, 0, |m, r| m(r))
}

unsafe extern "C" fn shm_map(
    f: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    pass!(f, xShmMap, ffi::SQLITE_IOERR_SHMMAP, |m, r| m(
        r, page, size, extend, out
    ))
}

unsafe extern "C" fn shm_lock(
    f: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    pass!(f, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, |m, r| m(
        r, offset, n, flags
    ))
}

unsafe extern "C" fn shm_barrier(f: *mut ffi::sqlite3_file) {
    pass!(f, xShmBarrier, (), |m, r| m(r))
}

unsafe extern "C" fn shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    pass!(f, xShmUnmap, ffi::SQLITE_OK, |m, r| m(r, delete))
}

unsafe extern "C" fn fetch(
    f: *mut ffi::sqlite3_file,
    offset: i64,
    amt: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // A mapping would read the file behind what is gathered: write it first.
    after_writing!(
        f,
        xFetch,
        {
            *out = std::ptr::null_mut();
            ffi::SQLITE_OK
        },
        |m, r| m(r, offset, amt, out)
    )
}

unsafe extern "C" fn unfetch(f: *mut ffi::sqlite3_file, offset: i64, page: *mut c_void) -> c_int {
    pass!(f, xUnfetch, ffi::SQLITE_OK, |m, r| m(r, offset, page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};
    use std::path::Path;

    fn open(dir: &Path) -> Connection {
        register().unwrap();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags_and_vfs(
            dir.join("t.db"),
            flags,
            VFS_NAME.to_str().unwrap(),
        )
        .unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);",
        )
        .unwrap();
        conn
    }

    fn insert(conn: &Connection, from: i64, n: i64) {
        let tx = conn.unchecked_transaction().unwrap();
        for id in from..from + n {
            tx.execute("INSERT INTO t (id, v) VALUES (?1, zeroblob(1000))", [id])
                .unwrap();
        }
        tx.commit().unwrap();
    }

    /// What a process killed right now leaves: the database and WAL files as the OS holds
    /// them, opened by SQLite's own VFS (which recovers the log from its frames).
    fn as_after_a_crash(dir: &Path) -> Connection {
        let copy = dir.join("copy");
        std::fs::create_dir_all(&copy).unwrap();
        for f in ["t.db", "t.db-wal"] {
            std::fs::copy(dir.join(f), copy.join(f)).unwrap();
        }
        Connection::open(copy.join("t.db")).unwrap()
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_commit_is_a_few_writes_and_in_the_file_before_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        let reader = Connection::open(dir.path().join("t.db")).unwrap();
        insert(&conn, 0, 1);
        let before = writes(&conn);
        // ~250 pages: SQLite's own VFS makes two writes of each frame, ~500.
        insert(&conn, 1, 1000);
        let made = writes(&conn) - before;
        let frames_bytes = 250 * 4120;
        assert!(
            made <= (frames_bytes / WRITE_BYTES_MAX as u64) + 4,
            "{made} writes for one commit"
        );
        assert!(made >= 1);
        assert_eq!(unwritten(&conn), 0);
        assert_eq!(count(&reader), 1001);
        assert_eq!(count(&as_after_a_crash(dir.path())), 1001);
    }

    #[test]
    fn a_transaction_that_spills_and_rewrites_its_frames_recovers_whole() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        insert(&conn, 0, 400);
        // A cache of a few pages: the transaction spills frames to the log, then SQLite
        // rewrites them in place and their checksums at the commit.
        conn.execute_batch("PRAGMA cache_size = 8").unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for round in 0..3 {
            for id in 0..400 {
                tx.execute(
                    "UPDATE t SET v = zeroblob(1000 + ?2) WHERE id = ?1",
                    [id, round],
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
        assert_eq!(unwritten(&conn), 0);
        let copy = as_after_a_crash(dir.path());
        let ok: String = copy
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let sizes: i64 = copy
            .query_row("SELECT count(*) FROM t WHERE length(v) = 1002", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(sizes, 400);
    }

    #[test]
    fn a_restarted_log_is_gathered_from_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path());
        insert(&conn, 0, 200);
        conn.execute_batch("PRAGMA wal_checkpoint(RESTART)")
            .unwrap();
        let before = writes(&conn);
        insert(&conn, 200, 200);
        let made = writes(&conn) - before;
        assert!(
            made <= 4,
            "{made} writes for the first commit of a restarted log"
        );
        assert_eq!(unwritten(&conn), 0);
        assert_eq!(count(&as_after_a_crash(dir.path())), 400);
    }

    #[test]
    fn other_connections_keep_sqlites_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let plain = Connection::open(dir.path().join("t.db")).unwrap();
        plain
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)",
            )
            .unwrap();
        assert_eq!(writes(&plain), 0);
        assert_eq!(unwritten(&plain), 0);
        assert_eq!(flush(&plain).unwrap(), 0);
    }
}
