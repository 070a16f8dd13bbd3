//! The shared context of every command: the store, the language, the output mode, and how a
//! failure becomes a message and an exit code.

use crate::args::{Cli, LangArg, Top};
use crate::output;
use anyhow::Context;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use suanpan_core::refusal::AccessRefused;
use suanpan_core::{Lang, Policy, Refusal, Transaction};
use suanpan_store::anchor::Anchor;
use suanpan_store::backoffice::Backoffice;
use suanpan_store::backup::PAN_KEY_FILE;
use suanpan_store::keys::{FileKek, Keys};
use suanpan_store::pg::is_postgres_url;
use suanpan_store::pkcs11::{self, Pkcs11Config, Pkcs11Kek};
use suanpan_store::{
    Fingerprinter, OpenOptions, PgOptions, PgStore, SqliteStore, Store, StoreError,
};

/// Why a command did not succeed.
pub enum Fail {
    /// A rule or an access check said no (audited by the store where the rule says so).
    Refused(Box<dyn Refusal>),
    /// The issuer declined; the declined transaction is booked.
    Declined(Box<Transaction>),
    /// The store failed; nothing was saved.
    Store(StoreError),
    /// Anything else (IO, bad file), with its cause chain.
    Other(anyhow::Error),
    /// A user error with a catalog message and remedy (`key.msg`, `key.fix`).
    Message {
        /// Catalog key without the suffix.
        key: &'static str,
        /// Values for `{0}`, `{1}`…
        args: Vec<String>,
    },
    /// The command already printed its (negative) result; only the exit code is left.
    Reported,
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        // A missing or failing pg_dump is the operator's to fix, not a storage fault.
        match e {
            StoreError::ToolMissing(tool) => Fail::Message {
                key: "error.pg_tool_missing",
                args: vec![tool],
            },
            StoreError::ToolFailed(tool, said) => Fail::Message {
                key: "error.pg_tool_failed",
                args: vec![tool, said],
            },
            e => Fail::Store(e),
        }
    }
}

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Fail {
        Fail::Other(e)
    }
}

impl From<AccessRefused> for Fail {
    fn from(r: AccessRefused) -> Fail {
        Fail::Refused(Box::new(r))
    }
}

/// What every command gets.
pub struct App {
    /// The data directory.
    pub data_dir: PathBuf,
    /// JSON output.
    pub json: bool,
    /// Message language.
    pub lang: Lang,
    /// The merchant's time zone, read from the policy once.
    pub zone: std::sync::OnceLock<jiff::tz::TimeZone>,
    /// `--database` / `SUANPAN_DATABASE`: a PostgreSQL URL.
    pub database: Option<String>,
    /// `--kek-file` / `SUANPAN_KEK_FILE`.
    pub kek_file: Option<PathBuf>,
    /// `--pkcs11-module` / `SUANPAN_PKCS11_MODULE`.
    pub pkcs11_module: Option<PathBuf>,
    /// `--pkcs11-token` / `SUANPAN_PKCS11_TOKEN`.
    pub pkcs11_token: Option<String>,
    /// The KEK, loaded once.
    pub keys: std::sync::OnceLock<Keys>,
}

/// The PKCS#11 token label used when none is configured.
pub const DEFAULT_PKCS11_TOKEN: &str = "suanpan";

/// The config file in the data directory: `[policy]` overrides the money rules' defaults.
pub const CONFIG_FILE: &str = "suanpan.toml";

