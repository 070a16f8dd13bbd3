//! `serve` (the POS center: 8583 listener, scheduler, health and metrics) and `demo keys`.

use crate::app::{App, CONFIG_FILE, ConfigFile, Fail};
use crate::output;
use anyhow::Context;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use suanpan_core::Lang;
use suanpan_iso8583::Zpk;
use suanpan_service::upstream::Upstream;
use suanpan_service::upstream::network::Network;
use suanpan_store::admin::{
    DEMO_B_MERCHANT, DEMO_B_TERMINAL, DEMO_MERCHANT, DEMO_OPERATORS, DEMO_TERMINAL, DEMO_TMK_HEX,
};
use suanpan_store::backoffice::{DEMO_B_STAFF, DEMO_STAFF};
use suanpan_store::backup::PAN_KEY_FILE;
use suanpan_store::{Dialect, OpenOptions, PgOptions, PgStore, SqliteStore, Store, StoreError};
use suanpan_upstream::LinkConfig;
use suanpan_upstream::config::{Addrs, UpstreamSection, ZPK_ENV};

/// Environment variable of a terminal master key for `admin terminal set-tmk`.
pub const TMK_ENV: &str = "SUANPAN_TMK";

/// `serve` arguments. Each address: flag, else `SUANPAN_*` environment, else `[server]` in
/// the config file, else the default.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Create the data directory with demo data if it holds no store yet, and print the
    /// demo terminal, operators and keys.
    #[arg(long)]
    pub demo: bool,
    /// The 8583 listener, HOST:PORT (default 127.0.0.1:5800; port 0: any free port).
    #[arg(long, env = "SUANPAN_ISO8583_ADDR")]
    pub iso8583_addr: Option<String>,
    /// The small HTTP port for /healthz and /metrics (default 127.0.0.1:9180; the
    /// back-office port serves them too).
    #[arg(long, env = "SUANPAN_HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// The merchant back-office (web UI and /api/v1), HOST:PORT (default 127.0.0.1:8080;
    /// port 0: any free port). Config file: `http = ...` in `[web]`.
    #[arg(long, env = "SUANPAN_HTTP")]
    pub http: Option<String>,
    /// PEM certificate of the back-office: with --tls-key it is served over HTTPS and its
    /// cookies are Secure. Config file: `tls_cert = ...` in `[web]`. See `admin dev-cert`.
    #[arg(long, env = "SUANPAN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert. Config file: `tls_key = ...` in `[web]`.
    #[arg(long, env = "SUANPAN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM certificate of the 8583 listener: with --iso8583-tls-key terminals may connect
    /// over TLS. Config file: `iso8583_tls_cert = ...` in `[server]`.
    #[arg(long, env = "SUANPAN_ISO8583_TLS_CERT", requires = "iso8583_tls_key")]
    pub iso8583_tls_cert: Option<String>,
    /// PEM private key of --iso8583-tls-cert. Config file: `iso8583_tls_key = ...`.
    #[arg(long, env = "SUANPAN_ISO8583_TLS_KEY", requires = "iso8583_tls_cert")]
    pub iso8583_tls_key: Option<String>,
    /// Close 8583 connections that are not TLS. Config file: `iso8583_tls_required = true`.
    #[arg(long)]
    pub iso8583_tls_required: bool,
    /// The card network upstream, HOST:PORT: sales go to this switch (ISO 8583:1987,
    /// e.g. `suanpan switch-sim`) instead of the inline simulator. Config file: `addr` in
    /// `[upstream]`; without either, sales are decided inline (as with --demo).
    #[arg(long, env = "SUANPAN_UPSTREAM")]
    pub upstream: Option<String>,
    /// Config file (default DATA_DIR/suanpan.toml): `[policy]` and `[server]`.
    #[arg(long, env = "SUANPAN_CONFIG")]
    pub config: Option<PathBuf>,
}

