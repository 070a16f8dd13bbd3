// The tenants suite, included by `tenants.rs` (SQLite) and `tenants_pg.rs` (PostgreSQL).

use suanpan_core::backoffice::StaffRole;
use suanpan_core::{MerchantId, OperatorNo};
use suanpan_store::backoffice::Backoffice;

/// Merchant B of the issue.
const B: &str = "898310048990002";
/// B's own terminal.
const B_TERMINAL: &str = "87654321";

/// Registers merchant B with its terminal, its cashier 01 and its back-office users
/// `b-admin`, `b-supervisor`, `b-finance`, `b-cashier` and `b-auditor` (password
/// `<name>-demo`, like the demo's), and books one sale of B. Returns B's sale.
fn merchant_b(app: &TestApp) -> i64 {
    let sale = other_merchant_sale(&*app.store);
    let b = MerchantId::parse(B).expect("merchant");
    for role in StaffRole::MERCHANT {
        let name = format!("b-{}", role.as_str());
        let op = match role {
            StaffRole::Cashier => Some(OperatorNo::parse("01").expect("op")),
            _ => None,
        };
        app.store
            .add_staff(&b, &name, &name, role, op, &format!("{name}-demo"))
            .expect("B's user");
    }
    sale
}

/// Logs in as one of B's users; B's admin enrols TOTP on the way.
fn login_b<'a>(app: &'a TestApp, user: &str) -> Session<'a> {
    if user == "b-admin" {
        app.login_enrolled(user)
    } else {
        app.login_only(user)
    }
}

/// Goal (finding 1): channels are per merchant. B's admin disabling 微信支付 leaves A's
/// cashier able to take WeChat Pay; the guard counts B's unsettled transactions, not A's; and
/// B's own cashier is refused with 12.
#[test]
fn a_merchant_admin_changes_only_its_own_channels() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    merchant_b(&app);
    let b_admin = login_b(&app, "b-admin");
    let list = b_admin.get("/api/v1/channels").json();
    assert_eq!(list[0]["id"], "unionpay");
    assert_eq!(list[0]["unsettled"], 1, "B's one card sale, not A's three: {list}");
    let r = b_admin.post(
        "/api/v1/channels/wechat/disable",
        r#"{"password":"b-admin-demo","reason":"本店不收微信"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["enabled"], false);

    let a_cashier = app.login("cashier");
    let wechat = r#"{"kind":"sale","amount":500,"wallet":{"id":"wechat-demo-001"}}"#;
    let r = a_cashier.post("/api/v1/payments", wechat);
    assert_eq!(r.status, 201, "A's WeChat Pay is A's business: {}", r.text());
    let a_admin = app.login("admin");
    let a_list = a_admin.get("/api/v1/channels").json();
    assert_eq!(a_list[2]["id"], "wechat");
    assert_eq!(a_list[2]["enabled"], true, "{a_list}");

    let b_cashier = login_b(&app, "b-cashier");
    let r = b_cashier.post("/api/v1/payments", wechat);
    assert_eq!(
        (r.status, r.code().as_str()),
        (422, "backoffice.channel_disabled"),
        "{}",
        r.text()
    );
}

/// Goal (finding 2): B's auditor reads B's audit entries only, on `/api/v1/audit` and on the
/// `/audit` page; none of A's transactions, terminals or users shows.
#[test]
fn a_merchant_auditor_reads_only_its_own_audit_entries() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let b_sale = merchant_b(&app);
    let a_sale = sale(&*app.store, 4_321);
    let auditor = login_b(&app, "b-auditor");
    let r = auditor.get("/api/v1/audit?limit=500");
    assert_eq!(r.status, 200, "{}", r.text());
    let entries = r.json();
    let targets: Vec<&str> = entries
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["target"].as_str())
        .collect();
    assert!(
        targets.contains(&format!("txn:{b_sale}").as_str()),
        "B's own sale is there: {targets:?}"
    );
    for t in &targets {
        assert_ne!(*t, format!("txn:{a_sale}"), "A's sale leaked");
        assert!(!t.contains(suanpan_store::admin::DEMO_TERMINAL), "A's terminal: {t}");
        assert!(!t.contains(suanpan_store::admin::DEMO_MERCHANT), "A itself: {t}");
    }
    let page = auditor.get("/audit").text();
    assert!(page.contains(&format!("txn:{b_sale}")), "B's sale on the page");
    assert!(!page.contains(&format!("txn:{a_sale}<")), "A's sale leaked on the page");
    assert!(!page.contains(suanpan_store::admin::DEMO_TERMINAL));
    // A's auditor, in turn, does not see B's.
    let a_auditor = app.login("auditor");
    let a_targets = a_auditor.get("/api/v1/audit?limit=500").text();
    assert!(a_targets.contains(&format!("txn:{a_sale}")));
    assert!(!a_targets.contains(&format!("\"txn:{b_sale}\"")));
    assert!(!a_targets.contains(B_TERMINAL));
}