/// The config file's sections: `[policy]` (money rules), `[risk]` (the risk rules, issue 13)
/// and `[server]` (`suanpan serve`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The money rules' knobs.
    #[serde(default)]
    pub policy: Policy,
    /// The risk rules' knobs (issue 13); the reader puts them into `policy.risk`.
    #[serde(default)]
    pub risk: suanpan_core::risk::RiskParams,
    /// Addresses and limits of `suanpan serve`.
    #[serde(default)]
    pub server: suanpan_host::ServerConfig,
    /// The card network upstream (issue 15): sales go to this switch instead of the inline
    /// issuer simulator (`addr`, `acquirer_id`, `upstream_timeout_ms`, `zpk`).
    #[serde(default)]
    pub upstream: Option<suanpan_upstream::config::UpstreamSection>,
    /// A PostgreSQL URL: the store lives there instead of in the data directory.
    #[serde(default)]
    pub database: Option<String>,
    /// The key-encryption key file (outside the data directory).
    #[serde(default)]
    pub kek_file: Option<PathBuf>,
    /// A PKCS#11 module: the KEK and the TMKs live in its token instead (docs/SECURITY.md).
    #[serde(default)]
    pub pkcs11_module: Option<PathBuf>,
    /// The PKCS#11 token's label (default `suanpan`).
    #[serde(default)]
    pub pkcs11_token: Option<String>,
    /// The merchant back-office of `suanpan serve` (`http = "HOST:PORT"`, session and limits).
    #[serde(default)]
    pub web: suanpan_web::WebConfig,
    /// Outgoing webhooks (`allow_private`, `worker_interval_ms`, `timeout_ms`).
    #[serde(default)]
    pub notify: suanpan_notify::NotifyConfig,
    /// Scheduled operations (`backup_keep_daily`, `backup_keep_weekly`, hours, drill day).
    #[serde(default)]
    pub schedule: suanpan_notify::schedule::ScheduleConfig,
    /// The embedded store's memory (`writer_cache_mib`).
    #[serde(default)]
    pub store: StoreSection,
}

/// `[store]`: how much memory the embedded store's writer keeps.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// The SQLite writer's page cache, MiB (default 4; 1–4096). More keeps more of a large
    /// journal's index pages in the process instead of reading them back from the OS, at the
    /// price of resident memory (docs/DECISIONS.md, "The writer's page cache").
    #[serde(default = "StoreSection::default_writer_cache_mib")]
    pub writer_cache_mib: u32,
    /// PostgreSQL: the writers one node runs, each with its own connection (default 2;
    /// 1–16). Each adds a server backend the node's sales run on (docs/DECISIONS.md,
    /// "s20-pg"); the embedded store has one writer whatever this says.
    #[serde(default = "StoreSection::default_pg_writers")]
    pub pg_writers: u32,
    /// The nice value of the store's writer threads (and the embedded store's sync thread),
    /// −20 to 19; default 0, as inherited. Below 0 the writer runs before other work on
    /// shared cores; that needs `CAP_SYS_NICE` (or an `RLIMIT_NICE` that allows it),
    /// else `serve` logs that it was not applied and runs as before (docs/DECISIONS.md,
    /// "s28-nice").
    #[serde(default)]
    pub writer_nice: i32,
}

impl StoreSection {
    /// The most a config may give the writer's cache, MiB.
    pub const WRITER_CACHE_MIB_MAX: u32 = 4096;

    fn default_writer_cache_mib() -> u32 {
        (suanpan_store::sqlite::WRITER_CACHE_KIB / 1024) as u32
    }

    fn default_pg_writers() -> u32 {
        suanpan_store::pg::PG_WRITERS as u32
    }

    /// The PostgreSQL writers of one node, or why the configured number is refused.
    pub fn pg_writers(&self) -> anyhow::Result<usize> {
        let max = suanpan_store::pg::PG_WRITERS_MAX;
        match usize::try_from(self.pg_writers) {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => anyhow::bail!(
                "[store] pg_writers = {}: 写入连接数须在 1 至 {max} 之间 / the writers must be 1 to {max}",
                self.pg_writers
            ),
        }
    }

    /// The writer threads' nice value, or why the configured one is refused.
    pub fn writer_nice(&self) -> anyhow::Result<i32> {
        if !(-20..=19).contains(&self.writer_nice) {
            anyhow::bail!(
                "[store] writer_nice = {}: 优先级（nice 值）须在 -20 至 19 之间 / the nice value must be -20 to 19",
                self.writer_nice
            );
        }
        Ok(self.writer_nice)
    }

