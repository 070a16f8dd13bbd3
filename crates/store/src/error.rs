//! Storage failures, distinct from rule refusals: a refusal is an answer, this is a fault.

use suanpan_core::i18n::{Lang, tr};

/// Why the store could not do what was asked. Nothing was committed when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process held the write lock past the busy timeout.
    #[error("the store is busy (another process is writing)")]
    Busy,
    /// The disk is full.
    #[error("disk full")]
    DiskFull,
    /// The data directory has no store yet.
    #[error("not initialized: {0}")]
    NotInitialized(String),
    /// Any other SQLite or IO failure, with its cause.
    #[error("storage error: {0}")]
    Sqlite(String),
    /// The caller asked for something malformed (unknown id, bad filter).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A backup failed verification.
    #[error("backup invalid: {0}")]
    BackupInvalid(String),
    /// A restore would overwrite a live store.
    #[error("live store present at {0}")]
    LiveStore(String),
    /// Another process has the embedded store open (`admin copy-to-postgres` needs it alone):
    /// the database file.
    #[error("the store {0} is in use by another process")]
    InUse(String),
    /// The PostgreSQL database or schema a copy was to write into holds something already.
    #[error("the target {0} is not empty")]
    TargetNotEmpty(String),
    /// A bounded wait ran out: what did not answer in time. The operation's outcome is
    /// unknown (it may still complete).
    #[error("no answer in time: {0}")]
    TimedOut(String),
    /// The writer thread is gone (the process is shutting down).
    #[error("writer stopped")]
    WriterGone,
    /// A PostgreSQL client tool (`pg_dump`, `pg_restore`) is not installed.
    #[error("{0} was not found")]
    ToolMissing(String),
    /// A PostgreSQL client tool failed: the tool and what it said.
    #[error("{0} failed: {1}")]
    ToolFailed(String, String),
    /// A key could not be wrapped, unwrapped or loaded (what, never the key).
    #[error("key error: {0}")]
    Key(String),
    /// The store's keys were wrapped under another KEK than the one given.
    #[error("the keys were wrapped under KEK {wrapped_by}, not the given KEK {given}")]
    KekMismatch {
        /// The id of the KEK that wrapped them.
        wrapped_by: String,
        /// The id of the KEK given.
        given: String,
    },
    /// No KEK file at the path given.
    #[error("no KEK file at {0}")]
    KekMissing(String),
    /// The KEK file lies inside the data directory.
    #[error("the KEK file {0} is inside the data directory")]
    KekInsideData(String),
    /// A terminal master key refused as weak: why.
    #[error("weak key: {0}")]
    WeakKey(String),
    /// The audit anchor file cannot be trusted: a record that does not verify (edited, or
    /// signed under another KEK), or a file that cannot be read.
    #[error("audit anchor: {0}")]
    AnchorInvalid(String),
}

impl StoreError {
    /// The catalog key of the message shown to people.
    pub fn key(&self) -> &'static str {
        match self {
            StoreError::Busy => "error.busy",
            StoreError::DiskFull => "error.disk_full",
            StoreError::NotInitialized(_) => "error.not_initialized",
            StoreError::Invalid(_) => "error.invalid_input",
            StoreError::BackupInvalid(_) => "error.backup_invalid",
            StoreError::LiveStore(_) => "error.live_store",
            StoreError::ToolMissing(_) => "error.pg_tool_missing",
            StoreError::ToolFailed(..) => "error.pg_tool_failed",
            StoreError::Key(_) => "error.key",
            StoreError::KekMismatch { .. } => "error.kek_wrong",
            StoreError::KekMissing(_) => "error.kek_missing",
            StoreError::KekInsideData(_) => "error.kek_inside",
            StoreError::WeakKey(_) => "error.weak_key",
            StoreError::AnchorInvalid(_) => "error.anchor_invalid",
            StoreError::TimedOut(_) => "error.timed_out",
            StoreError::InUse(_) => "error.store_in_use",
            StoreError::TargetNotEmpty(_) => "error.pg_target_not_empty",
            StoreError::Sqlite(_) | StoreError::WriterGone => "error.storage",
        }
    }
    /// The message for people.
    pub fn message(&self, lang: Lang) -> String {
        let args = match self {
            StoreError::Invalid(what)
            | StoreError::Key(what)
            | StoreError::KekMissing(what)
            | StoreError::KekInsideData(what)
            | StoreError::WeakKey(what)
            | StoreError::AnchorInvalid(what)
            | StoreError::InUse(what)
            | StoreError::TargetNotEmpty(what) => vec![what.clone()],
            StoreError::KekMismatch { wrapped_by, given } => {
                vec![wrapped_by.clone(), given.clone()]
            }
            _ => self.tool_args(),
        };
        tr(lang, &format!("{}.msg", self.key()), &args)
    }
    /// What to do.
    pub fn remedy(&self, lang: Lang) -> String {
        tr(lang, &format!("{}.fix", self.key()), &self.tool_args())
    }
    fn tool_args(&self) -> Vec<String> {
        match self {
            StoreError::ToolMissing(tool) => vec![tool.clone()],
            StoreError::ToolFailed(tool, said) => vec![tool.clone(), said.clone()],
            _ => Vec::new(),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Busy,
            Some(ErrorCode::DiskFull) => StoreError::DiskFull,
            _ => StoreError::Sqlite(e.to_string()),
        }
    }
}
