//! `init`, `audit`, `backup`, `operator`, `admin`, `check`.

use crate::app::{App, Fail};
use crate::args::{AdminCmd, AuditCmd, BackupCmd, OperatorCmd, TerminalCmd};
use crate::authn::{self, NEW_PASSWORD_ENV, OPERATOR_PASSWORD_ENV};
use crate::output;
use serde_json::json;
use suanpan_core::refusal::AccessRefused;
use suanpan_core::{Lang, MerchantId, Role, TerminalId};
use suanpan_service::users::{self, NewOperator, NewUser, UserError};
use suanpan_store::admin::{
    self, DEMO_MERCHANT, DEMO_MERCHANT_NAME, DEMO_OPERATORS, DEMO_TERMINAL,
};
use suanpan_store::backoffice::Backoffice;
use suanpan_store::command::SetPassword;
use suanpan_store::terminal_keys::set_terminal_tmk;
use suanpan_store::{AskExt, Counted, OpenOptions, StoreError};
use zeroize::Zeroizing;

pub fn init(app: &App, demo: bool) -> Result<(), Fail> {
    let opts = OpenOptions {
        policy: app.policy()?,
        ..suanpan_service::open_options()
    };
    let kek_made = app.ensure_kek()?.is_some();
    match app.database()? {
        Some(url) => drop(app.create_pg_store(&url, opts, demo)?),
        None => drop(app.create_store(opts, demo)?),
    }
    let kek = app.kek_path()?;
    if app.json {
        output::print_json(&json!({"ok": true, "data_dir": app.data_dir, "demo": demo,
            "kek_file": kek, "kek_created": kek_made,
            "merchant_id": demo.then_some(DEMO_MERCHANT), "terminal_id": demo.then_some(DEMO_TERMINAL),
            "operators": if demo { DEMO_OPERATORS.iter().map(|(no, pw, name)| json!({"operator": no, "password": pw, "name": name})).collect::<Vec<_>>() } else { vec![] }}));
        return Ok(());
    }
    let zh = app.lang == Lang::Zh;
    println!(
        "{} {}",
        if zh {
            "已创建数据目录"
        } else {
            "Created data directory"
        },
        app.data_dir.display()
    );
    crate::cmd_serve::print_kek_line(zh, &kek.display().to_string(), kek_made);
    if demo {
        println!(
            "{} {DEMO_MERCHANT} {DEMO_MERCHANT_NAME}, {} {DEMO_TERMINAL}",
            if zh { "演示商户" } else { "Demo merchant" },
            if zh { "终端" } else { "terminal" }
        );
        print_demo_operators(zh);
        eprintln!(
            "{}",
            if zh {
                "警告：以上为银联终端出厂默认密码，仅供演示，正式使用前请修改（suanpan operator passwd）"
            } else {
                "WARNING: these are UnionPay terminals' factory default passwords, for the demo only; change them (suanpan operator passwd)"
            }
        );
    }
    Ok(())
}

pub fn audit(app: &App, cmd: AuditCmd) -> Result<(), Fail> {
    let store = app.open_any(suanpan_service::open_options())?;
    match cmd {
        AuditCmd::Verify => {
            let v = store.verify_audit()?;
            if app.json {
                output::print_json(&json!({"ok": v.first_broken.is_none(), "verification": v}));
            } else if let Some(seq) = v.first_broken {
                let why = v.problem.clone().unwrap_or_default();
                println!(
                    "{} #{seq}: {why}",
                    if app.lang == Lang::Zh {
                        "审计链断裂，首个异常条目"
                    } else {
                        "Audit chain broken at entry"
                    }
                );
            } else {
                let zh = app.lang == Lang::Zh;
                let anchored = match (v.anchored, zh) {
                    (Some(seq), true) => format!("；锚点签署至第 {seq} 条"),
                    (Some(seq), false) => format!("; the anchor vouches up to entry {seq}"),
                    (None, true) => "；尚无锚点".to_owned(),
                    (None, false) => "; no anchor yet".to_owned(),
                };
                println!(
                    "{} ({} {}{anchored})",
                    if zh {
                        "审计链完整"
                    } else {
                        "Audit chain intact"
                    },
                    v.entries,
                    if zh { "条" } else { "entries" }
                );
            }
            if v.first_broken.is_some() {
                return Err(Fail::Reported);
            }
            Ok(())
        }
        AuditCmd::List { limit, offset } => {
            let entries = store.audit_entries(limit, offset)?;
            if app.json {
                output::print_json(&json!({"ok": true, "entries": entries}));
            } else {
                for e in &entries {
                    let at = jiff::Timestamp::from_microsecond(e.at)
                        .map(|t| suanpan_service::operators::local_time(store.policy(), t))
                        .unwrap_or_default();
                    println!(
                        "{:>6} {at} {:<24} {:<22} {:<28} {} {}",
                        e.seq, e.actor, e.action, e.target, e.outcome, e.reason
                    );
                }
            }
            Ok(())
        }
    }
}