    /// The writer's cache in KiB, or why the configured size is refused.
    pub fn writer_cache_kib(&self) -> anyhow::Result<i64> {
        if !(1..=Self::WRITER_CACHE_MIB_MAX).contains(&self.writer_cache_mib) {
            anyhow::bail!(
                "[store] writer_cache_mib = {}: 写入缓存须在 1 至 {} MiB 之间 / the writer's cache must be 1 to {} MiB",
                self.writer_cache_mib,
                Self::WRITER_CACHE_MIB_MAX,
                Self::WRITER_CACHE_MIB_MAX
            );
        }
        Ok(i64::from(self.writer_cache_mib) * 1024)
    }
}

impl Default for StoreSection {
    fn default() -> StoreSection {
        StoreSection {
            writer_cache_mib: StoreSection::default_writer_cache_mib(),
            pg_writers: StoreSection::default_pg_writers(),
            writer_nice: 0,
        }
    }
}

impl ConfigFile {
    /// Reads a config file; a missing file is the defaults.
    pub fn read(path: &Path) -> anyhow::Result<ConfigFile> {
        if !path.exists() {
            return Ok(ConfigFile::default());
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut cfg: ConfigFile =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        cfg.policy.risk = cfg.risk.clone();
        // `duplicate_warn_minutes` of `[policy]` named the CLI's duplicate guard before the
        // rule moved into core (issue 13): a file that still sets it keeps its window.
        let before = Policy::default().duplicate_warn_minutes;
        if cfg.policy.duplicate_warn_minutes != before
            && cfg.risk.duplicate_minutes
                == suanpan_core::risk::RiskParams::default().duplicate_minutes
        {
            cfg.policy.risk.duplicate_minutes = cfg.policy.duplicate_warn_minutes;
        }
        cfg.policy
            .validate()
            .with_context(|| format!("in {}", path.display()))?;
        cfg.store
            .writer_cache_kib()
            .with_context(|| format!("in {}", path.display()))?;
        cfg.store
            .pg_writers()
            .with_context(|| format!("in {}", path.display()))?;
        cfg.store
            .writer_nice()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(cfg)
    }
}

impl App {
    /// A moment as the merchant reads it: `YYYY-MM-DD HH:MM:SS` in the policy's time zone.
    pub fn local_time(&self, at: jiff::Timestamp) -> String {
        let zone = self.zone.get_or_init(|| {
            self.policy()
                .ok()
                .and_then(|p| p.zone().ok())
                .unwrap_or(jiff::tz::TimeZone::UTC)
        });
        at.to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// Reads the policy from the config file if there is one.
    pub fn policy(&self) -> anyhow::Result<Policy> {
        Ok(ConfigFile::read(&self.data_dir.join(CONFIG_FILE))?.policy)
    }

    /// The evidence folder: `evidence_dir` in `[web]` of the config file, else
    /// `DATA_DIR/evidence` (where the back-office keeps uploads).
    pub fn evidence_dir(&self) -> anyhow::Result<PathBuf> {
        let cfg = ConfigFile::read(&self.data_dir.join(CONFIG_FILE))?;
        Ok(cfg
            .web
            .evidence_dir
            .unwrap_or_else(|| suanpan_store::evidence::evidence_dir(&self.data_dir)))
    }

    /// What a backup copies besides the store, and where backups go by default.
    pub fn backup_dirs(&self) -> anyhow::Result<(PathBuf, PathBuf)> {
        let cfg = ConfigFile::read(&self.data_dir.join(CONFIG_FILE))?;
        let backups = cfg
            .web
            .backup_dir
            .unwrap_or_else(|| self.data_dir.join(suanpan_store::backup::BACKUPS_DIR));
        Ok((self.evidence_dir()?, backups))
    }

    /// The PostgreSQL URL in force, if any: `--database` / `SUANPAN_DATABASE`, else
    /// `database` in the config file. Anything but a `postgres://` URL is refused.
    pub fn database(&self) -> Result<Option<String>, Fail> {
        let url = match &self.database {
            Some(d) => Some(d.clone()),
            None => ConfigFile::read(&self.data_dir.join(CONFIG_FILE))?.database,
        };
        match url {
            Some(u) if !is_postgres_url(&u) => Err(Fail::Store(StoreError::Invalid(
                "--database / SUANPAN_DATABASE / database = must be a postgres:// URL".into(),
            ))),
            other => Ok(other),
        }
    }

    /// Opens the store on whichever backend is configured (serve, bench, backup).
    pub fn open_any(&self, opts: OpenOptions) -> Result<Arc<dyn Store>, Fail> {
        self.open_with(self.keys()?, opts)
    }

    /// Opens the store on whichever backend is configured, under the KEK `keys`.
    pub fn open_with(&self, keys: Keys, opts: OpenOptions) -> Result<Arc<dyn Store>, Fail> {
        self.open_with_policy(keys, self.policy()?, opts)
    }

    /// [`App::open_with`] with `policy` instead of the config file's (`bench seed` books
    /// with the risk rules off unless asked).
    pub fn open_with_policy(
        &self,
        keys: Keys,
        policy: suanpan_core::Policy,
        opts: OpenOptions,
    ) -> Result<Arc<dyn Store>, Fail> {
        let opts = OpenOptions {
            policy,
            ..self.under(keys, opts)?
        };
        Ok(match self.database()? {
            Some(url) => Arc::new(PgStore::open(PgOptions::new(&url), opts)?),
            None => Arc::new(SqliteStore::open(&self.data_dir, opts)?),
        })
    }

    /// Opens the store on whichever backend is configured, with the config file's policy.
    pub fn open_store(&self) -> Result<Arc<dyn Store>, Fail> {
        self.open_any(suanpan_service::open_options())
    }

    /// Opens the embedded store. The commands that only run on it refuse a configured
    /// PostgreSQL database clearly instead of silently using the data directory.
    pub fn open(&self) -> Result<SqliteStore, Fail> {
        if self.database()?.is_some() {
            return Err(Fail::Message {
                key: "error.sqlite_only",
                args: Vec::new(),
            });
        }
        self.open_embedded()
    }

    /// Opens the embedded store in the data directory, whatever database is configured
    /// (`admin copy-to-postgres` reads it to move it there).
    pub fn open_embedded(&self) -> Result<SqliteStore, Fail> {
        let opts = OpenOptions {
            policy: self.policy()?,
            ..self.under(self.keys()?, suanpan_service::open_options())?
        };
        Ok(SqliteStore::open(&self.data_dir, opts)?)
    }

    /// The current KEK, the retired ones beside its file and the audit anchor: what backup
    /// verification and restore need.
    pub fn keyring(&self) -> Result<suanpan_store::backup::Keyring, Fail> {
        Ok(suanpan_store::backup::Keyring::beside(
            self.keys()?,
            &self.kek_path()?,
            &self.data_dir,
        ))
    }

    /// `opts` under the KEK `keys`, with the audit anchor beside the KEK file unless `opts`
    /// names one: how every command opens or creates the store.
    fn under(&self, keys: Keys, opts: OpenOptions) -> Result<OpenOptions, Fail> {
        let anchor = self.anchor(&keys, opts.anchor.clone())?;
        let store = ConfigFile::read(&self.data_dir.join(CONFIG_FILE))?.store;
        Ok(OpenOptions {
            anchor,
            keys,
            writer_cache_kib: store.writer_cache_kib()?,
            pg_writers: store.pg_writers()?,
            writer_nice: store.writer_nice()?,
            ..opts
        })
    }

    /// The audit anchor beside the KEK file (`<kek>.anchor`), signing under `keys`, unless
    /// the caller gave one.
    pub fn anchor(
        &self,
        keys: &Keys,
        given: Option<Arc<Anchor>>,
    ) -> Result<Option<Arc<Anchor>>, Fail> {
        if given.is_some() {
            return Ok(given);
        }
        let path = suanpan_store::anchor::path_beside(&self.kek_path()?);
        Ok(Some(Anchor::new(&path, &**keys)?))
    }

    /// Where the KEK file is: `--kek-file` / `SUANPAN_KEK_FILE`, else `kek_file` in the
    /// config file, else `<data dir>.kek` beside (never inside) the data directory.
    pub fn kek_path(&self) -> Result<PathBuf, Fail> {
        if let Some(p) = &self.kek_file {
            return Ok(p.clone());
        }
        if let Some(p) = ConfigFile::read(&self.data_dir.join(CONFIG_FILE))?.kek_file {
            return Ok(p);
        }
        let mut name = self
            .data_dir
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "suanpan-data".into());
        name.push(".kek");
        Ok(self.data_dir.with_file_name(name))
    }

