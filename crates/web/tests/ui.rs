//! Black-box tests of the web UI over HTTP: login form with its CSRF cookie, pages, forms
//! with and without the CSRF token, the seed-004 void through the forms, hiding and the
//! auditor's view, the language switch, and the security headers.

mod common;

use common::*;

/// The value of `name="csrf" value="…"` in a page.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("csrf field");
    html[start..].split('"').next().expect("value").to_owned()
}

fn cookie_pair(r: &Resp) -> String {
    r.header("set-cookie")
        .expect("set-cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned()
}

/// A logged-in browser: its session cookie and the page's CSRF token.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
}

impl Browser<'_> {
    fn page(&self, path: &str) -> Resp {
        self.app.req("GET", path, &[("Cookie", &self.cookie)], None)
    }
    fn form(&self, path: &str, body: &str) -> Resp {
        self.app.req(
            "POST",
            path,
            &[
                ("Cookie", &self.cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(body.as_bytes()),
        )
    }
}

fn browser_login<'a>(app: &'a TestApp, user: &str) -> Browser<'a> {
    let page = app.get("/login");
    assert_eq!(page.status, 200);
    let login_cookie = cookie_pair(&page);
    let token = csrf_of(&page.text());
    let body = format!("username={user}&password={user}-demo&csrf={token}");
    let r = app.req(
        "POST",
        "/login",
        &[
            ("Cookie", &login_cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let set = r.header("set-cookie").expect("session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = cookie_pair(&r);
    if user == "admin" {
        // Admins enrol TOTP first: the page shows the secret and a QR code.
        assert_eq!(r.header("location"), Some("/totp/enrol"));
        let page = app
            .req("GET", "/totp/enrol", &[("Cookie", &cookie)], None)
            .text();
        assert!(page.contains("<svg"), "QR code");
        let marker = "id=\"totp-secret\">";
        let at = page.find(marker).map(|i| i + marker.len()).expect("secret");
        let secret = page[at..].split('<').next().expect("secret").to_owned();
        let code = totp_code(&secret, app.store.now());
        let body = format!("csrf={}&code={code}", csrf_of(&page));
        let r = app.req(
            "POST",
            "/totp/enrol",
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(body.as_bytes()),
        );
        assert_eq!(r.header("location"), Some("/dashboard"), "{}", r.text());
    } else {
        assert_eq!(r.header("location"), Some("/dashboard"));
    }
    let dash = app.req("GET", "/dashboard", &[("Cookie", &cookie)], None);
    assert_eq!(dash.status, 200, "{}", dash.text());
    let csrf = csrf_of(&dash.text());
    Browser { app, cookie, csrf }
}

/// Goal: the login form refuses a missing or foreign CSRF token and a wrong password, with
/// the message on the page; pages without a session lead to the login page.
#[test]
fn login_form_checks_csrf_and_password() {
    let app = spawn_app();
    assert_eq!(app.get("/dashboard").header("location"), Some("/login"));
    let page = app.get("/login");
    let cookie = cookie_pair(&page);
    let r = app.req(
        "POST",
        "/login",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(b"username=cashier&password=cashier-demo&csrf=forged"),
    );
    assert_eq!(r.status, 403);
    assert!(r.text().contains("CSRF"));
    let token = csrf_of(&page.text());
    let body = format!("username=cashier&password=wrong&csrf={token}");
    let r = app.req(
        "POST",
        "/login",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 401);
    assert!(r.text().contains("用户名或密码错误"), "zh-CN by default");
}

/// Goal: the dashboard shows today's totals and both server-drawn charts; pages carry the
/// security headers; the language switch turns the page English and refuses to redirect
/// off-site.
#[test]
fn dashboard_charts_headers_and_language_switch() {
    let app = spawn_app();
    let b = browser_login(&app, "supervisor");
    let r = b.page("/dashboard");
    let html = r.text();
    assert_eq!(
        html.matches("<svg").count(),
        1,
        "volume by hour; no voids or refunds yet"
    );
    assert!(html.contains("暂无数据"));
    assert!(html.contains("¥6,208.00"), "three seeded sales: {html}");
    assert!(
        r.header("content-security-policy")
            .unwrap_or("")
            .contains("default-src 'self'")
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    let sw = app.get("/lang/en?back=//evil.example/x");
    assert_eq!(sw.header("location"), Some("/dashboard"));
    assert!(sw.header("set-cookie").unwrap_or("").starts_with("lang=en"));
    let en = app.req(
        "GET",
        "/txns",
        &[("Cookie", &format!("{}; lang=en", b.cookie))],
        None,
    );
    assert!(en.text().contains("Transactions") && en.text().contains("Export CSV"));
}

/// Goal: seed 004 through the forms — a cashier's void request without the CSRF token is
/// refused and changes nothing; with it, it is submitted; the supervisor approves in the
/// review queue; the transaction page then shows 已撤销 and the timeline.
#[test]
fn void_request_through_the_forms() {
    let app = spawn_app();
    let cashier = browser_login(&app, "cashier");
    let page = cashier.page("/txns/1").text();
    assert!(
        page.contains("data-confirm") && page.contains("void-form"),
        "the void form asks first"
    );
    let before = app.state();
    let r = cashier.form(
        "/txns/1/request",
        "kind=void&reason=%E9%A1%BE%E5%AE%A2%E8%A6%81%E6%B1%82&customer_consent=true",
    );
    assert_eq!(r.status, 400, "no csrf field → form rejected");
    let r = cashier.form(
        "/txns/1/request",
        "csrf=bad&kind=void&reason=x&customer_consent=true",
    );
    assert_eq!(r.status, 403);
    assert_eq!(app.state(), before);
    let r = cashier.form(
        "/txns/1/request",
        &format!(
            "csrf={}&kind=void&reason=%E9%A1%BE%E5%AE%A2%E8%A6%81%E6%B1%82&customer_consent=true",
            cashier.csrf
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("待审核"));
    let sup = browser_login(&app, "supervisor");
    let queue = sup.page("/review?status=pending").text();
    assert!(queue.contains("/review/1/approve"), "{queue}");
    let r = sup.form(
        "/review/1/approve",
        &format!("csrf={}&comment=ok", sup.csrf),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let d = sup.page("/txns/1").text();
    assert!(d.contains("已撤销"), "{d}");
    assert!(d.contains("void_request.execute"));
    let own = cashier.page("/review").text();
    assert!(
        !own.contains("/review/1/approve"),
        "no approve button on finished requests"
    );
}

/// Goal: an admin hides a record through the form; it vanishes for the cashier and the
/// auditor still sees it with the hidden toggle, which the cashier does not get.
#[test]
fn hiding_through_the_form_and_the_auditors_view() {
    let app = spawn_app();
    let admin = browser_login(&app, "admin");
    let r = admin.form(
        "/txns/2/hide",
        &format!("csrf={}&reason=%E9%87%8D%E5%A4%8D", admin.csrf),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let cashier = browser_login(&app, "cashier");
    let list = cashier.page("/txns").text();
    assert!(!list.contains("href=\"/txns/2\""));
    assert!(
        !list.contains("include_hidden"),
        "no hidden toggle for a cashier"
    );
    let refused = cashier.page("/txns?include_hidden=true").text();
    assert!(
        refused.contains("无权") && !refused.contains("href=\"/txns/2\""),
        "{refused}"
    );
    let auditor = browser_login(&app, "auditor");
    let all = auditor.page("/txns?include_hidden=true").text();
    assert!(all.contains("href=\"/txns/2\"") && all.contains("hidden-row"));
    let audit = auditor.page("/audit?verify=true").text();
    assert!(audit.contains("id=\"verdict\""), "{audit}");
    assert!(audit.contains("审计链完整"));
    assert_eq!(auditor.page("/batches").status, 200);
    assert_eq!(cashier.page("/audit").status, 403);
}

/// Goal: a bad filter shows its message on the page instead of failing; paging links work.
#[test]
fn transaction_filters_on_the_page() {
    let app = spawn_app();
    let b = browser_login(&app, "finance");
    let r = b.page("/txns?min=abc");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("输入无效"));
    let r = b.page("/txns?limit=1");
    assert!(r.text().contains("id=\"next-page\""));
    assert!(r.text().contains("/api/v1/export?limit=1") || r.text().contains("export-csv"));
}

/// Goal: evidence uploads through the transaction page's form (CSRF in the multipart body)
/// and plays in the page's video element; without the token nothing is stored.
#[test]
fn evidence_upload_through_the_form_and_playback() {
    let app = spawn_app();
    let b = browser_login(&app, "supervisor");
    let mut video = b"\0\0\0\x18ftypmp42".to_vec();
    video.extend(std::iter::repeat_n(7u8, 2048));
    let before = app.state();
    let (ctype, body) = multipart(
        &[("csrf", "forged")],
        Some(("counter.mp4", "video/mp4", &video)),
    );
    let r = app.req(
        "POST",
        "/txns/1/evidence",
        &[("Cookie", &b.cookie), ("Content-Type", &ctype)],
        Some(&body),
    );
    assert_eq!(r.status, 403);
    assert_eq!(app.state(), before);
    let (ctype, body) = multipart(
        &[("csrf", &b.csrf)],
        Some(("counter.mp4", "video/mp4", &video)),
    );
    let r = app.req(
        "POST",
        "/txns/1/evidence",
        &[("Cookie", &b.cookie), ("Content-Type", &ctype)],
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let page = b.page("/txns/1").text();
    assert!(
        page.contains("<video controls") && page.contains("/api/v1/evidence/1"),
        "{page}"
    );
    let clip = app.req(
        "GET",
        "/api/v1/evidence/1",
        &[("Cookie", &b.cookie), ("Range", "bytes=0-11")],
        None,
    );
    assert_eq!(clip.status, 206);
    assert_eq!(clip.header("content-type"), Some("video/mp4"));
}

/// Goal: the 运维 page: an admin makes a backup and verifies it through the forms (each a
/// clear result page); the purge form states its consequence before it is sent, and a purge
/// inside retention is refused on the page with nothing deleted and no backup made; other
/// roles neither see the page in the menu nor open it.
#[test]
fn operations_page_backs_up_verifies_and_refuses_an_early_purge() {
    let app = spawn_app();
    let admin = browser_login(&app, "admin");
    let page = admin.page("/ops").text();
    assert!(
        page.contains("href=\"/ops\"") && page.contains("立即备份"),
        "{page}"
    );
    assert!(page.contains("还没有备份"), "{page}");
    assert!(
        page.contains("data-confirm=\"确认永久删除？") && page.contains("无法撤销"),
        "the purge form states its consequence: {page}"
    );
    let r = admin.form("/ops/backups", &format!("csrf={}", admin.csrf));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("备份已创建"), "{}", r.text());
    let page = admin.page("/ops").text();
    let marker = "<code>";
    let at = page
        .find(marker)
        .map(|i| i + marker.len())
        .expect("a backup row");
    let name = page[at..].split('<').next().expect("name").to_owned();
    assert!(page.contains("未校验"), "{page}");
    let r = admin.form(
        &format!("/ops/backups/{name}/verify"),
        &format!("csrf={}", admin.csrf),
    );
    assert!(r.text().contains("校验通过"), "{}", r.text());
    assert!(admin.page("/ops").text().contains("通过"));
    let r = admin.form(&format!("/ops/backups/{name}/verify"), "csrf=wrong");
    assert_eq!(r.status, 403, "a form without its token is refused");

    let before = app.state();
    let r = admin.form(
        "/ops/purge",
        &format!(
            "csrf={}&before=2025-06-01&reason=%E6%B8%85%E7%90%86&password=admin-demo",
            admin.csrf
        ),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("保存期限"), "{}", r.text());
    assert_eq!(app.state(), before);
    assert_eq!(
        app.backup_files(),
        5,
        "still the one backup (file, manifest, key, evidence folder, verification)"
    );

    let cashier = browser_login(&app, "cashier");
    assert!(!cashier.page("/dashboard").text().contains("href=\"/ops\""));
    assert_eq!(cashier.page("/ops").status, 403);
    let r = cashier.form("/ops/backups", &format!("csrf={}", cashier.csrf));
    assert_eq!(r.status, 403);
    assert_eq!(app.backup_files(), 5);
}