pub fn backup(app: &App, cmd: BackupCmd) -> Result<(), Fail> {
    use suanpan_store::backup;
    let now = jiff::Timestamp::now();
    let pg = app.database()?;
    let (evidence_dir, backups_dir) = app.backup_dirs()?;
    let (file, manifest) = match cmd {
        BackupCmd::Restore { file, .. } if pg.is_some() || backup::is_dump(&file) => {
            // A sealed dump is verified and decrypted beside it for pg_restore, which the
            // operator runs (overwriting a shared database is their call).
            let clear = file.with_extension("dump.clear");
            if backup::is_dump(&file) {
                suanpan_store::pg_dump::open_dump(&file, &app.keyring()?, &clear, &evidence_dir)?;
            }
            return Err(Fail::Message {
                key: "error.pg_restore",
                args: vec![file.display().to_string(), clear.display().to_string()],
            });
        }
        BackupCmd::Create { output } => {
            // Opening first proves the directory (or the database) holds a store.
            let store = app.open_store()?;
            let src = backup::Sources {
                data_dir: &app.data_dir,
                evidence_dir: &evidence_dir,
            };
            let out = output.unwrap_or(backups_dir);
            backup::create(&*store, &src, &out, now)?
        }
        BackupCmd::Verify { file } => {
            let m = backup::verify_and_record(&file, &app.keyring()?, now)?;
            (file, m)
        }
        BackupCmd::Restore { file, force } => {
            let m = backup::restore(
                &file,
                &app.keyring()?,
                &app.data_dir,
                &evidence_dir,
                force,
                now,
            )?;
            (file, m)
        }
    };
    if app.json {
        output::print_json(&json!({"ok": true, "file": file, "manifest": manifest}));
    } else {
        println!(
            "{}  sha256 {}  {} txns, {} audit, {} evidence files",
            file.display(),
            manifest.sha256,
            manifest.transactions,
            manifest.audit_entries,
            manifest.evidence.len()
        );
    }
    Ok(())
}

pub fn operator(app: &App, cmd: OperatorCmd) -> Result<(), Fail> {
    let (merchant, operator, target, add, name) = match cmd {
        OperatorCmd::Passwd {
            merchant,
            operator,
            target,
        } => (merchant, operator, target, false, String::new()),
        OperatorCmd::Add {
            merchant,
            operator,
            no,
            name,
        } => (merchant, operator, Some(no), true, name),
    };
    let merchant =
        MerchantId::parse(&merchant).map_err(|_| Fail::from(AccessRefused::UnknownMerchant))?;
    let store = app.open_store()?;
    let actor = authn::operator_no(&operator)?;
    let password = authn::secret(OPERATOR_PASSWORD_ENV, "当前密码 current password")?;
    authn::authenticate(&*store, &merchant, actor, "login", &password)?;
    let target = match target {
        Some(t) => authn::operator_no(&t)?,
        None => actor,
    };
    if add && actor.role() != Role::Admin {
        return Err(AccessRefused::NotPermitted {
            role: actor.role().as_str().into(),
        }
        .into());
    }
    let new = authn::secret(NEW_PASSWORD_ENV, "新密码 new password")?;
    if new.chars().count() < 4 || (target == actor && new == password) {
        return Err(AccessRefused::WeakPassword.into());
    }
    let hash = suanpan_store::auth::hash_password(&new);
    let reply = store.ask(SetPassword {
        merchant_id: merchant.clone(),
        actor,
        operator: target,
        password_hash: hash,
    })?;
    if let Counted::Refused(r) = reply {
        return Err(Fail::Refused(r));
    }
    if add && !name.is_empty() {
        tracing::info!(operator = %target, "operator added");
    }
    if app.json {
        output::print_json(
            &json!({"ok": true, "merchant_id": merchant.as_str(), "operator": target.to_string()}),
        );
    } else {
        println!(
            "{} {target}",
            if app.lang == Lang::Zh {
                "密码已设置：操作员"
            } else {
                "Password set for operator"
            }
        );
    }
    Ok(())
}

