//! `keys init` and `keys rotate-kek`: the key-encryption key (docs/SECURITY.md).

use crate::app::{App, Fail};
use crate::args::KeysCmd;
use crate::output;
use anyhow::Context;
use serde_json::json;
use std::path::{Path, PathBuf};
use suanpan_core::Lang;
use suanpan_store::StoreError;
use suanpan_store::backoffice::Backoffice;
use suanpan_store::backup::PAN_KEY_FILE;
use suanpan_store::keys::{self, FileKek, KeyProvider, Keys};
use suanpan_store::pkcs11::{Pkcs11Config, Pkcs11Kek};

pub fn run(app: &App, cmd: KeysCmd) -> Result<(), Fail> {
    match cmd {
        KeysCmd::Init { pkcs11: true } => init_pkcs11(app),
        KeysCmd::Init { pkcs11: false } => init(app),
        KeysCmd::RotateKek { to_pkcs11: true } => rotate_to_pkcs11(app),
        KeysCmd::RotateKek { to_pkcs11: false } => rotate(app),
    }
}

/// The configured token, or the message saying how to name one.
fn token(app: &App) -> Result<Pkcs11Config, Fail> {
    app.pkcs11()?.ok_or_else(|| {
        StoreError::Invalid(
            "未配置 PKCS#11 模块 / no PKCS#11 module configured: --pkcs11-module, \
             SUANPAN_PKCS11_MODULE or pkcs11_module = in suanpan.toml"
                .into(),
        )
        .into()
    })
}

/// `keys init --pkcs11`: the KEK and the derivation key made inside the token.
fn init_pkcs11(app: &App) -> Result<(), Fail> {
    let cfg = token(app)?;
    let id = Pkcs11Kek::create(&cfg)?;
    if app.json {
        output::print_json(&json!({"ok": true, "pkcs11_token": cfg.token, "kek_id": id}));
    } else if app.lang == Lang::Zh {
        println!(
            "已在 HSM 令牌 \"{}\" 中创建密钥加密密钥（KEK {id}，不可导出）",
            cfg.token
        );
    } else {
        println!(
            "Created the key-encryption key in HSM token \"{}\" (KEK {id}, not extractable)",
            cfg.token
        );
    }
    Ok(())
}

/// `keys rotate-kek --to-pkcs11`: from the KEK file to the token. Every wrapped key is
/// unwrapped under the file KEK and stored under the token: the TMKs become token objects,
/// the rest is re-wrapped by the token's KEK. The KEK file is then retired. The way back
/// (token to file) does not exist: a TMK never leaves the token.
fn rotate_to_pkcs11(app: &App) -> Result<(), Fail> {
    let cfg = token(app)?;
    let path = app.kek_path()?;
    let old = FileKek::load(&path, &app.data_dir)?;
    let new = Pkcs11Kek::open(&cfg)?;
    let (n, retired) = move_keys(app, &path, &old, &new)?;
    let id = new.kek_id();
    if app.json {
        output::print_json(&json!({"ok": true, "pkcs11_token": cfg.token, "kek_id": id,
            "retired": retired, "rewrapped": n}));
    } else if app.lang == Lang::Zh {
        println!(
            "已迁移到 HSM 令牌 \"{}\"（KEK {id}），{} 个密钥；旧 KEK 文件保存在 {}",
            cfg.token,
            n,
            retired.display()
        );
    } else {
        println!(
            "Moved to HSM token \"{}\" (KEK {id}), {} keys; the old KEK file is kept at {}",
            cfg.token,
            n,
            retired.display()
        );
    }
    Ok(())
}

