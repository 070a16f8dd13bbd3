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