pub fn admin(app: &App, cmd: AdminCmd) -> Result<(), Fail> {
    match cmd {
        AdminCmd::Terminal(c) => terminal(app, c),
        AdminCmd::User(c) => user(app, c),
        AdminCmd::Operator(c) => merchant_operator(app, c),
        AdminCmd::Merchant(c) => merchant(app, c),
        AdminCmd::AcquirerUser(c) => acquirer_user(app, c),
        AdminCmd::DevCert { out } => crate::cmd_serve::dev_cert(app, out),
        AdminCmd::CopyToPostgres => copy_to_postgres(app),
    }
}

/// `admin copy-to-postgres`: the embedded store, brought to this build's schema, copied
/// into the empty database of `--database`; progress on stderr.
fn copy_to_postgres(app: &App) -> Result<(), Fail> {
    use suanpan_store::pg_copy::{Step, copy_to_postgres};
    let Some(url) = app.database()? else {
        return Err(Fail::Message {
            key: "error.copy_needs_database",
            args: Vec::new(),
        });
    };
    let db = app.data_dir.join(suanpan_store::sqlite::DB_FILE);
    suanpan_store::pg_copy::check_not_in_use(&db)?;
    // Opening runs the migrations any command would, so the copy reads this build's schema.
    let store = app.open_embedded()?;
    store.ensure_backoffice_schema()?;
    drop(store);
    let zh = app.lang == Lang::Zh;
    let mut progress = |step: Step<'_>| match step {
        Step::Rows { table, rows, total } => eprintln!(
            "{} {table}: {rows} / {total} {}",
            if zh { "复制" } else { "copying" },
            if zh { "行" } else { "rows" }
        ),
        Step::Indexes => eprintln!(
            "{}",
            if zh {
                "重建索引与外键…"
            } else {
                "building indexes and foreign keys…"
            }
        ),
        Step::Analyze => eprintln!(
            "{}",
            if zh {
                "整理并统计各表（VACUUM ANALYZE）…"
            } else {
                "vacuuming and analyzing the tables…"
            }
        ),
    };
    let report = copy_to_postgres(&db, &suanpan_store::PgOptions::new(&url), &mut progress)?;
    if app.json {
        output::print_json(&json!({"ok": true, "report": report}));
        return Ok(());
    }
    let rate = report.rows as f64 / report.copy_seconds.max(0.001);
    if zh {
        println!(
            "已复制 {} 张表共 {} 行，用时 {:.1} 秒（写入 {:.1} 秒，约 {rate:.0} 行/秒；建索引 {:.1} 秒；统计 {:.1} 秒）",
            report.tables.len(),
            report.rows,
            report.seconds,
            report.copy_seconds,
            report.index_seconds,
            report.analyze_seconds
        );
        println!(
            "下一步：用 suanpan --database … check 核对；各节点以同一 --database（或 suanpan.toml 中 database = …）运行，并使用本数据目录的 pan.key 与同一 KEK"
        );
    } else {
        println!(
            "Copied {} rows of {} tables in {:.1} s (rows {:.1} s, about {rate:.0} rows/s; indexes {:.1} s; statistics {:.1} s)",
            report.rows,
            report.tables.len(),
            report.seconds,
            report.copy_seconds,
            report.index_seconds,
            report.analyze_seconds
        );
        println!(
            "Next: check it with suanpan --database … check; run every node with the same --database (or database = … in suanpan.toml), this data directory's pan.key and the same KEK"
        );
    }
    Ok(())
}