pub fn run(app: &App, args: ServeArgs) -> Result<(), Fail> {
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| app.data_dir.join(CONFIG_FILE));
    let cfg = ConfigFile::read(&path)?;
    let mut server = cfg.server;
    if let Some(a) = args.iso8583_addr {
        server.iso8583_addr = a;
    }
    if let Some(a) = args.http_addr {
        server.http_addr = a;
    }
    if args.iso8583_tls_cert.is_some() {
        server.iso8583_tls_cert = args.iso8583_tls_cert;
        server.iso8583_tls_key = args.iso8583_tls_key;
    }
    if args.iso8583_tls_required {
        server.iso8583_tls_required = true;
    }
    let upstream = upstream_config(&cfg.upstream, args.upstream.as_deref())?;
    // A bad 8583 certificate stops here as well, before anything listens.
    suanpan_host::tls::acceptor(&server)?;
    let mut web = cfg.web;
    web.notify = cfg.notify.clone();
    if let Some(a) = args.http {
        web.http = a;
    }
    if args.tls_cert.is_some() {
        web.tls_cert = args.tls_cert;
        web.tls_key = args.tls_key;
    }
    // A bad certificate or half a TLS configuration stops here, before the store is opened
    // or anything listens.
    suanpan_web::tls_config(&web)?;
    // A missing or wrong KEK stops here too, before anything listens (`--demo` makes one
    // beside the data directory when there is none).
    let kek_made = if args.demo { app.ensure_kek()? } else { None };
    let keys = app.keys()?;
    let opts = OpenOptions {
        policy: cfg.policy,
        anchor: app.anchor(&keys, None)?,
        keys,
        writer_cache_kib: cfg.store.writer_cache_kib()?,
        pg_writers: cfg.store.pg_writers()?,
        writer_nice: cfg.store.writer_nice()?,
        ..suanpan_service::open_options()
    };
    // What the embedded store's writer is given, as `--json` reports it.
    let writer_cache_mib = opts.writer_cache_kib / 1024;
    let (store, fresh): (Arc<dyn Store>, bool) = match app.database()? {
        // Several nodes may start at once on a new database: the first creates it, the
        // others find it created (the creation is serialized in the database).
        Some(url) => match PgStore::open(PgOptions::new(&url), opts.clone()) {
            Err(StoreError::NotInitialized(_)) if args.demo => {
                (app.create_pg_store(&url, opts, true)?, true)
            }
            other => (Arc::new(other?), false),
        },
        None => {
            let fresh = !app.data_dir.join(suanpan_store::sqlite::DB_FILE).exists();
            if args.demo && fresh {
                (Arc::new(app.create_store(opts, true)?), true)
            } else {
                (Arc::new(SqliteStore::open(&app.data_dir, opts)?), false)
            }
        }
    };
    // The risk rules' journal indexes exist only while a rule that reads them is on
    // (issue 15): switching one on builds its index here, before anything listens.
    let need = suanpan_store::risk_index::RiskIndexes::needed(&store.policy().risk, &*store)?;
    suanpan_store::risk_index::apply(&*store, need)?;
    let writer_cache_mib = (store.dialect() == Dialect::Sqlite).then_some(writer_cache_mib);
    let fingerprinter = match app.fingerprinter() {
        // A second node on a database another node created: it needs that node's PAN key.
        Err(Fail::Store(StoreError::NotInitialized(_))) if store.dialect() == Dialect::Postgres => {
            Err(Fail::Message {
                key: "error.pan_key_missing",
                args: vec![app.data_dir.join(PAN_KEY_FILE).display().to_string()],
            })
        }
        other => other,
    }?;
    // A new demo store gets a small day of transactions, so the back-office has records to
    // work on (README, "The merchant back-office").
    if args.demo && fresh {
        suanpan_store::admin::seed_demo_day(&*store, &fingerprinter)?;
        // A second merchant with its own terminal and users, so the two tiers show (issue 14).
        suanpan_store::admin::seed_demo_merchant_b(
            &*store,
            &fingerprinter,
            &suanpan_store::auth::hash_password,
        )?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("suanpan-serve")
        .build()
        .context("starting the async runtime")?;
    // The webhook worker posts what the use cases wrote to the outbox (issue 13).
    let webhooks = suanpan_notify::webhook::spawn_worker(store.clone(), cfg.notify.clone())
        .context("starting the webhook worker")?;
    let dirs = suanpan_notify::schedule::Dirs {
        data_dir: app.data_dir.clone(),
        evidence_dir: web
            .evidence_dir
            .clone()
            .unwrap_or_else(|| suanpan_store::evidence::evidence_dir(&app.data_dir)),
        backup_dir: web
            .backup_dir
            .clone()
            .unwrap_or_else(|| app.data_dir.join(suanpan_store::backup::BACKUPS_DIR)),
        ring: suanpan_store::backup::Keyring::for_store(&*store, &app.data_dir),
    };
    let scheduler = suanpan_notify::schedule::spawn(store.clone(), cfg.schedule.clone(), dirs)
        .context("starting the scheduler")?;
    runtime.block_on(async move {
        let upstream = match upstream {
            Some((link_config, routes, zpk)) => {
                // The queue lives in the main store (issue 15); an earlier build's queue
                // file is copied in before the link sends anything.
                suanpan_service::upstream::queue::import_saf_file(&*store, &app.data_dir)
                    .context("copying the old upstream queue file into the store")?;
                let saf = Arc::new(
                    suanpan_service::upstream::queue::StoreQueue::new(store.clone())
                        .lease_at_least(link_config.upstream_timeout_ms.saturating_mul(3)),
                );
                tracing::info!(addrs = ?link_config.addrs, "sales go to the network upstream");
                let link = suanpan_upstream::Link::start(link_config, saf.clone());
                // Each route its own link: connections, sign-on, echo, queue order.
                let routes = routes
                    .into_iter()
                    .map(|r| {
                        tracing::info!(bins = ?r.bins, addrs = ?r.link.addrs, "a BIN route");
                        (r.bins, suanpan_upstream::Link::start(r.link, saf.clone()))
                    })
                    .collect();
                Upstream::Network(Arc::new(Network::new(link, zpk).with_routes(routes)))
            }
            None => Upstream::Inline,
        };
        let running = suanpan_host::start_with(
            store.clone(),
            fingerprinter.clone(),
            server,
            upstream.clone(),
        )
        .await?;
        // The back-office's review executor sends refunds of sales the switch decided
        // through the same links (s17-refund).
        let backoffice = suanpan_web::start_with_upstream(
            store,
            fingerprinter,
            web,
            &app.data_dir,
            suanpan_host::http::router(),
            upstream,
        )
        .await?;
        announce(
            app,
            &running,
            &backoffice.url(),
            args.demo,
            fresh,
            kek_made.is_some(),
            writer_cache_mib,
        );
        shutdown_signal().await;
        tracing::info!("shutting down");
        backoffice.shutdown().await;
        running.shutdown().await;
        Ok::<(), anyhow::Error>(())
    })?;
    webhooks.stop();
    if let Some(s) = scheduler {
        s.stop();
    }
    Ok(())
}

