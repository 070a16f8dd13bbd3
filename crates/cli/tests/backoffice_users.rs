//! `admin user add|list`: back-office users for a store that was not seeded with the demo.

mod common;

use common::*;

/// Goal: a back-office user is created with a role and a password from the environment,
/// listed afterwards; a weak password, an unknown role or merchant is refused and adds nobody.
#[test]
fn admin_user_add_and_list() {
    let demo = Demo::new();
    let add = |user: &str, role: &str, merchant: &str, pw: &str| {
        let mut c = demo.cmd();
        c.args([
            "--json",
            "admin",
            "user",
            "add",
            "--username",
            user,
            "--role",
            role,
            "--name",
            "店长 Manager",
            "--merchant",
            merchant,
        ])
        .new_password(pw);
        run(&mut c)
    };
    let out = add("manager", "supervisor", MERCHANT, "long-enough-1");
    assert_eq!(out.code, 0, "{}", out.text());
    let users = out.json()["users"].as_array().cloned().unwrap_or_default();
    assert!(
        users
            .iter()
            .any(|u| u["username"] == "manager" && u["role"] == "supervisor"),
        "{users:?}"
    );
    let count = users.len();
    assert_eq!(
        add("weak", "cashier", MERCHANT, "short").code,
        3,
        "weak password refused"
    );
    assert_eq!(
        add("odd", "owner", MERCHANT, "long-enough-1").code,
        1,
        "unknown role"
    );
    assert_eq!(
        add("far", "cashier", "898310048990002", "long-enough-1").code,
        3,
        "unknown merchant"
    );
    let taken = add("manager", "cashier", MERCHANT, "long-enough-1");
    assert_eq!(taken.code, 1, "the name is taken");
    assert!(taken.text().contains("taken"), "{}", taken.text());
    let mut list = demo.cmd();
    list.args(["--json", "admin", "user", "list", "--merchant", MERCHANT]);
    let out = run(&mut list);
    assert_eq!(
        out.json()["users"].as_array().map(Vec::len),
        Some(count),
        "nobody was added by the refusals"
    );
}

/// Goal (issue 14): the CLI, acting as the platform, gives a merchant its counter operators
/// (`admin operator add --merchant M --no 01 --role cashier`): the number implies the role,
/// the password is digits, a taken number and an unknown merchant are refused; and it creates
/// acquirer users (`admin acquirer-user add`) of the acquirer's roles only.
#[test]
fn admin_operator_add_and_acquirer_user_add() {
    let demo = Demo::new();
    let op = |merchant: &str, no: &str, role: &str, pw: &str| {
        let mut c = demo.cmd();
        c.args([
            "--json",
            "admin",
            "operator",
            "add",
            "--merchant",
            merchant,
            "--no",
            no,
            "--role",
            role,
            "--name",
            "收银 小李",
        ])
        .new_password(pw);
        run(&mut c)
    };
    let out = op(MERCHANT, "07", "cashier", "2468");
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(out.json()["operator"], "07");
    assert_eq!(op(MERCHANT, "07", "cashier", "2468").code, 1, "07 is taken");
    assert_eq!(
        op(MERCHANT, "08", "admin", "2468").code,
        3,
        "08 is a cashier's number"
    );
    assert_eq!(op(MERCHANT, "08", "cashier", "abcd").code, 3, "digits only");
    assert_eq!(
        op("898310048990002", "01", "cashier", "2468").code,
        3,
        "unknown merchant"
    );

    let acq = |user: &str, role: &str| {
        let mut c = demo.cmd();
        c.args([
            "--json",
            "admin",
            "acquirer-user",
            "add",
            "--username",
            user,
            "--role",
            role,
            "--name",
            "运营 小周",
        ])
        .new_password("long-enough-1");
        run(&mut c)
    };
    let out = acq("ops1", "operations");
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(out.json()["role"], "operations");
    assert_eq!(
        acq("ops2", "admin").code,
        1,
        "a merchant role is not the acquirer's"
    );
}

/// Goal (issue 14): `admin merchant add` onboards a merchant as pending, `activate` makes it
/// usable at once (the CLI is the platform: no second reviewer), `suspend` and `show` say so,
/// and every step is audited; a bad MCC, a taken id and a move from the wrong status are
/// refused.
#[test]
fn admin_merchant_add_activate_suspend() {
    let demo = Demo::new();
    let admin = |args: &[&str]| {
        let mut c = demo.cmd();
        c.args(["--json", "admin", "merchant"]).args(args);
        run(&mut c)
    };
    let m = "898310048990002";
    let out = admin(&[
        "add",
        "--id",
        m,
        "--name",
        "二号商户有限公司",
        "--mcc",
        "5812",
    ]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(out.json()["merchants"][0]["status"], "pending");
    assert_eq!(
        admin(&["add", "--id", m, "--name", "again"]).code,
        1,
        "id taken"
    );
    let bad = admin(&[
        "add",
        "--id",
        "898310048990003",
        "--name",
        "x",
        "--mcc",
        "58a",
    ]);
    assert_eq!(bad.code, 1, "{}", bad.text());
    assert_eq!(
        admin(&["suspend", "--id", m]).code,
        1,
        "a pending merchant is not suspended"
    );
    let out = admin(&["activate", "--id", m, "--reason", "资料齐全"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(out.json()["merchants"][0]["status"], "active");
    let out = admin(&["suspend", "--id", m, "--reason", "风险核查"]);
    assert_eq!(out.json()["merchants"][0]["status"], "suspended");
    let out = admin(&["show", "--id", m]);
    assert_eq!(out.json()["merchants"][0]["status_reason"], "风险核查");
    let list = admin(&["list"]).json();
    assert_eq!(
        list["merchants"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );
}