fn user(app: &App, cmd: crate::args::UserCmd) -> Result<(), Fail> {
    use crate::args::UserCmd;
    use suanpan_core::backoffice::StaffRole;
    let store = app.open_store()?;
    store.ensure_backoffice_schema()?;
    let merchant_of =
        |m: &str| MerchantId::parse(m).map_err(|e| Fail::Other(anyhow::anyhow!(e.to_string())));
    let merchant = match cmd {
        UserCmd::Add {
            username,
            role,
            name,
            merchant,
            operator,
        } => {
            let m = merchant_of(&merchant)?;
            if suanpan_store::admin::merchant_name(&*store, &m)?.is_none() {
                return Err(AccessRefused::UnknownMerchant.into());
            }
            let role = StaffRole::parse(&role).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "role {role:?} (cashier, supervisor, finance, admin, auditor)"
                ))
            })?;
            let op = operator.as_deref().map(authn::operator_no).transpose()?;
            let password = authn::secret(NEW_PASSWORD_ENV, "新密码 new password")?;
            let new = NewUser {
                merchant: Some(m.clone()),
                username,
                name,
                role,
                operator_no: op,
                password: Zeroizing::new(password),
            };
            users::add(&*store, None, &new).map_err(|e| user_fail(e, &new.username))?;
            m
        }
        UserCmd::List { merchant } => merchant_of(&merchant)?,
    };
    let users = store.staff_list(&merchant)?;
    if app.json {
        let rows: Vec<_> = users
            .iter()
            .map(|u| {
                json!({"id": u.id, "username": u.username, "name": u.name, "role": u.role.as_str(),
                "operator": u.operator_no.map(|o| o.to_string())})
            })
            .collect();
        output::print_json(&json!({"ok": true, "users": rows}));
    } else {
        for u in users {
            let op = u
                .operator_no
                .map(|o| o.to_string())
                .unwrap_or_else(|| "-".into());
            println!(
                "{} {} {} {op} {}",
                u.id,
                u.username,
                u.role.as_str(),
                u.name
            );
        }
    }
    Ok(())
}

/// `admin operator add`: the CLI acts as the platform (the data directory's owner), so it
/// gives any merchant its counter operators, with the rules a merchant admin meets on the
/// 用户 page (`decide_new_operator`), audited as `admin`.
fn merchant_operator(app: &App, cmd: crate::args::MerchantOperatorCmd) -> Result<(), Fail> {
    let crate::args::MerchantOperatorCmd::Add {
        merchant,
        no,
        role,
        name,
    } = cmd;
    let store = app.open_store()?;
    store.ensure_backoffice_schema()?;
    let m =
        MerchantId::parse(&merchant).map_err(|e| Fail::Other(anyhow::anyhow!(e.to_string())))?;
    if suanpan_store::admin::merchant_name(&*store, &m)?.is_none() {
        return Err(AccessRefused::UnknownMerchant.into());
    }
    let op = authn::operator_no(&no)?;
    let password = authn::secret(NEW_PASSWORD_ENV, "新密码 new password")?;
    let new = NewOperator {
        merchant: m.clone(),
        no: op,
        role,
        name: name.clone(),
        password: Zeroizing::new(password),
    };
    users::add_operator(&*store, None, "admin", &new).map_err(|e| match e {
        UserError::OperatorTaken => {
            Fail::Other(anyhow::anyhow!("merchant {m} has operator {op} already"))
        }
        e => user_fail(e, ""),
    })?;
    if app.json {
        output::print_json(
            &json!({"ok": true, "merchant": m.as_str(), "operator": op.to_string(), "role": op.role().as_str()}),
        );
    } else {
        println!("{m} {op} {} {name}", op.role().as_str());
    }
    Ok(())
}