/// The network upstream's default link, BIN routes and zone PIN key, from `[upstream]` and
/// `--upstream` (which replaces the section's default address); `None`: sales are decided
/// inline.
fn upstream_config(
    section: &Option<UpstreamSection>,
    flag: Option<&str>,
) -> Result<Option<UpstreamParts>, Fail> {
    let section = match (section.clone(), flag) {
        (None, None) => return Ok(None),
        (Some(mut s), Some(addr)) => {
            s.addr = Addrs::One(addr.to_owned());
            s
        }
        (Some(s), None) => s,
        (None, Some(addr)) => UpstreamSection {
            addr: Addrs::One(addr.to_owned()),
            acquirer_id: suanpan_host::ACQUIRER_ID.to_owned(),
            upstream_timeout_ms: LinkConfig::new(Vec::new(), "").upstream_timeout_ms,
            upstream_echo_interval_ms: LinkConfig::new(Vec::new(), "").upstream_echo_interval_ms,
            zpk: None,
            stand_in_floor_fen: 0,
            route: Vec::new(),
        },
    };
    let env = std::env::var(ZPK_ENV).ok();
    let (link, zpk) = section
        .resolve(env.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let routes = section.routes(&link).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some((link, routes, zpk)))
}

/// The default route's link, the BIN routes, the zone PIN key.
type UpstreamParts = (
    LinkConfig,
    Vec<suanpan_upstream::config::Route>,
    Option<Zpk>,
);

