// The acquirer suite, included by `acquirer.rs` (SQLite) and `acquirer_pg.rs` (PostgreSQL).

use suanpan_core::MerchantId;
use suanpan_core::backoffice::StaffRole;
use suanpan_store::backoffice::Backoffice;

/// The merchant the tests onboard.
const NEW: &str = "898310048990007";
/// Its settlement account, which no answer may show in full.
const ACCOUNT: &str = "6222021234561234";
const MASKED: &str = "6222 **** **** 1234";

/// Logs in an acquirer user with TOTP enrolled (every acquirer role needs it); any user but
/// the demo's `platform` is created first with `role` (password `<user>-demo`).
fn acquirer<'a>(app: &'a TestApp, user: &str, role: StaffRole) -> Session<'a> {
    if user != "platform" {
        let hash = suanpan_store::auth::hash_password(&format!("{user}-demo"));
        app.store
            .add_staff_in(None, user, user, role, None, &hash)
            .expect("acquirer user");
    }
    let s = app.login_only(user);
    let offer = s.get("/api/v1/totp").json();
    let secret = offer["secret"].as_str().expect("secret").to_owned();
    let r = s.post(
        "/api/v1/totp",
        &format!(r#"{{"code":"{}"}}"#, totp_code(&secret, app.store.now())),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    s
}

fn onboard(s: &Session<'_>) -> i64 {
    let r = s.post(
        "/api/v1/acquirer/merchants",
        &format!(
            r#"{{"id":"{NEW}","name":"上海新店餐饮有限公司","short_name":"新店","mcc":"5812","address":"上海市","contact":"王经理 13800000000","settlement_account":"{ACCOUNT}"}}"#
        ),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let c = r.json();
    assert_eq!(c["status"], "pending");
    assert_eq!(c["kind"], "create");
    assert_eq!(c["settlement_account"], MASKED);
    c["id"].as_i64().expect("id")
}

/// Goal (issue 14): an acquirer user lands on the console, never on a 403 page; the
/// console's routes and pages do not exist for a merchant's users (404, not 403).
#[test]
fn acquirer_users_land_on_the_console_and_merchant_users_never_see_it() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let platform = acquirer(&app, "platform", StaffRole::PlatformAdmin);
    let r = platform.get("/dashboard");
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/acquirer"));
    let home = platform.get("/acquirer");
    assert_eq!(home.status, 200, "{}", home.text());
    let html = home.text();
    assert!(html.contains("机构后台"), "{html}");
    assert!(html.contains(r#"id="merchants-active">1<"#), "the demo merchant: {html}");
    assert!(html.contains(r#"id="terminals-count">"#), "{html}");
    for user in ["admin", "supervisor", "auditor", "cashier"] {
        let s = app.login(user);
        for path in [
            "/acquirer",
            "/acquirer/merchants",
            "/acquirer/merchant-changes",
            "/api/v1/acquirer/merchants",
            "/api/v1/acquirer/merchant-changes",
            "/api/v1/acquirer/merchants/898310048990001",
        ] {
            assert_eq!(s.get(path).status, 404, "{user} {path}");
        }
        let r = s.post(
            "/api/v1/acquirer/merchants",
            &format!(r#"{{"id":"{NEW}","name":"x","settlement_account":"{ACCOUNT}"}}"#),
        );
        assert_eq!(r.status, 404, "{user}: {}", r.text());
    }
    assert!(admin_merchant_absent(&app));
}

fn admin_merchant_absent(app: &TestApp) -> bool {
    let id = MerchantId::parse(NEW).expect("id");
    suanpan_store::admin::merchant(&*app.store, &id)
        .expect("read")
        .is_none()
}

/// Goal (issue 14): onboarding is maker-checker — the maker's change stays pending, the
/// maker can never approve it, a second acquirer user's approval makes the merchant, audited
/// with both names; the settlement account is sealed and shown masked in every answer.
#[test]
fn onboarding_takes_a_second_acquirer_user_and_masks_the_account() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let platform = acquirer(&app, "platform", StaffRole::PlatformAdmin);
    let ops = acquirer(&app, "ops2", StaffRole::Operations);
    let auditor = acquirer(&app, "acq-auditor", StaffRole::AcquirerAuditor);
    let change = onboard(&platform);
    // Pending: nothing exists yet.
    assert!(admin_merchant_absent(&app));
    assert_eq!(
        platform
            .get(&format!("/api/v1/acquirer/merchants/{NEW}"))
            .status,
        404
    );
    // The maker never approves their own change; an auditor never reviews.
    let own = platform.post(
        &format!("/api/v1/acquirer/merchant-changes/{change}/approve"),
        "{}",
    );
    assert_eq!(own.status, 422, "{}", own.text());
    assert_eq!(own.code(), "backoffice.own_request");
    let r = auditor.post(
        &format!("/api/v1/acquirer/merchant-changes/{change}/approve"),
        "{}",
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(admin_merchant_absent(&app));
    // A second change of the same merchant waits for the first.
    let again = ops.post(
        "/api/v1/acquirer/merchants",
        &format!(r#"{{"id":"{NEW}","name":"别的名字","settlement_account":"{ACCOUNT}"}}"#),
    );
    assert_eq!(again.status, 409, "{}", again.text());
    let listed = ops.get("/api/v1/acquirer/merchant-changes?status=pending");
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()[0]["id"], change);
    // The checker approves: the merchant exists, pending until activated.
    let ok = ops.post(
        &format!("/api/v1/acquirer/merchant-changes/{change}/approve"),
        "{}",
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["status"], "approved");
    assert_eq!(ok.json()["reviewed_by"], "ops2");
    let m = auditor.get(&format!("/api/v1/acquirer/merchants/{NEW}"));
    assert_eq!(m.status, 200, "{}", m.text());
    let m = m.json();
    assert_eq!(m["status"], "pending");
    assert_eq!(m["short_name"], "新店");
    assert_eq!(m["settlement_account"], MASKED);
    // Reviewed once only.
    let twice = ops.post(
        &format!("/api/v1/acquirer/merchant-changes/{change}/approve"),
        "{}",
    );
    assert_eq!(twice.status, 409, "{}", twice.text());
    // Audited with both names.
    let entries = app.store.audit_entries(1000, 0).expect("audit");
    let onboarded = entries
        .iter()
        .find(|e| e.action == "merchant.onboard" && e.target == format!("merchant:{NEW}"))
        .expect("onboarding audited");
    assert_eq!(onboarded.actor, "web:ops2");
    assert!(
        onboarded.reason.contains("maker=platform") && onboarded.reason.contains("checker=ops2"),
        "{onboarded:?}"
    );
    // The account is stored sealed: the clear digits come back only through the KEK.
    let id = MerchantId::parse(NEW).expect("id");
    let clear = suanpan_store::onboarding::account_digits(&*app.store, &id)
        .expect("read")
        .expect("an account");
    assert_eq!(clear.as_str(), ACCOUNT);
    // Never in full in any answer or page.
    for path in [
        "/api/v1/acquirer/merchants".to_owned(),
        format!("/api/v1/acquirer/merchants/{NEW}"),
        "/api/v1/acquirer/merchant-changes".to_owned(),
        "/acquirer/merchants".to_owned(),
        format!("/acquirer/merchants/{NEW}"),
        "/acquirer/merchant-changes".to_owned(),
        "/api/v1/audit".to_owned(),
    ] {
        let r = platform.get(&path);
        assert!(
            r.status == 200 || path == "/api/v1/audit",
            "{path}: {}",
            r.status
        );
        assert!(!r.text().contains(ACCOUNT), "{path} shows the account");
    }
    assert!(platform.get("/acquirer/merchants").text().contains(MASKED));
}

/// Goal (issue 14): status changes and edits are maker-checker too; a suspension says why;
/// a rejection needs a comment and changes nothing; the status lifecycle is the core's.
#[test]
fn status_changes_and_edits_wait_for_review() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let platform = acquirer(&app, "platform", StaffRole::PlatformAdmin);
    let risk = acquirer(&app, "risk", StaffRole::RiskOfficer);
    let change = onboard(&platform);
    let r = risk.post(
        &format!("/api/v1/acquirer/merchant-changes/{change}/approve"),
        "{}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Activate: pending → active, on approval only.
    let r = risk.post(
        &format!("/api/v1/acquirer/merchants/{NEW}/status"),
        r#"{"status":"active"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let activate = r.json()["id"].as_i64().expect("id");
    let status_now = |s: &Session<'_>| {
        s.get(&format!("/api/v1/acquirer/merchants/{NEW}")).json()["status"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(status_now(&platform), "pending");
    let r = platform.post(
        &format!("/api/v1/acquirer/merchant-changes/{activate}/approve"),
        "{}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(status_now(&platform), "active");
    // Suspending says why; closing a suspended merchant is allowed, re-opening a closed not.
    let r = platform.post(
        &format!("/api/v1/acquirer/merchants/{NEW}/status"),
        r#"{"status":"suspended"}"#,
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.code(), "backoffice.reason_required");
    let r = platform.post(
        &format!("/api/v1/acquirer/merchants/{NEW}/status"),
        r#"{"status":"suspended","reason":"交易异常，风险排查中"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let suspend = r.json()["id"].as_i64().expect("id");
    // A rejection needs a comment, and changes nothing.
    let r = risk.post(
        &format!("/api/v1/acquirer/merchant-changes/{suspend}/reject"),
        "{}",
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.code(), "backoffice.comment_required");
    let r = risk.post(
        &format!("/api/v1/acquirer/merchant-changes/{suspend}/reject"),
        r#"{"comment":"已核实，交易正常"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "rejected");
    assert_eq!(status_now(&platform), "active");
    // An edit with a new account: the old one stays until approval.
    let r = platform.req_patch(
        &format!("/api/v1/acquirer/merchants/{NEW}"),
        r#"{"name":"上海新店餐饮有限公司","short_name":"新店二号","settlement_account":"6217000011112222333"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["settlement_account"], "6217 **** **** **** 2333");
    let edit = r.json()["id"].as_i64().expect("id");
    let m = platform.get(&format!("/api/v1/acquirer/merchants/{NEW}")).json();
    assert_eq!(m["settlement_account"], MASKED);
    let r = risk.post(
        &format!("/api/v1/acquirer/merchant-changes/{edit}/approve"),
        "{}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let m = platform.get(&format!("/api/v1/acquirer/merchants/{NEW}")).json();
    assert_eq!(m["short_name"], "新店二号");
    assert_eq!(m["settlement_account"], "6217 **** **** **** 2333");
    // Bad input: an unknown merchant is 404, a malformed account 400 without echoing it.
    let r = platform.post(
        "/api/v1/acquirer/merchants/898310048990999/status",
        r#"{"status":"active"}"#,
    );
    assert_eq!(r.status, 404, "{}", r.text());
    let r = platform.post(
        "/api/v1/acquirer/merchants",
        r#"{"id":"898310048990008","name":"x","settlement_account":"12ab"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(!r.text().contains("12ab"), "{}", r.text());
}

/// Goal: the console's pages work through their forms — a maker submits, the page tells
/// them a second user reviews it, and the checker approves from the changes page.
#[test]
fn onboarding_through_the_pages() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let platform = acquirer(&app, "platform", StaffRole::PlatformAdmin);
    let ops = acquirer(&app, "ops2", StaffRole::Operations);
    let form = |s: &Session<'_>, path: &str, body: &str| {
        app.req(
            "POST",
            path,
            &[
                ("Cookie", &s.cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(format!("csrf={}&{body}", s.csrf).as_bytes()),
        )
    };
    let r = form(
        &platform,
        "/acquirer/merchants",
        &format!("id={NEW}&name=%E6%96%B0%E5%BA%97&short_name=&mcc=5812&address=&contact=&settlement_account={ACCOUNT}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("等待另一位机构用户审核"), "{}", r.text());
    let page = platform.get("/acquirer/merchant-changes").text();
    assert!(page.contains("这是您提交的变更"), "{page}");
    let page = ops.get("/acquirer/merchant-changes").text();
    let id = onboarding_change_id(&app);
    assert!(page.contains(&format!("/acquirer/merchant-changes/{id}/approve")), "{page}");
    let r = form(&ops, &format!("/acquirer/merchant-changes/{id}/approve"), "comment=");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("变更已生效"), "{}", r.text());
    let page = ops.get(&format!("/acquirer/merchants/{NEW}"));
    assert_eq!(page.status, 200);
    assert!(page.text().contains(MASKED) && !page.text().contains(ACCOUNT));
    assert_reads_as_chinese(&page);
}

fn onboarding_change_id(app: &TestApp) -> i64 {
    suanpan_store::onboarding::changes(&*app.store, None, None).expect("changes")[0].id
}

/// Goal (issue 14, bad input): a merchant the acquirer suspended (through maker-checker)
/// sees why on every page of its back-office, in zh and en, and acts on nothing.
#[test]
fn a_suspended_merchant_sees_why_on_every_page() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let platform = acquirer(&app, "platform", StaffRole::PlatformAdmin);
    let ops = acquirer(&app, "ops2", StaffRole::Operations);
    let sup = app.login("supervisor");
    assert!(!sup.get("/dashboard").text().contains("merchant-banner"));
    let r = platform.post(
        "/api/v1/acquirer/merchants/898310048990001/status",
        r#"{"status":"suspended","reason":"结算账户冻结，待核实"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_i64().expect("id");
    // Pending: nothing changes for the merchant yet.
    assert!(!sup.get("/txns").text().contains("merchant-banner"));
    let r = ops.post(
        &format!("/api/v1/acquirer/merchant-changes/{id}/approve"),
        "{}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for path in ["/dashboard", "/txns", "/review", "/batches", "/channels"] {
        let page = sup.get(path).text();
        assert!(
            page.contains("id=\"merchant-banner\"") && page.contains("结算账户冻结，待核实"),
            "{path}: {page}"
        );
        assert!(page.contains("已被收单机构暂停"), "{path}");
    }
    let en = app.req(
        "GET",
        "/dashboard",
        &[("Cookie", &sup.cookie), ("Accept-Language", "en")],
        None,
    );
    assert!(en.text().contains("suspended by the acquirer"), "{}", en.text());
    let r = sup.request_raw();
    assert_eq!(r.status, 423, "{}", r.text());
}

trait RawRequest {
    fn request_raw(&self) -> Resp;
}

impl RawRequest for Session<'_> {
    /// A void request on the demo's first sale, answered as it comes.
    fn request_raw(&self) -> Resp {
        self.post(
            "/api/v1/requests",
            r#"{"kind":"void","transaction_id":1,"reason":"顾客要求","customer_consent":true}"#,
        )
    }
}

/// Goal (issue 14): the acquirer registers a terminal, moves it to another merchant only
/// once its batch is settled (a core rule), and a locked terminal is refused as a disabled
/// one (the 8583 host answers it from `access.terminal_disabled`); merchant users get 404.
#[test]
fn terminals_are_registered_assigned_with_a_settled_batch_and_locked() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let platform = acquirer(&app, "platform", StaffRole::PlatformAdmin);
    let risk = acquirer(&app, "risk", StaffRole::RiskOfficer);
    let change = onboard(&platform);
    let r = risk.post(
        &format!("/api/v1/acquirer/merchant-changes/{change}/approve"),
        "{}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Register for the demo merchant; the id is taken once only.
    let r = platform.post(
        "/api/v1/acquirer/terminals",
        r#"{"id":"T0000001","merchant":"898310048990001"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["status"], "active");
    assert_eq!(r.json()["open_batch_transactions"], 0);
    let r = platform.post(
        "/api/v1/acquirer/terminals",
        r#"{"id":"T0000001","merchant":"898310048990001"}"#,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    // A risk officer reads but does not manage terminals.
    let r = risk.post(
        "/api/v1/acquirer/terminals/T0000001/lock",
        r#"{"reason":"x"}"#,
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // Lock: says why, and the terminal is refused until unlocked.
    let r = platform.post("/api/v1/acquirer/terminals/T0000001/lock", "{}");
    assert_eq!(r.status, 422, "{}", r.text());
    let r = platform.post(
        "/api/v1/acquirer/terminals/T0000001/lock",
        r#"{"reason":"终端丢失"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "locked");
    let tid = suanpan_core::TerminalId::parse("T0000001").expect("id");
    let refused = app.store.terminal(&tid).expect("read");
    assert_eq!(
        refused.err().map(|r| suanpan_core::Refusal::key(&r)),
        Some("access.terminal_disabled")
    );
    let r = platform.post("/api/v1/acquirer/terminals/T0000001/unlock", "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(app.store.terminal(&tid).expect("read").is_ok());
    // An empty batch moves; the demo terminal with sales in its open batch does not.
    let r = platform.post(
        "/api/v1/acquirer/terminals/T0000001/assign",
        &format!(r#"{{"merchant":"{NEW}"}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["merchant_id"], NEW);
    sale(&*app.store, 1_000);
    let busy = platform
        .get("/api/v1/acquirer/terminals")
        .json()
        .as_array()
        .expect("list")
        .iter()
        .find(|t| t["open_batch_transactions"].as_u64().unwrap_or(0) > 0)
        .expect("a terminal with an open batch")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = platform.post(
        &format!("/api/v1/acquirer/terminals/{busy}/assign"),
        &format!(r#"{{"merchant":"{NEW}"}}"#),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.code(), "backoffice.terminal_batch_open");
    // The page lists it, with the way to load keys; merchant users never see it.
    let page = platform.get("/acquirer/terminals");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("T0000001") && page.text().contains("set-tmk"));
    let admin = app.login("admin");
    assert_eq!(admin.get("/acquirer/terminals").status, 404);
    assert_eq!(admin.get("/api/v1/acquirer/terminals").status, 404);
}

/// A `PUT` or `DELETE` with the session's cookie and CSRF token.
fn send_as(s: &Session<'_>, method: &str, path: &str, body: &str) -> Resp {
    s.app.req(
        method,
        path,
        &[
            ("Cookie", &s.cookie),
            ("X-CSRF-Token", &s.csrf),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    )
}

/// The value of limit `field` in a limits answer's `tier`.
fn limit(v: &serde_json::Value, tier: &str, field: &str) -> i64 {
    v[tier]["limits"]
        .as_array()
        .expect("limits")
        .iter()
        .find(|l| l["field"] == field)
        .and_then(|l| l["value"].as_i64())
        .expect("the limit")
}

/// Goal: the acquirer's risk officer sets a merchant's limits and hours; the merchant's
/// admin tightens them and is refused a looser one with the limit named in words; the
/// blocklist refuses a blocked BIN's payment at once and lets it through once removed;
/// merchant users get 404 on every acquirer route.
#[test]
fn risk_limits_and_the_blocklist_over_the_api() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let risk = acquirer(&app, "risk", StaffRole::RiskOfficer);
    let path = "/api/v1/acquirer/merchants/898310048990001/risk-limits";
    let r = risk.get(path);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["acquirer"].is_null());
    assert_eq!(limit(&r.json(), "effective", "single_amount_max_fen"), 5_000_000);
    let r = send_as(
        &risk,
        "PUT",
        path,
        r#"{"single_amount_max_fen":2000000,"card_count_max":30,"open_at":"08:00","close_at":"23:30"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(limit(&r.json(), "acquirer", "single_amount_max_fen"), 2_000_000);
    assert_eq!(r.json()["effective"]["open_at"], "08:00");
    let shown = r.json()["effective"]["limits"][0]["display"].clone();
    assert_eq!(shown, "¥20,000.00");
    let half = send_as(&risk, "PUT", path, r#"{"single_amount_max_fen":1,"open_at":"08:00"}"#);
    assert_eq!(half.status, 422, "{}", half.text());
    let bad = send_as(&risk, "PUT", path, r#"{"single_amount_max_fen":1,"open_at":"25:00","close_at":"08:00"}"#);
    assert_eq!(bad.status, 400, "{}", bad.text());
    let missing = send_as(&risk, "PUT", "/api/v1/acquirer/merchants/898310048990099/risk-limits", r#"{"single_amount_max_fen":1}"#);
    assert_eq!(missing.status, 404);
    // The merchant's admin may only tighten.
    let admin = app.login("admin");
    let r = send_as(&admin, "PUT", "/api/v1/risk/limits", r#"{"single_amount_max_fen":3000000,"card_count_max":30}"#);
    assert_eq!((r.status, r.code().as_str()), (422, "risk.looser_than_acquirer"), "{}", r.text());
    let said = r.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(said.contains("单笔限额") && !said.contains("_fen"), "{said}");
    let r = send_as(&admin, "PUT", "/api/v1/risk/limits", r#"{"single_amount_max_fen":500000,"card_count_max":10}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(limit(&r.json(), "effective", "single_amount_max_fen"), 500_000);
    assert_eq!(limit(&r.json(), "effective", "card_count_max"), 10);
    let sup = app.login("supervisor");
    assert_eq!(sup.get("/api/v1/risk/limits").status, 200);
    let r = send_as(&sup, "PUT", "/api/v1/risk/limits", r#"{"single_amount_max_fen":1}"#);
    assert_eq!(r.status, 403);
    // The blocklist.
    let cashier = app.login("cashier");
    let pay = r#"{"kind":"sale","amount":1234,"card":{"pan":"6222021234567890128"}}"#;
    let r = risk.post(
        "/api/v1/acquirer/blocklist",
        r#"{"kind":"bin","bin":"622202","reason":"盗卡批次"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let bin_entry = r.json()["id"].as_i64().expect("id");
    let r = cashier.post("/api/v1/payments", pay);
    assert_eq!((r.status, r.code().as_str()), (422, "risk.blocklisted"), "{}", r.text());
    let r = risk.post("/api/v1/acquirer/blocklist", r#"{"kind":"card","transaction_id":1,"reason":"持卡人挂失"}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.json()["card"].as_str().unwrap_or_default().ends_with("0128"), "{}", r.text());
    let card_entry = r.json()["id"].as_i64().expect("id");
    let r = risk.post("/api/v1/acquirer/blocklist", r#"{"kind":"card","transaction_id":987654,"reason":"x"}"#);
    assert_eq!(r.status, 404);
    let r = risk.post("/api/v1/acquirer/blocklist", r#"{"kind":"bin","reason":"x"}"#);
    assert_eq!(r.status, 422);
    // A transaction id below 1 is refused whatever the kind, as the schema says.
    let before = risk.get("/api/v1/acquirer/blocklist").text();
    let r = risk.post(
        "/api/v1/acquirer/blocklist",
        r#"{"kind":"bin","bin":"000000","reason":"0","transaction_id":0}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(risk.get("/api/v1/acquirer/blocklist").text(), before);
    assert_eq!(risk.get("/api/v1/acquirer/blocklist").json().as_array().map(Vec::len), Some(2));
    for id in [bin_entry, card_entry] {
        let r = send_as(&risk, "DELETE", &format!("/api/v1/acquirer/blocklist/{id}"), "");
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let again = send_as(&risk, "DELETE", &format!("/api/v1/acquirer/blocklist/{bin_entry}"), "");
    assert_eq!(again.status, 404);
    assert_eq!(cashier.post("/api/v1/payments", pay).status, 201);
    // An acquirer auditor reads, does not change.
    let auditor = acquirer(&app, "acq-auditor", StaffRole::AcquirerAuditor);
    assert_eq!(auditor.get("/api/v1/acquirer/blocklist").status, 200);
    let r = auditor.post("/api/v1/acquirer/blocklist", r#"{"kind":"bin","bin":"622202","reason":"x"}"#);
    assert_eq!(r.status, 403);
    // Merchant users: the routes do not exist.
    for (method, p) in [("GET", path), ("PUT", path), ("GET", "/api/v1/acquirer/blocklist"), ("GET", "/api/v1/acquirer/compliance-reports")] {
        let r = send_as(&admin, method, p, r#"{"single_amount_max_fen":1}"#);
        assert_eq!(r.status, 404, "{method} {p}");
    }
}

/// Goal: the dashboard's counts per day and per rule equal SQL's over the same window, an
/// alert older than the window is not counted, a merchant's supervisor counts only its own;
/// the compliance report the scheduler kept reads back as JSON and CSV, a day without one
/// is 404 and a malformed day 400.
#[test]
fn alert_counts_equal_sql_and_the_compliance_report_downloads() {
    use suanpan_store::sql::SqlExt;
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let now = app.store.now();
    let a = MerchantId::parse("898310048990001").expect("A");
    let b = MerchantId::parse("898310048990002").expect("B");
    let at = |days: i64, hours: i64| {
        now.checked_sub(jiff::SignedDuration::from_hours(days * 24 + hours))
            .expect("time")
    };
    let alerts = [
        (&a, "duplicate", at(0, 0)),
        (&a, "duplicate", at(1, 2)),
        (&a, "velocity", at(3, 0)),
        (&b, "blocklist", at(2, 0)),
        (&a, "velocity", at(40, 0)),
    ];
    suanpan_store::setup(&*app.store, |c, _| {
        for (m, rule, when) in alerts {
            suanpan_store::repo::risk::insert_alert(
                c,
                &suanpan_store::repo::risk::NewAlert {
                    merchant_id: m,
                    terminal_id: None,
                    rule,
                    severity: "medium",
                    action: "alerted",
                    card_last4: None,
                    card_fp: None,
                    amount: None,
                    txn_ids: &[],
                    inputs: "",
                    review: None,
                    at: when,
                },
            )?;
        }
        Ok(())
    })
    .expect("alerts");
    let zone = app.store.policy().zone().expect("zone");
    let first_day = now
        .to_zoned(zone.clone())
        .date()
        .checked_sub(jiff::Span::new().days(13))
        .expect("day");
    let since = first_day.to_zoned(zone).expect("zoned").timestamp().as_microsecond();
    let sql = |merchant: Option<&MerchantId>| -> Vec<(String, i64)> {
        let filter = merchant.map_or(String::new(), |m| format!(" AND merchant_id = '{m}'"));
        suanpan_store::read(&*app.store, |c| {
            c.rows(
                &format!("SELECT rule, COUNT(*) FROM risk_alerts WHERE created_at >= {since}{filter} GROUP BY rule ORDER BY rule"),
                &[],
                |r| Ok((r.text(0)?, r.i64(1)?)),
            )
        })
        .expect("sql")
    };
    let per_rule = |v: serde_json::Value| -> Vec<(String, i64)> {
        let mut sums = std::collections::BTreeMap::new();
        for c in v.as_array().expect("counts") {
            *sums.entry(c["rule"].as_str().expect("rule").to_owned()).or_insert(0) +=
                c["count"].as_i64().expect("count");
        }
        sums.into_iter().collect()
    };
    let risk = acquirer(&app, "risk", StaffRole::RiskOfficer);
    let all = risk.get("/api/v1/alerts/counts?days=14");
    assert_eq!(all.status, 200, "{}", all.text());
    assert_eq!(per_rule(all.json()), sql(None));
    assert_eq!(sql(None).iter().map(|r| r.1).sum::<i64>(), 4, "the 40-day-old one is out");
    let sup = app.login("supervisor");
    assert_eq!(per_rule(sup.get("/api/v1/alerts/counts").json()), sql(Some(&a)));
    assert_eq!(sup.get("/api/v1/alerts/counts?days=0").status, 400);
    let list = sup.get("/api/v1/alerts?rule=velocity&severity=medium").json();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    assert_eq!(sup.get("/api/v1/alerts?rule=nonsense").status, 400);
    // The compliance report, kept by the scheduler.
    let day = make_compliance_report(&app);
    let listed = risk.get("/api/v1/acquirer/compliance-reports").json();
    assert_eq!(listed[0]["day"], day.as_str());
    assert_eq!(listed[0]["green"], true);
    let r = risk.get(&format!("/api/v1/acquirer/compliance-reports/{day}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["conservation_holds"], true);
    assert!(r.json()["audit_entries"].as_i64().unwrap_or(0) > 0);
    let csv = risk.get(&format!("/api/v1/acquirer/compliance-reports/{day}/csv"));
    assert!(csv.header("content-type").unwrap_or_default().starts_with("text/csv"));
    assert!(csv.text().contains("money,conservation_holds,true"), "{}", csv.text());
    assert_eq!(risk.get("/api/v1/acquirer/compliance-reports/2001-01-01").status, 404);
    assert_eq!(risk.get("/api/v1/acquirer/compliance-reports/yesterday").status, 400);
    // Well-formed but no calendar day (Schemathesis sent these): no report, not a bad request.
    assert_eq!(risk.get("/api/v1/acquirer/compliance-reports/0000-00-00").status, 404);
    assert_eq!(risk.get("/api/v1/acquirer/compliance-reports/2026-02-30/csv").status, 404);
    assert_eq!(sup.get(&format!("/api/v1/acquirer/compliance-reports/{day}")).status, 404);
}

/// A multipart upload of a KYC document (`kind`, `file`) by `s` for merchant `m`.
fn upload_kyc(s: &Session<'_>, m: &str, kind: &str, file: (&str, &str, &[u8])) -> Resp {
    let (ctype, body) = multipart(&[("kind", kind)], Some(file));
    s.app.req(
        "POST",
        &format!("/api/v1/acquirer/merchants/{m}/documents"),
        &[
            ("Cookie", &s.cookie),
            ("X-CSRF-Token", &s.csrf),
            ("Content-Type", &ctype),
        ],
        Some(&body),
    )
}

/// Goal (issue 14, 商户进件): KYC documents are evidence files of the merchant being
/// onboarded — uploaded while its creation waits for the checker (who reads them), checked
/// by type and size, stored under their SHA-256, audited on upload and on each download,
/// and out of reach of every merchant user (404) and of acquirer roles that do not manage
/// merchants (403 to upload).
#[test]
fn kyc_documents_are_evidence_files_the_checker_reads_and_merchants_never_see() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let platform = acquirer(&app, "platform", StaffRole::PlatformAdmin);
    let ops = acquirer(&app, "ops-kyc", StaffRole::Operations);
    let auditor = acquirer(&app, "acq-auditor-kyc", StaffRole::AcquirerAuditor);
    // Nothing to attach to before the merchant or its creation exists.
    let pdf = b"%PDF-1.7\n% licence scan\n".to_vec();
    let r = upload_kyc(&platform, NEW, "business_licence", ("licence.pdf", "application/pdf", &pdf));
    assert_eq!((r.status, r.code()), (404, "merchant.not_found".into()), "{}", r.text());
    let change = onboard(&platform);
    let r = upload_kyc(&platform, NEW, "business_licence", ("licence.pdf", "application/pdf", &pdf));
    assert_eq!(r.status, 201, "{}", r.text());
    let doc = r.json();
    assert_eq!(doc["kind"], "business_licence");
    assert_eq!(doc["kind_text"], "营业执照");
    assert_eq!(doc["size_bytes"], pdf.len());
    let sha = doc["sha256"].as_str().expect("sha").to_owned();
    assert!(app.data_dir().join("evidence").join(&sha).exists(), "stored under its SHA-256");
    // Refused: a type that is not a scan or photo, a lie about the type, an unknown kind,
    // a file over 10 MiB, and an acquirer role that does not manage merchants.
    let video = b"\0\0\0\x18ftypmp42....".to_vec();
    let r = upload_kyc(&platform, NEW, "other", ("v.mp4", "video/mp4", &video));
    assert_eq!((r.status, r.code()), (415, "kyc.type_unsupported".into()), "{}", r.text());
    let r = upload_kyc(&platform, NEW, "other", ("x.png", "image/png", &pdf));
    assert_eq!(r.status, 415, "{}", r.text());
    let r = upload_kyc(&platform, NEW, "passport", ("l.pdf", "application/pdf", &pdf));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("资料类型"), "{}", r.text());
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(10 * 1024 * 1024 + 1, b'0');
    let r = upload_kyc(&platform, NEW, "other", ("big.pdf", "application/pdf", &big));
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("10 MiB"), "the limit in units: {}", r.text());
    let r = upload_kyc(&auditor, NEW, "other", ("l.pdf", "application/pdf", &pdf));
    assert_eq!(r.status, 403, "{}", r.text());
    // The checker lists and reads them before approving; the download is audited.
    let list = ops.get(&format!("/api/v1/acquirer/merchants/{NEW}/documents"));
    assert_eq!(list.status, 200, "{}", list.text());
    let list = list.json();
    assert_eq!(list.as_array().map(|a| a.len()), Some(1), "{list}");
    let url = list[0]["url"].as_str().expect("url").to_owned();
    let file = ops.get(&url);
    assert_eq!(file.status, 200, "{}", file.text());
    assert_eq!(file.body, pdf);
    assert_eq!(file.header("content-type"), Some("application/pdf"));
    assert!(file.header("content-disposition").is_some_and(|d| d.starts_with("attachment")));
    let r = ops.post(&format!("/api/v1/acquirer/merchant-changes/{change}/approve"), "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    let page = ops.get(&format!("/acquirer/merchants/{NEW}")).text();
    assert!(page.contains("营业执照 · licence.pdf") && page.contains(&url), "{page}");
    let trail = platform.get("/api/v1/audit?limit=500").text();
    assert!(trail.contains("merchant.document.upload"), "{trail}");
    assert!(trail.contains("merchant.document.download"), "{trail}");
    assert!(trail.contains(&format!("sha256:{sha}")), "{trail}");
    // A document of another merchant, or none, is 404 alike.
    let other = ops.get(&format!("/api/v1/acquirer/merchants/898310048990001/documents/{}", doc["id"]));
    assert_eq!(other.status, 404, "{}", other.text());
    // Merchant users: the routes do not exist for them (404, nothing read or stored).
    for user in ["admin", "auditor"] {
        let s = app.login(user);
        assert_eq!(s.get(&format!("/api/v1/acquirer/merchants/{NEW}/documents")).status, 404, "{user}");
        assert_eq!(s.get(&url).status, 404, "{user}");
        let r = upload_kyc(&s, NEW, "other", ("l.pdf", "application/pdf", &pdf));
        assert_eq!(r.status, 404, "{user}: {}", r.text());
    }
    let count = ops.get(&format!("/api/v1/acquirer/merchants/{NEW}/documents")).json();
    assert_eq!(count.as_array().map(|a| a.len()), Some(1), "only the licence: {count}");
}

/// Goal (issue 14): the acquirer's terminal list shows each terminal's last sign-in as the
/// host recorded it — when, the operator, and the 0800 header's software version and status
/// digit — and says so when a terminal never signed in.
#[test]
fn the_terminal_list_shows_the_last_sign_in() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let platform = acquirer(&app, "platform", StaffRole::PlatformAdmin);
    let list = platform.get("/api/v1/acquirer/terminals").json();
    let first = list[0]["id"].as_str().expect("a demo terminal").to_owned();
    assert!(list[0]["last_sign_in"].is_null(), "{list}");
    let page = platform.get("/acquirer/terminals").text();
    assert!(page.contains("从未签到"), "{page}");
    let tid = suanpan_core::TerminalId::parse(&first).expect("id");
    let seen = suanpan_store::fleet::SignIn {
        at: app.store.now().as_microsecond(),
        operator: suanpan_core::OperatorNo::parse("01").expect("no."),
        software_version: 31,
        terminal_status: 1,
    };
    suanpan_store::fleet::record_sign_in(&*app.store, &tid, &seen).expect("record");
    let t = platform.get(&format!("/api/v1/acquirer/terminals/{first}")).json();
    let s = &t["last_sign_in"];
    assert_eq!((s["operator"].as_str(), s["software_version"].as_str()), (Some("01"), Some("31")), "{t}");
    assert_eq!(s["terminal_status_text"], "培训模式");
    let page = platform.get("/acquirer/terminals").text();
    assert!(page.contains("软件版本 31"), "{page}");
}

/// Goal (issue 14, channels): the acquirer decides which channels each merchant may use and
/// switches a channel off for the whole platform (an outage); a transaction needs the
/// platform's switch, the acquirer's allowance and the merchant's own choice. Withdrawing a
/// channel from one merchant leaves the merchant's own choice as it was, needs a reason,
/// and is in the merchant's audit view. Roles without the permission get 403; merchant users
/// 404.
#[test]
fn the_acquirer_allows_channels_per_merchant_and_switches_them_off_for_everyone() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let ops = acquirer(&app, "ops-ch", StaffRole::Operations);
    let risk = acquirer(&app, "risk-ch", StaffRole::RiskOfficer);
    let a = "898310048990001";
    let wechat = r#"{"kind":"sale","amount":500,"wallet":{"id":"wechat-demo-001"}}"#;
    let alipay = r#"{"kind":"sale","amount":700,"wallet":{"id":"alipay-demo-001"}}"#;
    let cashier = app.login("cashier");
    assert_eq!(cashier.post("/api/v1/payments", wechat).status, 201);

    // One merchant: withdrawn with a reason, by a role that manages channels only.
    let path = format!("/api/v1/acquirer/merchants/{a}/channels/wechat/withdraw");
    assert_eq!(ops.post(&path, r#"{"reason":" "}"#).status, 422);
    assert_eq!(risk.post(&path, r#"{"reason":"x"}"#).status, 403);
    let r = ops.post(&path, r#"{"reason":"未签微信支付协议"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!((r.json()["allowed"].as_bool(), r.json()["enabled"].as_bool()), (Some(false), Some(true)));
    let r = cashier.post("/api/v1/payments", wechat);
    assert_eq!((r.status, r.code()), (422, "backoffice.channel_disabled".into()), "{}", r.text());
    let admin = app.login("admin");
    let mine = admin.get("/api/v1/channels").json();
    let w = mine.as_array().expect("list").iter().find(|c| c["id"] == "wechat").expect("wechat").clone();
    assert_eq!((w["allowed"].as_bool(), w["allowed_reason"].as_str()), (Some(false), Some("未签微信支付协议")), "{w}");
    let page = admin.get("/channels").text();
    assert!(page.contains("收单机构未为本商户开通"), "{page}");
    let trail = admin.get("/api/v1/audit?limit=500").text();
    assert!(trail.contains("channel.merchant_withdraw"), "A's admin reads the acquirer's decision: {trail}");
    let r = ops.post(&format!("/api/v1/acquirer/merchants/{a}/channels/wechat/allow"), r#"{"reason":"协议已签"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(cashier.post("/api/v1/payments", wechat).status, 201, "allowed again");
    assert_eq!(ops.get(&format!("/api/v1/acquirer/merchants/{a}/channels")).status, 200);
    assert_eq!(ops.get("/api/v1/acquirer/merchants/898310048990999/channels").status, 404);
    assert_eq!(ops.post("/api/v1/acquirer/merchants/898310048990999/channels/wechat/withdraw", r#"{"reason":"x"}"#).status, 404);

    // The whole platform: an outage switch.
    let r = ops.post("/api/v1/acquirer/channels/alipay/disable", r#"{"reason":"支付宝上游故障"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["enabled"], false);
    let r = cashier.post("/api/v1/payments", alipay);
    assert_eq!((r.status, r.code()), (422, "backoffice.channel_disabled".into()), "{}", r.text());
    assert!(admin.get("/channels").text().contains("收单机构已暂停该渠道"));
    let list = ops.get("/api/v1/acquirer/channels").json();
    assert_eq!(list.as_array().map(|l| l.len()), Some(4), "{list}");
    let r = ops.post("/api/v1/acquirer/channels/alipay/enable", r#"{"reason":"已恢复"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(cashier.post("/api/v1/payments", alipay).status, 201);
    assert_eq!(ops.post("/api/v1/acquirer/channels/alipay/pause", r#"{"reason":"x"}"#).status, 400);

    // Merchant users: the routes do not exist for them.
    for path in ["/api/v1/acquirer/channels", &format!("/api/v1/acquirer/merchants/{a}/channels")] {
        assert_eq!(admin.get(path).status, 404, "{path}");
    }
    assert_eq!(admin.post("/api/v1/acquirer/channels/alipay/disable", r#"{"reason":"x"}"#).status, 404);
}

/// SQL's count of the transactions `merchant` has (every merchant's with `None`), hidden
/// ones counted only with `hidden`.
fn txn_count(app: &TestApp, merchant: Option<&str>, hidden: bool) -> i64 {
    use suanpan_store::sql::SqlExt;
    let sql = format!(
        "SELECT COUNT(*) FROM txns WHERE (CAST(?1 AS TEXT) IS NULL OR merchant_id = ?1){}",
        if hidden { "" } else { " AND hidden = 0" }
    );
    suanpan_store::read(&*app.store, |c| c.one(&sql, suanpan_store::p![merchant], |r| r.i64(0)))
        .expect("count")
}

/// Goal (issue 14: the acquirer "sees every merchant's activity and cases"): the acquirer's
/// roles list every merchant's transactions and cases, or one merchant's, with the merchant
/// listing's filters, keyset paging (each row once) and true counts equal to SQL's; they
/// read any merchant's transaction (hidden ones too) and case on the API and the console's
/// pages; nothing there changes anything (no write method); a malformed merchant filter is
/// 400; merchant users get 404 on all of it, and their own listing refuses `merchant`.
#[test]
fn the_acquirer_reads_every_merchants_transactions_and_cases() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let b_sales = suanpan_store::admin::seed_demo_merchant_b(
        &*app.store,
        &suanpan_store::Fingerprinter::new(PAN_KEY),
        &suanpan_store::auth::hash_password,
    )
    .expect("merchant B");
    let (a, b) = (
        suanpan_store::admin::DEMO_MERCHANT,
        suanpan_store::admin::DEMO_B_MERCHANT,
    );
    // A's case and a hidden record of A's.
    let sup = app.login("supervisor");
    let r = sup.post(
        "/api/v1/cases",
        r#"{"transaction_id":2,"kind":"adjustment","note":"对账差异"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["case"]["id"].as_i64().expect("case");
    let admin = app.login_enrolled("admin");
    let r = admin.post("/api/v1/transactions/3/hide", r#"{"reason":"录入错误"}"#);
    assert_eq!(r.status, 204, "{}", r.text());
    let auditor = acquirer(&app, "acq-aud-txns", StaffRole::AcquirerAuditor);
    let ops = acquirer(&app, "ops-txns", StaffRole::Operations);
    let before = app.state();
    for s in [&auditor, &ops] {
        // Every merchant's, counted as SQL counts them.
        let all = s.get("/api/v1/acquirer/transactions?limit=500");
        assert_eq!(all.status, 200, "{}", all.text());
        let all = all.json();
        assert_eq!(all["total"].as_i64(), Some(txn_count(&app, None, false)), "{all}");
        let merchants: std::collections::BTreeSet<_> = all["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["merchant_id"].as_str().expect("merchant").to_owned())
            .collect();
        assert!(merchants.contains(a) && merchants.contains(b), "{merchants:?}");
        let with_hidden = s.get("/api/v1/acquirer/transactions?include_hidden=true").json();
        assert_eq!(with_hidden["total"].as_i64(), Some(txn_count(&app, None, true)));
        // One merchant's, two rows a page: each of B's rows once, newest first.
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let p = s.get(&format!("/api/v1/acquirer/transactions?merchant={b}&limit=2{cursor}"));
            assert_eq!(p.status, 200, "{}", p.text());
            let p = p.json();
            assert_eq!(p["total"].as_i64(), Some(txn_count(&app, Some(b), false)));
            for t in p["items"].as_array().expect("items") {
                assert_eq!(t["merchant_id"], b, "{t}");
                seen.push(t["id"].as_i64().expect("id"));
            }
            match p["next_cursor"].as_i64() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        let mut expected: Vec<i64> = b_sales.iter().map(|t| t.0).collect();
        expected.sort_unstable_by(|x, y| y.cmp(x));
        assert_eq!(seen, expected, "B's rows, once each, newest first");
        // The merchant listing's filters apply.
        let sales = s.get(&format!("/api/v1/acquirer/transactions?merchant={a}&kind=sale&min=100.00")).json();
        assert!(sales["items"].as_array().expect("items").iter().all(|t| t["kind"] == "sale" && t["amount"]["fen"].as_i64() >= Some(10_000)), "{sales}");
        // Any merchant's transaction, a hidden one too, and any merchant's case.
        let t = s.get("/api/v1/acquirer/transactions/3");
        assert_eq!(t.status, 200, "{}", t.text());
        assert_eq!((t.json()["transaction"]["merchant_id"].as_str(), t.json()["transaction"]["hidden"].as_bool()), (Some(a), Some(true)));
        let t = s.get(&format!("/api/v1/acquirer/transactions/{}", b_sales[0].0));
        assert_eq!(t.json()["transaction"]["merchant_id"], b);
        assert_eq!(s.get("/api/v1/acquirer/transactions/987654").status, 404);
        let c = s.get(&format!("/api/v1/acquirer/cases/{case}"));
        assert_eq!(c.status, 200, "{}", c.text());
        assert_eq!(c.json()["case"]["merchant_id"], a);
        let cases = s.get("/api/v1/acquirer/cases").json();
        assert_eq!(cases["total"], 1, "{cases}");
        assert_eq!(cases["items"][0]["id"], case);
        assert_eq!(s.get(&format!("/api/v1/acquirer/cases?merchant={b}")).json()["total"], 0);
        assert_eq!(s.get("/api/v1/acquirer/cases/987654").status, 404);
        // Bad input.
        for bad in ["merchant=12345", "merchant=89831004899000%21", "limit=0", "cursor=0", "kind=gift"] {
            let r = s.get(&format!("/api/v1/acquirer/transactions?{bad}"));
            assert_eq!(r.status, 400, "{bad}: {}", r.text());
        }
        assert_eq!(s.get("/api/v1/acquirer/cases?merchant=1").status, 400);
        assert_eq!(s.get("/api/v1/acquirer/cases?status=lost").status, 400);
        // The console's pages.
        let page = s.get(&format!("/acquirer/transactions?merchant={b}"));
        assert_eq!(page.status, 200, "{}", page.text());
        let text = page.text();
        assert!(text.contains("/acquirer/transactions/") && text.contains(b) && !text.contains(&format!("<td>{a}</td>")), "{text}");
        let page = s.get("/acquirer/transactions/3").text();
        assert!(page.contains(a) && page.contains("badge hidden"), "{page}");
        assert!(!page.contains("id=\"hide-form\"") && !page.contains("id=\"void-form\""), "read-only: {page}");
        let page = s.get("/acquirer/cases").text();
        assert!(page.contains(&format!("/acquirer/cases/{case}")) && page.contains(a), "{page}");
        let page = s.get(&format!("/acquirer/cases/{case}")).text();
        assert!(page.contains("对账差异") && !page.contains("case-note-form"), "{page}");
        // Read-only: no method changes anything here.
        for path in ["/api/v1/acquirer/transactions/1", "/api/v1/acquirer/cases/1"] {
            assert_eq!(s.post(path, "{}").status, 405, "{path}");
        }
    }
    assert_eq!(app.state(), before, "the acquirer's reads changed nothing");
    // Merchant users: the routes and pages do not exist (404), and their own listing has no
    // `merchant` parameter.
    for (user, s) in [("admin", &admin), ("auditor", &app.login("auditor"))] {
        for path in ["/api/v1/acquirer/transactions", "/api/v1/acquirer/transactions/1", "/api/v1/acquirer/cases", &format!("/api/v1/acquirer/cases/{case}"), "/acquirer/transactions", "/acquirer/transactions/1", "/acquirer/cases", &format!("/acquirer/cases/{case}")] {
            assert_eq!(s.get(path).status, 404, "{user} {path}");
        }
        let r = s.get(&format!("/api/v1/transactions?merchant={b}"));
        assert_eq!(r.status, 400, "{user}: {}", r.text());
    }
}

/// XOR of two keys given as 32 hex digits.
fn xor_hex(a: &str, b: &str) -> String {
    let (a, b) = (hex::decode(a).expect("hex"), hex::decode(b).expect("hex"));
    hex::encode_upper(a.iter().zip(&b).map(|(x, y)| x ^ y).collect::<Vec<u8>>())
}

fn kcv(key_hex: &str) -> String {
    let key: [u8; 16] = hex::decode(key_hex).expect("hex").try_into().expect("16 bytes");
    suanpan_service::terminal_keys::check_value_of(&key)
}

/// Goal (issue 14, 密钥灌注 in the console): a terminal master key is loaded under dual
/// control — two different acquirer users who manage terminals each enter one component
/// with its check value; the XOR of the two is the key the host then holds. A mistyped
/// component (its check value does not match), a malformed one, the same custodian twice
/// and a role without terminals are refused and change nothing; no answer, page or audit
/// entry ever holds a component or the key, only check values and both names; a first
/// component waits 60 minutes at most; merchant users get 404.
#[test]
fn a_master_key_is_loaded_by_two_custodians_and_never_shown() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let term = suanpan_store::admin::DEMO_TERMINAL;
    let key = "1C2A3B4C5D6E7F8091A2B3C4D5E6F708";
    let key = {
        // The same key with odd parity in every byte, as a TMK must have.
        let fixed: Vec<u8> = hex::decode(key)
            .expect("hex")
            .into_iter()
            .map(|b| if (b & 0xFE).count_ones().is_multiple_of(2) { (b & 0xFE) | 1 } else { b & 0xFE })
            .collect();
        hex::encode_upper(fixed)
    };
    let c1 = "A1B2C3D4E5F60718293A4B5C6D7E8F91";
    let c2 = xor_hex(&key, c1);
    let secrets = [c1.to_owned(), c2.clone(), key.clone(), c1.to_lowercase(), c2.to_lowercase(), key.to_lowercase()];
    let never_shown = |what: &str, text: &str| {
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{what} shows key material: {text}");
        }
    };
    let ops1 = acquirer(&app, "custodian-a", StaffRole::Operations);
    let ops2 = acquirer(&app, "custodian-b", StaffRole::Operations);
    let risk = acquirer(&app, "risk-keys", StaffRole::RiskOfficer);
    let tid = suanpan_core::TerminalId::parse(term).expect("id");
    let before = suanpan_store::Store::terminal_tmk(&*app.store, &tid).expect("read").map(|k| k.to_string());
    let path = format!("/api/v1/acquirer/terminals/{term}/tmk-components");
    let body = |c: &str, v: &str| format!(r#"{{"component":"{c}","check_value":"{v}"}}"#);
    // Refused, nothing kept: a mistyped component, a malformed one, a role without terminals.
    let r = ops1.post(&path, &body(c1, "000000"));
    assert_eq!((r.status, r.code()), (422, "tmk.check_value".into()), "{}", r.text());
    never_shown("a refusal", &r.text());
    let r = ops1.post(&path, &body("0123", "000000"));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(risk.post(&path, &body(c1, &kcv(c1))).status, 403);
    assert!(ops1.get(&path).json()["pending"].is_null());
    // The first custodian: kept, its check value answered.
    let r = ops1.post(&path, &body(c1, &kcv(c1).to_lowercase()));
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!((r.json()["status"].as_str(), r.json()["check_value"].as_str()), (Some("waiting"), Some(kcv(c1).as_str())));
    never_shown("the first entry", &r.text());
    let st = ops2.get(&path).json();
    assert_eq!((st["pending"]["entered_by"].as_str(), st["pending"]["check_value"].as_str()), (Some("custodian-a"), Some(kcv(c1).as_str())), "{st}");
    assert_eq!(st["merchant_id"], suanpan_store::admin::DEMO_MERCHANT);
    // The same custodian cannot enter the second.
    let r = ops1.post(&path, &body(&c2, &kcv(&c2)));
    assert_eq!((r.status, r.code()), (422, "backoffice.own_request".into()), "{}", r.text());
    assert_eq!(suanpan_store::Store::terminal_tmk(&*app.store, &tid).expect("read").map(|k| k.to_string()), before);
    // The second custodian, on the page: the key is loaded, its check value shown.
    let page = ops2.get(&format!("/acquirer/terminals/{term}/keys"));
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("custodian-a") && page.text().contains("id=\"tmk-form\""), "{}", page.text());
    never_shown("the keys page", &page.text());
    let r = app.req(
        "POST",
        &format!("/acquirer/terminals/{term}/keys"),
        &[("Cookie", &ops2.cookie), ("Content-Type", "application/x-www-form-urlencoded")],
        Some(format!("csrf={}&component={c2}&check_value={}", ops2.csrf, kcv(&c2)).as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(&kcv(&key)) && r.text().contains("custodian-a"), "{}", r.text());
    never_shown("the page's answer", &r.text());
    let loaded = suanpan_store::Store::terminal_tmk(&*app.store, &tid).expect("read").expect("a TMK");
    assert_eq!(loaded.as_str(), key, "the XOR of the two components");
    assert!(ops1.get(&path).json()["pending"].is_null(), "the component is gone");
    let trail = app.login("platform").get("/api/v1/audit?limit=500").text();
    assert!(trail.contains("terminal.tmk_component") && trail.contains("terminal.set_tmk"), "{trail}");
    assert!(trail.contains("custodian-a") && trail.contains("custodian-b") && trail.contains(&kcv(&key)), "{trail}");
    never_shown("the audit trail", &trail);
    // A first component waits 60 minutes at most.
    assert_eq!(ops1.post(&path, &body(c1, &kcv(c1))).status, 202);
    app.advance(61 * 60);
    let ops3 = acquirer(&app, "custodian-c", StaffRole::Operations);
    assert!(ops3.get(&path).json()["pending"].is_null(), "expired");
    // Merchant users: the routes and the page do not exist for them.
    let admin = app.login("admin");
    assert_eq!(admin.get(&path).status, 404);
    assert_eq!(admin.post(&path, &body(c1, &kcv(c1))).status, 404);
    assert_eq!(admin.get(&format!("/acquirer/terminals/{term}/keys")).status, 404);
    assert_eq!(app.get(&path).status, 401);
}

/// Goal (issue 14): the console's pages for what was API-only — the platform's channel
/// switch, a merchant's channels, KYC documents uploaded on the merchant's page (the API's
/// checks) and removed while the onboarding waits (audited), kept once the merchant is
/// activated (409) — each a form with its CSRF token; merchant users get 404.
#[test]
fn channels_and_kyc_documents_through_the_console_pages() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let platform = acquirer(&app, "platform", StaffRole::PlatformAdmin);
    let ops = acquirer(&app, "ops-pages", StaffRole::Operations);
    let form = |s: &Session<'_>, path: &str, body: &str| {
        app.req(
            "POST",
            path,
            &[("Cookie", &s.cookie), ("Content-Type", "application/x-www-form-urlencoded")],
            Some(format!("csrf={}&{body}", s.csrf).as_bytes()),
        )
    };
    // The platform's switch.
    let page = ops.get("/acquirer/channels");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("/acquirer/channels/alipay/disable"), "{}", page.text());
    let r = form(&ops, "/acquirer/channels/alipay/disable", "reason=%E4%B8%8A%E6%B8%B8%E6%95%85%E9%9A%9C");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("已在全平台暂停"), "{}", r.text());
    assert_eq!(ops.get("/api/v1/acquirer/channels").json().as_array().expect("list").iter().find(|c| c["id"] == "alipay").expect("alipay")["enabled"], false);
    let r = form(&ops, "/acquirer/channels/alipay/enable", "reason=");
    assert_eq!(r.status, 422, "a reason is required: {}", r.text());
    let r = app.req("POST", "/acquirer/channels/alipay/enable", &[("Cookie", &ops.cookie), ("Content-Type", "application/x-www-form-urlencoded")], Some(b"csrf=wrong&reason=x"));
    assert_eq!(r.status, 403, "the CSRF token: {}", r.text());
    assert_eq!(form(&ops, "/acquirer/channels/alipay/enable", "reason=ok").status, 200);
    // One merchant's channels, on its page.
    let a = suanpan_store::admin::DEMO_MERCHANT;
    let page = ops.get(&format!("/acquirer/merchants/{a}")).text();
    assert!(page.contains(&format!("/acquirer/merchants/{a}/channels/wechat/withdraw")), "{page}");
    let r = form(&ops, &format!("/acquirer/merchants/{a}/channels/wechat/withdraw"), "reason=%E6%9C%AA%E7%AD%BE%E7%BA%A6");
    assert_eq!(r.status, 200, "{}", r.text());
    let admin = app.login("admin");
    let mine = admin.get("/api/v1/channels").json();
    assert_eq!(mine.as_array().expect("list").iter().find(|c| c["id"] == "wechat").expect("wechat")["allowed"], false);
    // KYC documents on the page of a merchant onboarded but not yet activated.
    onboard(&platform);
    let id = onboarding_change_id(&app);
    assert_eq!(ops.post(&format!("/api/v1/acquirer/merchant-changes/{id}/approve"), "{}").status, 200);
    let page = ops.get(&format!("/acquirer/merchants/{NEW}")).text();
    assert!(page.contains("id=\"kyc-form\""), "{page}");
    let pdf = b"%PDF-1.4\n% licence\n".to_vec();
    let upload = |s: &Session<'_>, csrf: &str, kind: &str, file: (&str, &str, &[u8])| {
        let (ctype, body) = multipart(&[("csrf", csrf), ("kind", kind)], Some(file));
        app.req("POST", &format!("/acquirer/merchants/{NEW}/documents"), &[("Cookie", &s.cookie), ("Content-Type", &ctype)], Some(&body))
    };
    let r = upload(&ops, &ops.csrf, "business_licence", ("licence.pdf", "application/pdf", &pdf));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("已上传进件资料"), "{}", r.text());
    // The API's checks: the type by content, the kind, the CSRF token.
    assert_eq!(upload(&ops, &ops.csrf, "other", ("x.png", "image/png", &pdf)).status, 415);
    assert_eq!(upload(&ops, &ops.csrf, "passport", ("l.pdf", "application/pdf", &pdf)).status, 400);
    assert_eq!(upload(&ops, "wrong", "other", ("l.pdf", "application/pdf", &pdf)).status, 403);
    let docs = ops.get(&format!("/api/v1/acquirer/merchants/{NEW}/documents")).json();
    assert_eq!(docs.as_array().map(|d| d.len()), Some(1), "{docs}");
    let doc = docs[0]["id"].as_i64().expect("id");
    let sha = docs[0]["sha256"].as_str().expect("sha").to_owned();
    // Removed while the merchant is pending: a reason, audited, the file gone.
    let page = ops.get(&format!("/acquirer/merchants/{NEW}")).text();
    assert!(page.contains(&format!("/acquirer/merchants/{NEW}/documents/{doc}/remove")), "{page}");
    let r = form(&ops, &format!("/acquirer/merchants/{NEW}/documents/{doc}/remove"), "reason=");
    assert_eq!(r.status, 422, "{}", r.text());
    let r = form(&ops, &format!("/acquirer/merchants/{NEW}/documents/{doc}/remove"), "reason=%E4%BC%A0%E9%94%99");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("已删除进件资料"), "{}", r.text());
    assert!(!app.data_dir().join("evidence").join(&sha).exists(), "the file is gone");
    let trail = platform.get("/api/v1/audit?limit=500").text();
    assert!(trail.contains("merchant.document.remove") && trail.contains(&format!("sha256:{sha}")), "{trail}");
    let r = ops.post(&format!("/api/v1/acquirer/merchants/{NEW}/documents/{doc}/remove"), r#"{"reason":"x"}"#);
    assert_eq!(r.status, 404, "{}", r.text());
    // Once activated, the documents stay.
    let r = upload_kyc(&ops, NEW, "business_licence", ("licence.pdf", "application/pdf", &pdf));
    let doc = r.json()["id"].as_i64().expect("id");
    let r = platform.post(&format!("/api/v1/acquirer/merchants/{NEW}/status"), r#"{"status":"active"}"#);
    assert_eq!(r.status, 202, "{}", r.text());
    let change = r.json()["id"].as_i64().expect("change");
    assert_eq!(ops.post(&format!("/api/v1/acquirer/merchant-changes/{change}/approve"), "{}").status, 200);
    let r = ops.post(&format!("/api/v1/acquirer/merchants/{NEW}/documents/{doc}/remove"), r#"{"reason":"x"}"#);
    assert_eq!((r.status, r.code()), (409, "backoffice.kyc_document_kept".into()), "{}", r.text());
    assert!(!ops.get(&format!("/acquirer/merchants/{NEW}")).text().contains("/remove\""), "no remove button once active");
    let auditor = acquirer(&app, "aud-pages", StaffRole::AcquirerAuditor);
    assert_eq!(auditor.post(&format!("/api/v1/acquirer/merchants/{NEW}/documents/{doc}/remove"), r#"{"reason":"x"}"#).status, 403);
    // Merchant users: none of it exists.
    assert_eq!(admin.get("/acquirer/channels").status, 404);
    assert_eq!(form(&admin, "/acquirer/channels/alipay/disable", "reason=x").status, 404);
    assert_eq!(admin.post(&format!("/api/v1/acquirer/merchants/{NEW}/documents/{doc}/remove"), r#"{"reason":"x"}"#).status, 404);
}

/// Goal (issue 14: "see every merchant's activity, audit and cases"): the acquirer's
/// transaction and case pages link a merchant's evidence through the acquirer's own route,
/// which answers the file (a `Range` too) and audits each fetch with the merchant named;
/// the merchant's route stays the merchant's, and a merchant's user never reaches the
/// acquirer's (404). Before, the console linked the merchant's route, which answered 404.
#[test]
fn the_acquirer_opens_a_merchants_evidence_through_its_own_audited_route() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let a = suanpan_store::admin::DEMO_MERCHANT;
    let sup = app.login("supervisor");
    let bytes: &[u8] = b"%PDF-1.4\n%counter slip of A\n";
    let (ctype, body) = multipart(&[], Some(("小票.pdf", "application/pdf", bytes)));
    let r = app.req(
        "POST",
        "/api/v1/transactions/2/evidence",
        &[
            ("Cookie", &sup.cookie),
            ("X-CSRF-Token", &sup.csrf),
            ("Content-Type", &ctype),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let ev = r.json()["id"].as_i64().expect("evidence id");
    let r = sup.post(
        "/api/v1/cases",
        r#"{"transaction_id":2,"kind":"adjustment","note":"小票核对"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["case"]["id"].as_i64().expect("case");
    let r = app.req(
        "POST",
        &format!("/api/v1/cases/{case}/evidence"),
        &[
            ("Cookie", &sup.cookie),
            ("X-CSRF-Token", &sup.csrf),
            ("Content-Type", &ctype),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let case_ev = r.json()["id"].as_i64().expect("case evidence id");
    let auditor = acquirer(&app, "acq-aud-ev", StaffRole::AcquirerAuditor);
    let c = auditor.get(&format!("/api/v1/acquirer/cases/{case}"));
    assert_eq!(c.status, 200, "{}", c.text());
    let want = format!("/api/v1/acquirer/evidence/{case_ev}");
    assert_eq!(c.json()["evidence"][0]["url"].as_str(), Some(want.as_str()), "{}", c.text());
    assert_eq!(auditor.get(&want).status, 200, "the case's file opens");
    let url = format!("/api/v1/acquirer/evidence/{ev}");
    // The detail (API and page) links the acquirer's route, not the merchant's.
    let d = auditor.get("/api/v1/acquirer/transactions/2");
    assert_eq!(d.status, 200, "{}", d.text());
    let listed = d.json()["evidence"][0]["url"].as_str().map(str::to_owned);
    assert_eq!(listed.as_deref(), Some(url.as_str()), "{}", d.text());
    let page = auditor.get("/acquirer/transactions/2");
    assert_eq!(page.status, 200);
    assert!(page.text().contains(&url), "the page links the acquirer's route");
    assert!(
        !page.text().contains(&format!("/api/v1/evidence/{ev}")),
        "the page links no route the acquirer cannot open"
    );
    // The file, whole and by range; each fetch audited with the merchant named.
    let before = app.store.audit_entries(10_000, 0).expect("audit").len();
    let r = auditor.get(&url);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, bytes);
    let r = app.req("GET", &url, &[("Cookie", &auditor.cookie), ("Range", "bytes=0-7")], None);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &bytes[..8]);
    let entries = app.store.audit_entries(10_000, 0).expect("audit");
    let fetched: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "evidence.download")
        .collect();
    assert_eq!(fetched.len(), 3, "the case's file and the two fetches: {fetched:?}");
    assert_eq!(entries.len(), before + 2);
    assert!(fetched.iter().all(|e| e.actor == "web:acq-aud-ev"
        && e.target == format!("merchant:{a}")
        && e.reason == "小票.pdf"));
    // No such evidence: 404 in words; a malformed id: 400.
    let r = auditor.get("/api/v1/acquirer/evidence/987654");
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(auditor.get("/api/v1/acquirer/evidence/x").status, 400);
    // A merchant's users never reach it, not even the merchant's own.
    for user in ["admin", "supervisor", "auditor", "cashier"] {
        let s = if user == "admin" {
            app.login_enrolled(user)
        } else {
            app.login(user)
        };
        assert_eq!(s.get(&url).status, 404, "{user}");
    }
    // The merchant's own route still serves its supervisor.
    assert_eq!(sup.get(&format!("/api/v1/evidence/{ev}")).status, 200);
}