/// `admin merchant …`: onboarding and status, as the platform (audited as `admin`, no second
/// reviewer: the data directory's owner is the platform itself).
fn merchant(app: &App, cmd: crate::args::MerchantCmd) -> Result<(), Fail> {
    use crate::args::MerchantCmd;
    use suanpan_store::admin::{self, MerchantRecord};
    let store = app.open_store()?;
    let parse =
        |m: &str| MerchantId::parse(m).map_err(|e| Fail::Other(anyhow::anyhow!(e.to_string())));
    let show = |m: &MerchantRecord| {
        json!({"id": m.id.as_str(), "name": m.name, "short_name": m.short_name, "mcc": m.mcc,
            "address": m.address, "contact": m.contact, "status": m.status,
            "status_reason": m.status_reason})
    };
    let print = |rows: &[MerchantRecord]| {
        if app.json {
            let list: Vec<_> = rows.iter().map(show).collect();
            output::print_json(&json!({"ok": true, "merchants": list}));
        } else {
            for m in rows {
                println!("{} {} {} {}", m.id, m.status, m.short_name, m.name);
            }
        }
    };
    let (id, to, reason) = match cmd {
        MerchantCmd::Add {
            id,
            name,
            short_name,
            mcc,
            address,
            contact,
        } => {
            let id = parse(&id)?;
            if let Some(code) = &mcc
                && !(code.len() == 4 && code.chars().all(|c| c.is_ascii_digit()))
            {
                return Err(StoreError::Invalid(format!("MCC {code:?} (4 digits)")).into());
            }
            let name = name.trim().to_owned();
            if name.is_empty() {
                return Err(StoreError::Invalid("name (required)".into()).into());
            }
            let record = MerchantRecord {
                short_name: short_name.unwrap_or_else(|| name.clone()),
                id,
                name,
                mcc,
                address,
                contact,
                status: "pending".into(),
                status_reason: String::new(),
            };
            if !admin::onboard_merchant(&*store, &record)? {
                return Err(StoreError::Invalid(format!("merchant {} exists", record.id)).into());
            }
            print(&[record]);
            return Ok(());
        }
        MerchantCmd::List => {
            print(&admin::merchants(&*store)?);
            return Ok(());
        }
        MerchantCmd::Show { id } => {
            let m = admin::merchant(&*store, &parse(&id)?)?
                .ok_or(Fail::Refused(Box::new(AccessRefused::UnknownMerchant)))?;
            print(&[m]);
            return Ok(());
        }
        MerchantCmd::Suspend { id, reason } => (parse(&id)?, "suspended", reason),
        MerchantCmd::Activate { id, reason } => (parse(&id)?, "active", reason),
    };
    match admin::set_merchant_status(&*store, "admin", &id, to, &reason)? {
        None => Err(AccessRefused::UnknownMerchant.into()),
        Some(false) => {
            let now = admin::merchant(&*store, &id)?
                .map(|m| m.status)
                .unwrap_or_default();
            Err(StoreError::Invalid(format!("merchant {id} is {now}: cannot become {to}")).into())
        }
        Some(true) => {
            let m = admin::merchant(&*store, &id)?
                .ok_or(Fail::Refused(Box::new(AccessRefused::UnknownMerchant)))?;
            print(&[m]);
            Ok(())
        }
    }
}

/// `admin acquirer-user add`: the acquirer's own users, of no merchant.
fn acquirer_user(app: &App, cmd: crate::args::AcquirerUserCmd) -> Result<(), Fail> {
    use suanpan_core::backoffice::{StaffRole, Tier};
    let crate::args::AcquirerUserCmd::Add {
        username,
        role,
        name,
    } = cmd;
    let store = app.open_store()?;
    store.ensure_backoffice_schema()?;
    let role = StaffRole::parse(&role)
        .filter(|r| r.tier() == Tier::Acquirer)
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "role {role:?} (platform_admin, operations, risk_officer, acquirer_auditor)"
            ))
        })?;
    let password = authn::secret(NEW_PASSWORD_ENV, "新密码 new password")?;
    let new = NewUser {
        merchant: None,
        username,
        name,
        role,
        operator_no: None,
        password: Zeroizing::new(password),
    };
    let id = users::add(&*store, None, &new).map_err(|e| user_fail(e, &new.username))?;
    let NewUser { username, name, .. } = new;
    if app.json {
        output::print_json(
            &json!({"ok": true, "id": id, "username": username, "role": role.as_str()}),
        );
    } else {
        println!("{id} {username} {} {name}", role.as_str());
    }
    Ok(())
}

/// A user use case's error as the CLI reports it (the platform's own commands: a taken name
/// is said as the store says it).
fn user_fail(e: UserError, username: &str) -> Fail {
    match e {
        UserError::Refused(r) => Fail::Refused(Box::new(r)),
        UserError::Taken => StoreError::Invalid(format!("username {username:?} is taken")).into(),
        UserError::Store(e) => e.into(),
        e @ (UserError::NotFound | UserError::OperatorTaken) => {
            Fail::Other(anyhow::anyhow!(e.to_string()))
        }
    }
}