/// Waits for Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Prints where the host listens (one JSON line under --json) and, with --demo, the demo
/// terminal, operators and key.
fn announce(
    app: &App,
    r: &suanpan_host::Running,
    web: &str,
    demo: bool,
    created: bool,
    kek_made: bool,
    writer_cache_mib: Option<i64>,
) {
    let kek = app.kek_where();
    let operators: Vec<_> = DEMO_OPERATORS
        .iter()
        .map(|(no, pw, name)| json!({"operator": no, "password": pw, "name": name}))
        .collect();
    if app.json {
        let mut v = json!({"ok": true, "iso8583_addr": r.iso8583_addr.to_string(),
            "http_addr": r.http_addr.to_string(), "backoffice": web,
            "data_dir": app.data_dir, "created": created, "kek_file": kek, "kek_created": kek_made,
            "writer_cache_mib": writer_cache_mib});
        if demo {
            let staff: Vec<_> = DEMO_STAFF
                .iter()
                .map(|(u, pw, role, name, _)| json!({"username": u, "password": pw, "role": role, "name": name}))
                .collect();
            let b_staff: Vec<_> = DEMO_B_STAFF
                .iter()
                .map(|(u, pw, role, name, _)| json!({"username": u, "password": pw, "role": role, "name": name}))
                .collect();
            v["demo"] = json!({"terminal_id": DEMO_TERMINAL, "merchant_id": DEMO_MERCHANT,
                "tmk_hex": DEMO_TMK_HEX, "operators": operators, "backoffice_users": staff,
                "second_merchant": {"merchant_id": DEMO_B_MERCHANT, "terminal_id": DEMO_B_TERMINAL,
                    "backoffice_users": b_staff}});
        }
        output::print_json(&v);
        return;
    }
    let zh = app.lang == Lang::Zh;
    println!(
        "{} 8583 {}  HTTP {} (/healthz /metrics)",
        if zh {
            "算盘 POS 中心已启动："
        } else {
            "Suanpan POS center listening:"
        },
        r.iso8583_addr,
        r.http_addr
    );
    println!(
        "{} {web}",
        if zh {
            "商户后台："
        } else {
            "Merchant back-office:"
        }
    );
    println!(
        "{} {}",
        if zh { "数据目录" } else { "Data directory" },
        app.data_dir.display()
    );
    print_kek_line(zh, &kek, kek_made);
    if demo {
        println!(
            "{} {DEMO_TERMINAL}  {} {DEMO_MERCHANT}  TMK {DEMO_TMK_HEX}",
            if zh { "演示终端" } else { "Demo terminal" },
            if zh { "商户" } else { "merchant" }
        );
        crate::cmd_admin::print_demo_operators(zh);
        println!(
            "{} {DEMO_B_MERCHANT}  {} {DEMO_B_TERMINAL}",
            if zh {
                "第二个演示商户"
            } else {
                "Second demo merchant"
            },
            if zh { "终端" } else { "terminal" }
        );
        for (user, pw, role, name, _) in DEMO_B_STAFF {
            println!(
                "  {} {user} / {pw}  ({role}, {name})",
                if zh { "后台账号" } else { "back-office" }
            );
        }
        eprintln!(
            "{}",
            if zh {
                "警告：演示主密钥与出厂密码仅供演示，切勿用于生产"
            } else {
                "WARNING: the demo master key and factory passwords are for the demo only"
            }
        );
    }
    println!(
        "{}",
        if zh {
            "按 Ctrl-C 停止。重启后终端须重新签到（会话与工作密钥只在内存中）。"
        } else {
            "Ctrl-C stops. After a restart terminals sign in again (sessions and working keys live in memory only)."
        }
    );
}

