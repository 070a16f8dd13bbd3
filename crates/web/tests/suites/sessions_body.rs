// Sessions, API tokens, the second factor, the login audit and the rate limits (issue 14),
// included by api.rs (SQLite) and api_pg.rs (PostgreSQL) with their `BACKEND`.

/// A user's id from the admin's user list.
fn user_id(admin: &Session<'_>, name: &str) -> i64 {
    admin
        .get("/api/v1/users")
        .json()
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == name)
        .and_then(|u| u["id"].as_i64())
        .expect("user")
}

/// A GET with a bearer token.
fn with_token(app: &TestApp, token: &str, path: &str) -> Resp {
    let auth = format!("Bearer {token}");
    app.req("GET", path, &[("Authorization", &auth)], None)
}

/// A new API token of `s`: (id, secret).
fn new_token(s: &Session<'_>, name: &str) -> (i64, String) {
    let r = s.post("/api/v1/tokens", &format!(r#"{{"name":"{name}"}}"#));
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    (
        v["id"].as_i64().expect("id"),
        v["token"].as_str().expect("token").to_owned(),
    )
}

/// A token as `s` lists it.
fn listed_token(s: &Session<'_>, id: i64) -> serde_json::Value {
    let list = s.get("/api/v1/tokens").json();
    list.as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("token {id} in {list}"))
}

/// Enrols TOTP from session `s` (offer, then its current code); returns the secret.
fn enrol_totp(app: &TestApp, s: &Session<'_>) -> String {
    let offer = s.get("/api/v1/totp").json();
    let secret = offer["secret"].as_str().expect("secret").to_owned();
    let code = totp_code(&secret, app.store.now());
    let r = s.post("/api/v1/totp", &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!(r.status, 204, "{}", r.text());
    secret
}

/// Logs `user` (demo password) in with the current code of `secret`, half a minute on so
/// that the code is not the enrolment's.
fn login_with_code(app: &TestApp, user: &str, secret: &str) -> Resp {
    app.advance(30);
    let code = totp_code(secret, app.store.now());
    app.post_json(
        "/api/v1/session",
        &format!(r#"{{"username":"{user}","password":"{user}-demo","totp":"{code}"}}"#),
    )
}

/// The audit entries with `action` on `target`, oldest first.
fn audit_of(app: &TestApp, action: &str, target: &str) -> Vec<suanpan_store::audit::AuditEntry> {
    let mut v: Vec<_> = app
        .store
        .audit_entries(10_000, 0)
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == action && e.target == target)
        .collect();
    v.sort_by_key(|e| e.seq);
    v
}

/// Goal: an API token ends `token_days` after it was made: the answer to its creation and
/// the token list say when; past it the token is refused with a clear "expired" error (not
/// "invalid"), and the list shows it expired.
#[test]
fn api_tokens_expire_after_token_days() {
    let Some(app) = spawn_cfg_on(BACKEND, Policy::default(), |c| c.token_days = 30) else {
        return;
    };
    assert_eq!(suanpan_web::WebConfig::default().token_days, 90);
    let s = app.login("cashier");
    let r = s.post("/api/v1/tokens", r#"{"name":"收银 App"}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    let (id, token) = (r.json()["id"].as_i64().expect("id"), r.json()["token"].as_str().expect("token").to_owned());
    let end = app.store.now().checked_add(jiff::SignedDuration::from_hours(30 * 24)).expect("time");
    assert_eq!(r.json()["expires_at"], end.to_string());
    let listed = listed_token(&s, id);
    assert_eq!((listed["status"].as_str(), listed["expires_at"].as_str()), (Some("active"), Some(end.to_string().as_str())));
    assert!(!s.get("/api/v1/tokens").text().contains(&token), "never the secret");
    assert_eq!(with_token(&app, &token, "/api/v1/transactions").status, 200);

    app.advance(30 * 24 * 3600 - 1);
    assert_eq!(with_token(&app, &token, "/api/v1/transactions").status, 200, "a second before");
    app.advance(1);
    let r = app.req(
        "GET",
        "/api/v1/transactions",
        &[("Authorization", &format!("Bearer {token}")), ("Accept-Language", "zh-CN")],
        None,
    );
    assert_eq!((r.status, r.code().as_str()), (401, "auth.token_expired"), "{}", r.text());
    assert!(r.json()["message"].as_str().unwrap_or("").contains("过期"), "{}", r.text());
    let r = app.req(
        "GET",
        "/api/v1/transactions",
        &[("Authorization", &format!("Bearer {token}")), ("Accept-Language", "en")],
        None,
    );
    assert!(r.json()["message"].as_str().unwrap_or("").contains("expired"), "{}", r.text());
    let s = app.login("cashier");
    assert_eq!(listed_token(&s, id)["status"], "expired");
}

/// Goal: whatever opened before a change of password, role, second factor or a disable is
/// closed by it: the user's sessions end and API tokens are revoked (the token list says
/// why), for each change; a disabled user enabled again does not get old tokens back; a
/// user changing their own password or enrolling TOTP keeps the session that did it and
/// loses the others.
#[test]
fn credentials_end_on_password_role_totp_and_disable_changes() {
    // Eleven logins of one user within seconds: above the default per-minute limit.
    let Some(app) = spawn_cfg_on(BACKEND, Policy::default(), |c| c.login_attempts_per_minute = 100) else {
        return;
    };
    let admin = app.login("admin");
    let cashier = user_id(&admin, "cashier");
    let password = std::cell::RefCell::new("cashier-demo".to_owned());
    let cashier_login = || {
        let r = app.post_json(
            "/api/v1/session",
            &format!(r#"{{"username":"cashier","password":"{}"}}"#, password.borrow()),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let cookie = r.header("set-cookie").expect("cookie").split(';').next().expect("pair").to_owned();
        let csrf = r.json()["csrf_token"].as_str().expect("csrf").to_owned();
        Session { app: &app, cookie, csrf }
    };
    let changes: [(&str, &str, &str, &str); 4] = [
        ("POST", "password", r#"{"password":"new-secret-1"}"#, "staff.password_reset"),
        ("PATCH", "", r#"{"role":"finance"}"#, "staff.edit"),
        ("POST", "totp-reset", "{}", "staff.totp_reset"),
        ("POST", "disable", "{}", "staff.disable"),
    ];
    for (method, action, body, why) in changes {
        let s = cashier_login();
        let (id, token) = new_token(&s, "app");
        assert_eq!(with_token(&app, &token, "/api/v1/session").status, 200);
        let r = if method == "PATCH" {
            admin.req_patch(&format!("/api/v1/users/{cashier}"), body)
        } else {
            admin.post(&format!("/api/v1/users/{cashier}/{action}"), body)
        };
        assert_eq!(r.status, 200, "{why}: {}", r.text());
        if action == "password" {
            *password.borrow_mut() = "new-secret-1".into();
        }
        let session = s.get("/api/v1/session");
        assert_eq!(session.status, 401, "{why}: the session ended");
        let r = with_token(&app, &token, "/api/v1/session");
        assert_eq!((r.status, r.code().as_str()), (401, "auth.bad_token"), "{why}: the token is revoked");
        if action == "disable" {
            let r = admin.post(&format!("/api/v1/users/{cashier}/enable"), "{}");
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(with_token(&app, &token, "/api/v1/session").code(), "auth.bad_token", "enabling again revives no token");
        }
        let listed = listed_token(&cashier_login(), id);
        assert_eq!(listed["status"], "revoked", "{why}: {listed}");
        assert!(listed["revoked_reason"].as_str().is_some_and(|r| !r.is_empty() && !r.contains('.')), "{why}: said in words: {listed}");
    }

    // The user's own password change: the current one re-entered (a wrong one is refused and
    // counts), then this session goes on and the others and the tokens end.
    let other = cashier_login();
    let (id, token) = new_token(&other, "app");
    let s = cashier_login();
    let r = s.post("/api/v1/session/password", r#"{"password":"wrong","new_password":"newer-secret-2"}"#);
    assert_eq!((r.status, r.code().as_str()), (422, "backoffice.password_wrong"), "{}", r.text());
    let r = s.post(
        "/api/v1/session/password",
        &format!(r#"{{"password":"{}","new_password":"short"}}"#, password.borrow()),
    );
    assert_eq!(r.code(), "backoffice.password_too_short", "{}", r.text());
    assert_eq!(with_token(&app, &token, "/api/v1/session").status, 200, "refusals end nothing");
    let r = s.post(
        "/api/v1/session/password",
        &format!(r#"{{"password":"{}","new_password":"newer-secret-2"}}"#, password.borrow()),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    *password.borrow_mut() = "newer-secret-2".into();
    assert_eq!(s.get("/api/v1/session").status, 200, "the changing session goes on");
    assert_eq!(other.get("/api/v1/session").status, 401, "another session ends");
    assert_eq!(with_token(&app, &token, "/api/v1/session").code(), "auth.bad_token");
    assert_eq!(listed_token(&s, id)["status"], "revoked");
    let failures: i64 = suanpan_store::read(&*app.store, |c| {
        use suanpan_store::sql::SqlExt;
        c.one("SELECT failures FROM staff WHERE username = 'cashier'", &[], |r| r.i64(0))
    })
    .expect("failures");
    assert_eq!(failures, 0, "a right password clears the count the wrong one made");

    // The user's own TOTP enrolment: the enrolling session stays, the others and the tokens end.
    let other = cashier_login();
    let (_, token) = new_token(&other, "app");
    let s = cashier_login();
    enrol_totp(&app, &s);
    assert_eq!(s.get("/api/v1/session").status, 200, "the enrolling session goes on");
    assert_eq!(other.get("/api/v1/session").status, 401, "another session ends");
    assert_eq!(with_token(&app, &token, "/api/v1/session").code(), "auth.bad_token");
}

/// Goal: with the production default (`totp_required_for_approvers = true`) everyone who
/// can approve voids and refunds (supervisor, finance) is sent to enrol TOTP first, as
/// admins are; other roles need none but may enrol from their own session, and from then on
/// log in with a code.
#[test]
fn approvers_must_enrol_totp_and_anyone_may() {
    let Some(app) = spawn_cfg_on(BACKEND, Policy::default(), |c| {
        c.totp_required_for_approvers = suanpan_web::WebConfig::default().totp_required_for_approvers;
    }) else {
        return;
    };
    assert!(suanpan_web::WebConfig::default().totp_required_for_approvers);
    for approver in ["supervisor", "finance"] {
        let r = app.post_json(
            "/api/v1/session",
            &format!(r#"{{"username":"{approver}","password":"{approver}-demo"}}"#),
        );
        assert_eq!(r.json()["totp_enrolment_required"], true, "{approver}: {}", r.text());
        let s = app.login_only(approver);
        let r = s.get("/api/v1/requests");
        assert_eq!((r.status, r.code().as_str()), (403, "auth.totp_enrol_required"), "{approver}");
        enrol_totp(&app, &s);
        assert_eq!(s.get("/api/v1/requests").status, 200, "{approver} after enrolment");
    }
    for free in ["cashier", "auditor"] {
        let r = app.post_json(
            "/api/v1/session",
            &format!(r#"{{"username":"{free}","password":"{free}-demo"}}"#),
        );
        assert_eq!(r.json()["totp_enrolment_required"], false, "{free}: {}", r.text());
    }
    // A cashier enrols by choice from their own session.
    let s = app.login_only("cashier");
    assert_eq!(s.get("/api/v1/transactions").status, 200);
    let secret = enrol_totp(&app, &s);
    assert_eq!(s.get("/api/v1/totp").code(), "auth.totp_enrolled", "once");
    let r = app.post_json("/api/v1/session", r#"{"username":"cashier","password":"cashier-demo"}"#);
    assert_eq!((r.status, r.code().as_str()), (401, "auth.totp_required"));
    let r = login_with_code(&app, "cashier", &secret);
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Goal: a session unused for `session_idle_minutes` (default 15) ends — told so, and gone
/// for good — while each use slides it; its last use is written at most once a minute.
#[test]
fn idle_sessions_end_and_each_use_slides_them() {
    let Some(app) = spawn_cfg_on(BACKEND, Policy::default(), |c| {
        c.session_idle_minutes = suanpan_web::WebConfig::default().session_idle_minutes;
    }) else {
        return;
    };
    assert_eq!(suanpan_web::WebConfig::default().session_idle_minutes, 15);
    let s = app.login("cashier");
    let last_seen = || {
        suanpan_store::read(&*app.store, |c| {
            use suanpan_store::sql::SqlExt;
            c.one(
                "SELECT MAX(x.last_seen_at) FROM staff_sessions x JOIN staff s ON s.id = x.staff_id WHERE s.username = 'cashier'",
                &[],
                |r| r.i64(0),
            )
        })
        .expect("last seen")
    };
    let at_login = last_seen();
    app.advance(30);
    assert_eq!(s.get("/api/v1/transactions").status, 200);
    assert_eq!(last_seen(), at_login, "not written within the minute");
    app.advance(10 * 60);
    assert_eq!(s.get("/api/v1/transactions").status, 200);
    assert!(last_seen() > at_login, "written after a minute");
    app.advance(10 * 60);
    assert_eq!(s.get("/api/v1/transactions").status, 200, "20 minutes after login, 10 after the last use");
    app.advance(15 * 60);
    let r = s.get("/api/v1/transactions");
    assert_eq!((r.status, r.code().as_str()), (401, "auth.session_idle"), "{}", r.text());
    assert_eq!(s.get("/api/v1/transactions").code(), "auth.session_expired", "gone for good");
}

/// Goal: every successful login joins the audit chain with who, how (password, password and
/// TOTP, token) and from where; a token's use is a login when it is its first, after a pause
/// or from another address, not at every request.
#[test]
fn successful_logins_are_audited() {
    let Some(app) = spawn_cfg_on(BACKEND, Policy::default(), |c| c.session_idle_minutes = 15) else {
        return;
    };
    let cashier = app.login("cashier");
    let logins = audit_of(&app, "login", "staff:cashier");
    assert_eq!(logins.len(), 1, "{logins:?}");
    assert_eq!(logins[0].outcome, "ok");
    assert_eq!(logins[0].actor, "web:cashier");
    assert_eq!(logins[0].reason, "how=password from=127.0.0.1");

    let _admin = app.login("admin");
    let admin = audit_of(&app, "login", "staff:admin");
    assert_eq!(admin.len(), 1, "{admin:?}");
    assert_eq!(admin[0].reason, "how=password (totp enrolment due) from=127.0.0.1");

    let (_, token) = new_token(&cashier, "app");
    for _ in 0..3 {
        assert_eq!(with_token(&app, &token, "/api/v1/transactions").status, 200);
    }
    let logins = audit_of(&app, "login", "staff:cashier");
    assert_eq!(logins.len(), 2, "one token login for three requests: {logins:?}");
    assert!(logins[1].reason.starts_with("how=token token="), "{}", logins[1].reason);
    assert!(logins[1].reason.ends_with("from=127.0.0.1"), "{}", logins[1].reason);
    app.advance(16 * 60);
    assert_eq!(with_token(&app, &token, "/api/v1/transactions").status, 200);
    assert_eq!(audit_of(&app, "login", "staff:cashier").len(), 3, "after a pause");
    assert_eq!(app.store.verify_audit().expect("audit").first_broken, None);
}

/// Goal: an admin whose TOTP is enrolled logs in with it, and the audit says so.
#[test]
fn a_login_with_totp_is_audited_as_such() {
    let Some(app) = spawn_on(BACKEND) else {
        return;
    };
    let s = app.login_only("admin");
    let secret = enrol_totp(&app, &s);
    let r = login_with_code(&app, "admin", &secret);
    assert_eq!(r.status, 200, "{}", r.text());
    let logins = audit_of(&app, "login", "staff:admin");
    assert_eq!(logins.last().map(|e| e.reason.as_str()), Some("how=password+totp from=127.0.0.1"));
}

/// Goal: a password re-entered for a sensitive action (a channel change, a purge) counts
/// towards the lockout like a login — the fifth wrong one locks the account (423), then even
/// the right one is refused and so is a login — and is rate limited like a login (429).
#[test]
fn reentered_passwords_count_toward_lockout_and_are_rate_limited() {
    // Two users' attempts from one client: the per-minute limit (tested below) kept out of
    // the way of the lockout.
    let Some(app) = spawn_cfg_on(BACKEND, Policy::default(), |c| c.login_attempts_per_minute = 100) else {
        return;
    };
    let admin = app.login("admin");
    let disable = |password: &str| {
        admin.post(
            "/api/v1/channels/wechat/disable",
            &format!(r#"{{"password":"{password}","reason":"维护"}}"#),
        )
    };
    // Purges are the acquirer's (issue 14): its user `platform` is locked out the same way.
    let platform = app.login("platform");
    let purge = |password: &str| {
        platform.post(
            "/api/v1/purge",
            &format!(
                r#"{{"password":"{password}","reason":"到期","before":"2019-01-01","merchant":"898310048990001"}}"#
            ),
        )
    };
    let before = app.state();
    for _ in 0..4 {
        let r = disable("wrong");
        assert_eq!(r.status, 422, "{}", r.text());
        let r = purge("wrong");
        assert_eq!(r.status, 422, "{}", r.text());
    }
    let r = disable("wrong");
    assert_eq!((r.status, r.code().as_str()), (423, "auth.locked"), "{}", r.text());
    let r = purge("wrong");
    assert_eq!((r.status, r.code().as_str()), (423, "auth.locked"), "{}", r.text());
    assert_eq!(disable("admin-demo").status, 423, "locked even with the right password");
    assert_eq!(purge("platform-demo").status, 423);
    for user in ["admin", "platform"] {
        let login = app.post_json(
            "/api/v1/session",
            &format!(r#"{{"username":"{user}","password":"{user}-demo"}}"#),
        );
        assert_eq!(login.status, 423, "{user}'s login is locked too");
    }
    assert_eq!(app.state(), before, "nothing changed");

    let Some(app) = spawn_cfg_on(BACKEND, Policy::default(), |c| c.login_attempts_per_minute = 3) else {
        return;
    };
    let admin = app.login("admin");
    let disable = |password: &str| {
        admin.post(
            "/api/v1/channels/wechat/disable",
            &format!(r#"{{"password":"{password}","reason":"维护"}}"#),
        )
    };
    let before = app.state();
    assert_eq!(disable("wrong").status, 422);
    assert_eq!(disable("wrong").status, 422);
    let r = disable("admin-demo");
    assert_eq!((r.status, r.code().as_str()), (429, "auth.rate_limited"), "the fourth attempt this minute (the login was the first)");
    assert_eq!(app.state(), before, "refused before the password was even checked");
}

/// Goal: with `trusted_proxies` set, login attempts are limited per client address as the
/// proxy saw it (the right-most `X-Forwarded-For` address that is not a trusted proxy), the
/// login audit names that address, and a client cannot escape its limit by writing
/// addresses to the left; without `trusted_proxies` the header is ignored, so changing it
/// helps nothing.
#[test]
fn rate_limits_key_on_a_trusted_forwarded_for() {
    let Some(app) = spawn_cfg_on(BACKEND, Policy::default(), |c| {
        c.login_attempts_per_minute = 3;
        c.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/8".into()];
    }) else {
        return;
    };
    let attempt = |app: &TestApp, user: &str, password: &str, xff: &str| {
        app.req(
            "POST",
            "/api/v1/session",
            &[("Content-Type", "application/json"), ("X-Forwarded-For", xff)],
            Some(format!(r#"{{"username":"{user}","password":"{password}"}}"#).as_bytes()),
        )
    };
    for i in 0..3 {
        assert_eq!(attempt(&app, &format!("u{i}"), "x", "203.0.113.5").status, 401);
    }
    assert_eq!(attempt(&app, "u9", "x", "203.0.113.5").status, 429);
    let spoofed = attempt(&app, "u8", "x", "198.51.100.1, 203.0.113.5, 10.1.1.1");
    assert_eq!(spoofed.status, 429, "what the client wrote left of the proxy's entry is ignored");
    assert_eq!(attempt(&app, "u7", "x", "203.0.113.6").status, 401, "another client has its own limit");
    assert_eq!(attempt(&app, "cashier", "cashier-demo", "203.0.113.7").status, 200);
    let logins = audit_of(&app, "login", "staff:cashier");
    assert_eq!(logins.last().map(|e| e.reason.as_str()), Some("how=password from=203.0.113.7"));

    let Some(plain) = spawn_cfg_on(BACKEND, Policy::default(), |c| c.login_attempts_per_minute = 3) else {
        return;
    };
    for i in 0..3 {
        let xff = format!("203.0.113.{i}");
        assert_eq!(attempt(&plain, &format!("u{i}"), "x", &xff).status, 401);
    }
    assert_eq!(attempt(&plain, "u5", "x", "198.51.100.77").status, 429, "not a trusted proxy: the peer is the key");
}