    /// The PKCS#11 token to use, when one is configured (`--pkcs11-module` /
    /// `SUANPAN_PKCS11_MODULE` / `pkcs11_module =`); its PIN comes from `SUANPAN_PKCS11_PIN`.
    pub fn pkcs11(&self) -> Result<Option<Pkcs11Config>, Fail> {
        let file = ConfigFile::read(&self.data_dir.join(CONFIG_FILE))?;
        let Some(module) = self.pkcs11_module.clone().or(file.pkcs11_module) else {
            return Ok(None);
        };
        let token = self
            .pkcs11_token
            .clone()
            .or(file.pkcs11_token)
            .unwrap_or_else(|| DEFAULT_PKCS11_TOKEN.to_owned());
        let pin = std::env::var(pkcs11::PIN_ENV).map_err(|_| {
            StoreError::Key(format!(
                "未设置 HSM 令牌的用户 PIN / the token's user PIN is not set: {}",
                pkcs11::PIN_ENV
            ))
        })?;
        Ok(Some(Pkcs11Config {
            module,
            token,
            pin: zeroize::Zeroizing::new(pin),
        }))
    }

    /// Where the KEK is, for people: the KEK file's path, or the PKCS#11 token.
    pub fn kek_where(&self) -> String {
        match self.pkcs11() {
            Ok(Some(cfg)) => format!("PKCS#11 token \"{}\" ({})", cfg.token, cfg.module.display()),
            _ => self
                .kek_path()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }

    /// The KEK provider, loaded once: the PKCS#11 token when one is configured, else the
    /// KEK file. A missing, misplaced or unreadable KEK is refused with its message, before
    /// any store is opened.
    pub fn keys(&self) -> Result<Keys, Fail> {
        if let Some(k) = self.keys.get() {
            return Ok(k.clone());
        }
        let k = match self.pkcs11()? {
            Some(cfg) => Pkcs11Kek::open(&cfg)?,
            None => FileKek::load(&self.kek_path()?, &self.data_dir)?,
        };
        Ok(self.keys.get_or_init(|| k).clone())
    }

    /// Makes the KEK file if there is none yet (init, `serve --demo`); returns its path when
    /// it was made now. Nothing to make when the KEK is in a PKCS#11 token.
    pub fn ensure_kek(&self) -> Result<Option<PathBuf>, Fail> {
        if self.pkcs11()?.is_some() {
            return Ok(None);
        }
        let path = self.kek_path()?;
        if path.exists() {
            return Ok(None);
        }
        if suanpan_store::keys::inside(&path, &self.data_dir) {
            return Err(StoreError::KekInsideData(path.display().to_string()).into());
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        FileKek::create(&path)?;
        Ok(Some(path))
    }

    /// The PAN fingerprint key of this data directory, unwrapped under the KEK. A `pan.key`
    /// of an earlier build (clear hex) is wrapped in place first.
    pub fn fingerprinter(&self) -> Result<Fingerprinter, Fail> {
        let path = self.data_dir.join(PAN_KEY_FILE);
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(&path)
                .map_err(|_| StoreError::NotInitialized(self.data_dir.display().to_string()))?,
        );
        let keys = self.keys()?;
        let key = if suanpan_store::keys::is_wrapped(text.trim()) {
            keys.unwrap(PAN_KEY_FILE, text.trim())?
        } else {
            let clear = suanpan_store::keys::Secret::new(
                hex::decode(text.trim()).context("pan.key is not hex")?,
            );
            suanpan_store::keys::write_secret_file(
                &path,
                &keys.wrap(PAN_KEY_FILE, clear.expose())?,
                false,
            )?;
            clear
        };
        let key: [u8; 32] = key
            .expose()
            .try_into()
            .map_err(|_| anyhow::anyhow!("pan.key must hold 32 bytes"))?;
        Ok(Fingerprinter::new(key))
    }

    /// Creates the store in the data directory with its PAN key, seeded with the demo data
    /// when asked (init, `demo run` and `serve --demo` on an empty directory).
    pub fn create_store(&self, opts: OpenOptions, demo: bool) -> Result<SqliteStore, Fail> {
        self.ensure_kek()?;
        let opts = self.under(self.keys()?, opts)?;
        self.make_data_dir()?;
        let store = SqliteStore::create(&self.data_dir, opts)?;
        self.write_pan_key()?;
        store.ensure_backoffice_schema()?;
        if demo {
            store.seed_demo(&self.fingerprinter()?)?;
            store.seed_backoffice_demo()?;
        }
        Ok(store)
    }

    /// `init` and `serve --demo` on PostgreSQL: creates the tables at `url`, keeps (or makes)
    /// the data directory's PAN key — every node needs the same one — and seeds the demo.
    pub fn create_pg_store(
        &self,
        url: &str,
        opts: OpenOptions,
        demo: bool,
    ) -> Result<Arc<dyn Store>, Fail> {
        self.ensure_kek()?;
        let opts = self.under(self.keys()?, opts)?;
        self.make_data_dir()?;
        if !self.data_dir.join(PAN_KEY_FILE).exists() {
            self.write_pan_key()?;
        }
        let store = PgStore::create(PgOptions::new(url), opts)?;
        store.ensure_backoffice_schema()?;
        if demo {
            suanpan_store::admin::seed_demo_with(
                &store,
                &self.fingerprinter()?,
                &suanpan_store::auth::hash_password,
            )?;
            store.seed_backoffice_demo()?;
        }
        Ok(Arc::new(store))
    }

    /// The data directory, readable by its owner only (0700).
    fn make_data_dir(&self) -> Result<(), Fail> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        suanpan_store::keys::restrict(&self.data_dir)
            .with_context(|| format!("chmod {}", self.data_dir.display()))?;
        Ok(())
    }

