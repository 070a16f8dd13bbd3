//! `serve` (the POS center: 8583 listener, scheduler, health and metrics) and `demo keys`.

use crate::app::{App, CONFIG_FILE, ConfigFile, Fail};
use crate::output;
use anyhow::Context;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use suanpan_core::Lang;
use suanpan_store::admin::{DEMO_MERCHANT, DEMO_OPERATORS, DEMO_TERMINAL, DEMO_TMK_HEX};
use suanpan_store::backoffice::DEMO_STAFF;
use suanpan_store::backup::PAN_KEY_FILE;
use suanpan_store::{Dialect, OpenOptions, PgOptions, PgStore, SqliteStore, Store, StoreError};

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
    let mut web = cfg.web;
    if let Some(a) = args.http {
        web.http = a;
    }
    let opts = OpenOptions {
        policy: cfg.policy,
        ..OpenOptions::default()
    };
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("suanpan-serve")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let running = suanpan_host::start(store.clone(), fingerprinter.clone(), server).await?;
        let backoffice = suanpan_web::start(
            store,
            fingerprinter,
            web,
            &app.data_dir,
            suanpan_host::http::router(),
        )
        .await?;
        announce(app, &running, backoffice.addr, args.demo, fresh);
        shutdown_signal().await;
        tracing::info!("shutting down");
        backoffice.shutdown().await;
        running.shutdown().await;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}

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
    web: std::net::SocketAddr,
    demo: bool,
    created: bool,
) {
    let operators: Vec<_> = DEMO_OPERATORS
        .iter()
        .map(|(no, pw, name)| json!({"operator": no, "password": pw, "name": name}))
        .collect();
    if app.json {
        let mut v = json!({"ok": true, "iso8583_addr": r.iso8583_addr.to_string(),
            "http_addr": r.http_addr.to_string(), "backoffice": format!("http://{web}/"),
            "data_dir": app.data_dir, "created": created});
        if demo {
            let staff: Vec<_> = DEMO_STAFF
                .iter()
                .map(|(u, pw, role, name, _)| json!({"username": u, "password": pw, "role": role, "name": name}))
                .collect();
            v["demo"] = json!({"terminal_id": DEMO_TERMINAL, "merchant_id": DEMO_MERCHANT,
                "tmk_hex": DEMO_TMK_HEX, "operators": operators, "backoffice_users": staff});
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
        "{} http://{web}/",
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
    if demo {
        println!(
            "{} {DEMO_TERMINAL}  {} {DEMO_MERCHANT}  TMK {DEMO_TMK_HEX}",
            if zh { "演示终端" } else { "Demo terminal" },
            if zh { "商户" } else { "merchant" }
        );
        crate::cmd_admin::print_demo_operators(zh);
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