/// Goal (finding 3): backups, restores and purges cover every merchant's data, so no merchant
/// role lists or makes them; the operations page is not offered to them either.
#[test]
fn merchant_users_never_touch_whole_store_backups_or_purges() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    merchant_b(&app);
    let sessions = [login_b(&app, "b-admin"), app.login("admin")];
    let before = app.state();
    for s in sessions {
        assert_eq!(s.get("/api/v1/backups").status, 403);
        let r = s.post("/api/v1/backups", "{}");
        assert_eq!(r.status, 403, "{}", r.text());
        let r = s.post(
            "/api/v1/purge",
            r#"{"before":"2019-01-01","password":"admin-demo","reason":"x","merchant":"898310048990001"}"#,
        );
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(s.get("/ops").status, 403);
    }
    assert_eq!(app.backup_files(), 0, "no backup was made");
    assert_eq!(app.state(), before);
}

/// Goal (finding 4): a merchant admin gives its merchant counter operators (00, 01…) on the
/// API; they belong to that merchant only, a wrong role for the number is refused, and
/// another merchant's admin does not see them.
#[test]
fn a_merchant_admin_adds_its_own_counter_operators() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    merchant_b(&app);
    let b_admin = login_b(&app, "b-admin");
    let r = b_admin.post(
        "/api/v1/operators",
        r#"{"no":"02","role":"cashier","name":"收银 小李","password":"2468"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = b_admin.post(
        "/api/v1/operators",
        r#"{"no":"02","role":"cashier","name":"again","password":"2468"}"#,
    );
    assert_eq!(r.status, 409, "the number is taken: {}", r.text());
    let r = b_admin.post(
        "/api/v1/operators",
        r#"{"no":"03","role":"admin","name":"x","password":"2468"}"#,
    );
    assert_eq!(r.status, 422, "03 is a cashier's number: {}", r.text());
    let ops = b_admin.get("/api/v1/operators").json();
    assert!(ops.to_string().contains("收银 小李"), "{ops}");
    let a_ops = app.login("admin").get("/api/v1/operators").text();
    assert!(!a_ops.contains("收银 小李"), "{a_ops}");
    let b_sup = login_b(&app, "b-supervisor");
    let r = b_sup.post(
        "/api/v1/operators",
        r#"{"no":"04","role":"cashier","name":"x","password":"2468"}"#,
    );
    assert_eq!(r.status, 403);
}

/// Goal (issue 14, bad input): a merchant the acquirer suspended keeps its back-office to
/// read, but every change is refused (423) saying why, and nothing changes; once activated
/// again it works. Another merchant is not affected.
#[test]
fn a_suspended_merchants_back_office_is_read_only() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    merchant_b(&app);
    let b_admin = login_b(&app, "b-admin");
    let b = MerchantId::parse(B).expect("merchant");
    let done = suanpan_store::admin::set_merchant_status(&*app.store, "admin", &b, "suspended", "风险核查")
        .expect("suspend");
    assert_eq!(done, Some(true));
    let before = app.state();
    assert_eq!(b_admin.get("/api/v1/transactions").status, 200, "reading goes on");
    let r = b_admin.post(
        "/api/v1/operators",
        r#"{"no":"05","role":"cashier","name":"x","password":"2468"}"#,
    );
    assert_eq!((r.status, r.code().as_str()), (423, "merchant.read_only"), "{}", r.text());
    assert!(r.json()["message"].as_str().unwrap_or("").contains("暂停"), "{}", r.text());
    assert_eq!(app.state(), before, "nothing changed");
    let a_cashier = app.login("cashier");
    let r = a_cashier.post(
        "/api/v1/payments",
        r#"{"kind":"sale","amount":500,"wallet":{"id":"wechat-demo-001"}}"#,
    );
    assert_eq!(r.status, 201, "A is not suspended: {}", r.text());
    suanpan_store::admin::set_merchant_status(&*app.store, "admin", &b, "active", "核查完毕")
        .expect("activate");
    let r = b_admin.post(
        "/api/v1/operators",
        r#"{"no":"05","role":"cashier","name":"x","password":"2468"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
}