    /// Writes a new PAN key (init only), wrapped under the KEK, readable by the owner alone.
    pub fn write_pan_key(&self) -> Result<(), Fail> {
        let path = self.data_dir.join(PAN_KEY_FILE);
        let key = zeroize::Zeroizing::new(Fingerprinter::random_key());
        let wrapped = self.keys()?.wrap(PAN_KEY_FILE, &key[..])?;
        suanpan_store::keys::write_secret_file(&path, &wrapped, false)?;
        Ok(())
    }

    /// True when stdout is a terminal (progress bars).
    pub fn interactive(&self) -> bool {
        !self.json && std::io::stdout().is_terminal()
    }
}

/// Runs the parsed command line and turns the result into an exit code.
pub fn run(cli: Cli) -> ExitCode {
    let app = App {
        data_dir: cli.data_dir,
        json: cli.json,
        lang: match cli.lang {
            LangArg::Zh => Lang::Zh,
            LangArg::En => Lang::En,
        },
        zone: std::sync::OnceLock::new(),
        database: cli.database,
        kek_file: cli.kek_file,
        pkcs11_module: cli.pkcs11_module,
        pkcs11_token: cli.pkcs11_token,
        keys: std::sync::OnceLock::new(),
    };
    let result = dispatch(&app, cli.command);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(fail) => {
            output::failure(&app, &fail);
            match fail {
                // A warning awaiting confirmation is an answer ("not yet"), not a failure.
                Fail::Refused(_) | Fail::Declined(_) => ExitCode::from(3),
                Fail::Message { key, .. } if key.starts_with("warn.") => ExitCode::from(3),
                Fail::Store(_) | Fail::Other(_) | Fail::Message { .. } | Fail::Reported => {
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn dispatch(app: &App, cmd: Top) -> Result<(), Fail> {
    match cmd {
        Top::Init { demo } => crate::cmd_admin::init(app, demo),
        Top::Demo(c) => crate::cmd_demo::run(app, c),
        Top::Txn(c) => crate::cmd_txn::run(app, c),
        Top::Batch(c) => crate::cmd_batch::run(app, c),
        Top::Receipt(c) => crate::cmd_txn::receipt(app, c),
        Top::Export(a) => crate::cmd_export::run(app, a),
        Top::Audit(c) => crate::cmd_admin::audit(app, c),
        Top::Backup(c) => crate::cmd_admin::backup(app, c),
        Top::Operator(c) => crate::cmd_admin::operator(app, c),
        Top::Admin(c) => crate::cmd_admin::admin(app, c),
        Top::Check => crate::cmd_admin::check(app),
        Top::Serve(a) => crate::cmd_serve::run(app, a),
        Top::Bench(c) => crate::cmd_bench::run(app, c),
        Top::Terminal(a) => crate::cmd_terminal::run(app, a),
        Top::Sim(a) => crate::cmd_sim::run_cmd(app, a),
        Top::SwitchSim(a) => crate::cmd_switch::run(app, a),
        Top::Keys(c) => crate::cmd_keys::run(app, c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's `suanpan.toml` example, as a user would copy it.
    fn readme_config() -> String {
        let readme = include_str!("../../../README.md");
        let start = readme.find("```toml\n").expect("README has a toml block") + "```toml\n".len();
        let len = readme[start..].find("```").expect("the toml block ends");
        readme[start..start + len].to_owned()
    }

    #[test]
    fn the_readme_config_block_is_a_valid_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, readme_config()).unwrap();
        let cfg = ConfigFile::read(&path).expect("the README's config parses");
        assert_eq!(cfg.store.writer_cache_mib, 4);
        assert_eq!(
            cfg.store.writer_cache_kib().unwrap(),
            suanpan_store::sqlite::WRITER_CACHE_KIB
        );
    }

    #[test]
    fn a_writer_nice_outside_its_range_is_refused_with_its_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        for bad in [-21, 20] {
            std::fs::write(&path, format!("[store]\nwriter_nice = {bad}\n")).unwrap();
            let e = format!("{:#}", ConfigFile::read(&path).unwrap_err());
            assert!(e.contains("-20 至 19"), "{e}");
            assert!(e.contains("must be -20 to 19"), "{e}");
        }
        std::fs::write(&path, "[store]\nwriter_nice = -10\n").unwrap();
        let cfg = ConfigFile::read(&path).unwrap();
        assert_eq!(cfg.store.writer_nice().unwrap(), -10);
        assert_eq!(StoreSection::default().writer_nice().unwrap(), 0);
    }

    #[test]
    fn a_writer_cache_outside_its_range_is_refused_with_its_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        for bad in [0, StoreSection::WRITER_CACHE_MIB_MAX + 1] {
            std::fs::write(&path, format!("[store]\nwriter_cache_mib = {bad}\n")).unwrap();
            let e = format!("{:#}", ConfigFile::read(&path).unwrap_err());
            assert!(e.contains("1 至 4096 MiB"), "{e}");
        }
        std::fs::write(&path, "[store]\nwriter_cache_mib = 64\n").unwrap();
        let cfg = ConfigFile::read(&path).unwrap();
        assert_eq!(cfg.store.writer_cache_kib().unwrap(), 64 * 1024);
    }

    #[test]
    fn pg_writers_outside_their_range_are_refused_with_their_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        for bad in [0, 17] {
            std::fs::write(&path, format!("[store]\npg_writers = {bad}\n")).unwrap();
            let e = format!("{:#}", ConfigFile::read(&path).unwrap_err());
            assert!(e.contains("1 至 16") && e.contains("pg_writers"), "{e}");
        }
        std::fs::write(&path, "[store]\npg_writers = 3\n").unwrap();
        assert_eq!(
            ConfigFile::read(&path).unwrap().store.pg_writers().unwrap(),
            3
        );
        std::fs::write(&path, "[store]\n").unwrap();
        assert_eq!(
            ConfigFile::read(&path).unwrap().store.pg_writers().unwrap(),
            suanpan_store::pg::PG_WRITERS
        );
    }
}