fn init(app: &App) -> Result<(), Fail> {
    if app.pkcs11()?.is_some() {
        return Err(StoreError::Invalid(
            "已配置 PKCS#11 模块，请用 keys init --pkcs11 / a PKCS#11 module is configured: \
             use keys init --pkcs11"
                .into(),
        )
        .into());
    }
    let path = app.kek_path()?;
    if path.exists() {
        return Err(StoreError::Invalid(format!(
            "{} exists already; a KEK is never overwritten (keys rotate-kek replaces it)",
            path.display()
        ))
        .into());
    }
    let made = app.ensure_kek()?.unwrap_or(path);
    let id = app.keys()?.kek_id();
    if app.json {
        output::print_json(&json!({"ok": true, "kek_file": made, "kek_id": id}));
    } else if app.lang == Lang::Zh {
        println!(
            "已创建密钥加密密钥（KEK）文件 {}（0600，KEK {id}）",
            made.display()
        );
        println!("请妥善保管并单独备份，切勿放进数据目录或其备份：没有它，数据中的密钥无法解开");
    } else {
        println!(
            "Created the key-encryption key (KEK) file {} (0600, KEK {id})",
            made.display()
        );
        println!(
            "Keep it safe and back it up separately, never inside the data directory or its backups: without it the stored keys cannot be unwrapped"
        );
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Rotation in steps that can each be run again: the new KEK is written first
/// (`<kek>.new`), then the store and `pan.key` are re-wrapped (either KEK unwraps during
/// the rotation), then the old KEK is retired and the new one takes its name.
fn rotate(app: &App) -> Result<(), Fail> {
    let path = app.kek_path()?;
    let next_path = sibling(&path, ".new");
    if !path.exists() && next_path.exists() {
        // Interrupted after the old KEK was retired: only the last rename is left.
        std::fs::rename(&next_path, &path).context("renaming the new KEK into place")?;
        return report(app, &path, None, 0);
    }
    let old = FileKek::load(&path, &app.data_dir)?;
    if !next_path.exists() {
        FileKek::create(&next_path)?;
    }
    let new = FileKek::load(&next_path, &app.data_dir)?;
    let (n, retired) = move_keys(app, &path, &old, &new)?;
    std::fs::rename(&next_path, &path).context("renaming the new KEK into place")?;
    report(app, &path, Some(&retired), n)
}

/// Re-wraps every stored key and `pan.key` from `old` (the KEK file at `path`) to `new`
/// (either KEK opens the store, for a rotation run again), then retires the old KEK file as
/// `<kek>.retired-<id>`. Returns how many keys moved and where the old KEK went.
fn move_keys(app: &App, path: &Path, old: &Keys, new: &Keys) -> Result<(usize, PathBuf), Fail> {
    let store = match app.open_with(old.clone(), suanpan_service::open_options()) {
        Err(Fail::Store(StoreError::KekMismatch { wrapped_by, .. }))
            if wrapped_by == new.kek_id() =>
        {
            app.open_with(new.clone(), suanpan_service::open_options())?
        }
        other => other?,
    };
    store.ensure_backoffice_schema()?;
    let n = suanpan_store::terminal_keys::rewrap_all(&*store, &[&**old], &**new)?;
    drop(store);
    rewrap_pan_key(app, old, new)?;
    suanpan_store::anchor::resign(&suanpan_store::anchor::path_beside(path), &**old, &**new)?;
    let retired = sibling(path, &format!(".retired-{}", old.kek_id()));
    std::fs::rename(path, &retired).context("retiring the old KEK")?;
    Ok((n + 1, retired))
}

fn rewrap_pan_key(app: &App, old: &Keys, new: &Keys) -> Result<(), Fail> {
    let file = app.data_dir.join(PAN_KEY_FILE);
    let Ok(text) = std::fs::read_to_string(&file).map(zeroize::Zeroizing::new) else {
        return Ok(());
    };
    let w = text.trim();
    let from: &dyn KeyProvider = if keys::wrapped_kek_id(w) == Some(new.kek_id().as_str()) {
        &**new
    } else {
        &**old
    };
    let clear = from.unwrap(PAN_KEY_FILE, w)?;
    keys::write_secret_file(&file, &new.wrap(PAN_KEY_FILE, clear.expose())?, false)?;
    Ok(())
}

fn report(app: &App, path: &Path, retired: Option<&Path>, n: usize) -> Result<(), Fail> {
    let id = FileKek::load(path, &app.data_dir)?.kek_id();
    if app.json {
        output::print_json(
            &json!({"ok": true, "kek_file": path, "kek_id": id, "retired": retired, "rewrapped": n}),
        );
        return Ok(());
    }
    let zh = app.lang == Lang::Zh;
    if zh {
        println!(
            "已轮换 KEK：{} 现为 KEK {id}，重新加密了 {n} 个密钥",
            path.display()
        );
    } else {
        println!(
            "KEK rotated: {} is now KEK {id}; {n} keys re-wrapped",
            path.display()
        );
    }
    if let Some(r) = retired {
        if zh {
            println!(
                "旧 KEK 保存在 {}：只有用它才能恢复轮换前的备份；请把它移到离线处保管，这些备份过期后销毁",
                r.display()
            );
        } else {
            println!(
                "The old KEK is kept at {}: only it restores the backups made before the rotation; move it offline and destroy it when those backups expire",
                r.display()
            );
        }
    }
    Ok(())
}