/// `demo keys`: what a terminal emulator needs to talk to the demo host.
pub fn demo_keys(app: &App) -> Result<(), Fail> {
    if app.json {
        output::print_json(&json!({"ok": true, "terminal_id": DEMO_TERMINAL,
            "merchant_id": DEMO_MERCHANT, "tmk_hex": DEMO_TMK_HEX}));
    } else {
        println!("terminal_id {DEMO_TERMINAL}");
        println!("merchant_id {DEMO_MERCHANT}");
        println!("tmk_hex     {DEMO_TMK_HEX}");
    }
    Ok(())
}

/// `admin dev-cert`: writes a self-signed certificate and key for the back-office, refusing
/// to overwrite either file (a key in use is never lost), and says how to use them.
pub fn dev_cert(app: &App, out: Option<PathBuf>) -> Result<(), Fail> {
    use suanpan_web::tls;
    let dir = out.unwrap_or_else(|| app.data_dir.join("tls"));
    let cert_path = dir.join(tls::DEV_CERT_FILE);
    let key_path = dir.join(tls::DEV_KEY_FILE);
    for p in [&cert_path, &key_path] {
        if p.exists() {
            return Err(anyhow::anyhow!(
                "{} 已存在，未覆盖；请换一个 --out 目录或先移走它 / {} exists and was not overwritten; choose another --out or move it first",
                p.display(),
                p.display()
            )
            .into());
        }
    }
    let made = tls::dev_cert(&tls::DEV_CERT_NAMES)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_new(&cert_path, made.cert_pem.as_bytes(), 0o644)?;
    write_new(&key_path, made.key_pem.as_bytes(), 0o600)?;
    if app.json {
        output::print_json(&json!({"ok": true, "cert": cert_path, "key": key_path,
            "names": tls::DEV_CERT_NAMES}));
        return Ok(());
    }
    let zh = app.lang == Lang::Zh;
    println!(
        "{} {}",
        if zh { "证书：" } else { "Certificate:" },
        cert_path.display()
    );
    println!(
        "{} {}",
        if zh { "私钥：" } else { "Private key:" },
        key_path.display()
    );
    println!(
        "{}",
        if zh {
            "使用：suanpan serve --tls-cert 证书 --tls-key 私钥，或在 suanpan.toml 的 [web] 中写 tls_cert / tls_key。自签名证书仅供开发，浏览器会提示不受信任。"
        } else {
            "Use: suanpan serve --tls-cert CERT --tls-key KEY, or tls_cert / tls_key in [web] of suanpan.toml. A self-signed certificate is for development; browsers warn about it."
        }
    );
    Ok(())
}

/// Creates `path` (never replacing a file) with `bytes`, readable as `mode` says on Unix.
fn write_new(path: &std::path::Path, bytes: &[u8], mode: u32) -> Result<(), Fail> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Says where the KEK file is (and that it was just made): it lies outside the data
/// directory and must be kept and backed up apart from it.
pub fn print_kek_line(zh: bool, kek: &str, made: bool) {
    match (zh, made) {
        (true, true) => println!(
            "已在数据目录之外创建密钥加密密钥（KEK）：{kek}（请单独保管，勿放入数据目录或备份）"
        ),
        (true, false) => println!("密钥加密密钥（KEK）：{kek}"),
        (false, true) => println!(
            "Created the key-encryption key (KEK) outside the data directory: {kek} (keep it apart from the data and its backups)"
        ),
        (false, false) => println!("Key-encryption key (KEK): {kek}"),
    }
}