fn terminal(app: &App, cmd: crate::args::TerminalCmd) -> Result<(), Fail> {
    let store = app.open_any(suanpan_service::open_options())?;
    let store = &*store;
    let tid =
        |s: &str| TerminalId::parse(s).map_err(|e| Fail::Other(anyhow::anyhow!(e.to_string())));
    match cmd {
        TerminalCmd::Add {
            id,
            merchant,
            merchant_name,
            mac,
        } => {
            // A bad MAC name is refused before anything is registered.
            if let Some(m) = &mac
                && !admin::MAC_ALGORITHMS.contains(&m.trim().to_ascii_lowercase().as_str())
            {
                return Err(Fail::Other(anyhow::anyhow!(
                    "MAC 算法只能是 ecb 或 x919 / the MAC algorithm is ecb or x919, not {m:?}"
                )));
            }
            let m = MerchantId::parse(&merchant)
                .map_err(|e| Fail::Other(anyhow::anyhow!(e.to_string())))?;
            if admin::merchant_name(store, &m)?.is_none() {
                admin::add_merchant(store, &m, merchant_name.as_deref().unwrap_or(""))?;
            }
            let t = tid(&id)?;
            // A master key given with the registration is checked first and loaded with it,
            // so a bad key leaves no half-registered terminal.
            let tmk = std::env::var(crate::cmd_serve::TMK_ENV).ok();
            if let Some(k) = &tmk {
                suanpan_store::terminal_keys::parse_tmk(k)?;
            }
            admin::add_terminal(store, &t, &m, None)?;
            if let Some(k) = tmk {
                set_terminal_tmk(store, &t, &k)?;
            }
            if let Some(mac) = mac {
                admin::set_terminal_mac(store, &t, &mac)?;
            }
        }
        TerminalCmd::SetMac { id, mac } => {
            if !admin::set_terminal_mac(store, &tid(&id)?, &mac)? {
                return Err(AccessRefused::UnknownTerminal.into());
            }
        }
        TerminalCmd::Disable { id } => {
            admin::set_terminal_enabled(store, &tid(&id)?, false)?;
        }
        TerminalCmd::Enable { id } => {
            admin::set_terminal_enabled(store, &tid(&id)?, true)?;
        }
        TerminalCmd::SetTmk { id } => {
            let tmk = authn::secret(crate::cmd_serve::TMK_ENV, "TMK (32 hex digits)")?;
            if !set_terminal_tmk(store, &tid(&id)?, &tmk)? {
                return Err(AccessRefused::UnknownTerminal.into());
            }
        }
        TerminalCmd::List => {}
    }
    let terminals = admin::terminals(store)?;
    let shared = shared_tmks(store)?;
    if app.json {
        output::print_json(&json!({"ok": true, "terminals": terminals, "shared_tmk": shared}));
    } else {
        for t in terminals {
            println!(
                "{} {} {} batch {:06} tmk:{} mac:{}",
                t.id,
                t.merchant_id,
                if t.enabled { "enabled" } else { "disabled" },
                t.batch_no,
                t.has_tmk,
                t.mac
            );
        }
        for group in &shared {
            eprintln!(
                "{}",
                if app.lang == Lang::Zh {
                    format!(
                        "警告：以下终端共用同一个主密钥（TMK），一台泄露即全部泄露，请分别更换：{}",
                        group.join(", ")
                    )
                } else {
                    format!(
                        "WARNING: these terminals share one master key (TMK); one leak exposes them all, give each its own: {}",
                        group.join(", ")
                    )
                }
            );
        }
    }
    Ok(())
}

/// Groups of terminals whose TMKs are equal, found by a keyed digest of each (never by
/// comparing or printing the clear keys).
fn shared_tmks(store: &dyn suanpan_store::Store) -> Result<Vec<Vec<String>>, Fail> {
    let mut by_digest: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (id, digest) in suanpan_store::terminal_keys::tmk_digests(store)? {
        by_digest.entry(digest).or_default().push(id);
    }
    Ok(by_digest.into_values().filter(|g| g.len() > 1).collect())
}

pub fn check(app: &App) -> Result<(), Fail> {
    let store = app.open_any(suanpan_service::open_options())?;
    let audit = store.verify_audit()?;
    let money = store.conservation()?;
    let ok = audit.first_broken.is_none() && money.holds();
    if app.json {
        output::print_json(
            &json!({"ok": ok, "audit": audit, "conservation": money, "conservation_holds": money.holds()}),
        );
    } else {
        println!(
            "audit: {} entries, first broken: {:?}",
            audit.entries, audit.first_broken
        );
        println!(
            "money: initial {} = balances {} + net approved {} → {}",
            money.initial_fen,
            money.balances_fen,
            money.net_fen,
            if money.holds() { "ok" } else { "MISMATCH" }
        );
    }
    if ok { Ok(()) } else { Err(Fail::Reported) }
}

/// Lists the demo operators and their factory passwords (init and serve print them).
pub fn print_demo_operators(zh: bool) {
    for (no, pw, name) in DEMO_OPERATORS {
        println!(
            "  {no}  {name}  {} {pw}",
            if zh { "密码" } else { "password" }
        );
    }
    for (user, pw, role, name, _) in suanpan_store::backoffice::DEMO_STAFF {
        println!(
            "  {} {user} / {pw}  ({role}, {name})",
            if zh { "后台账号" } else { "back-office" }
        );
    }
}
