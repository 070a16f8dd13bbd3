//! Operator authentication: secrets from the environment or a prompt (never argv), argon2id
//! verification outside the store's writer, and the lockout counter and audit through it.

use crate::app::Fail;
use std::io::IsTerminal;
use suanpan_core::refusal::AccessRefused;
use suanpan_core::{MerchantId, OperatorNo};
use suanpan_store::Counted;
use suanpan_store::command::{RecordLogin, RecordRefusal};
use suanpan_store::{AskExt, Store};

/// Environment variable of the acting operator's password.
pub const OPERATOR_PASSWORD_ENV: &str = "SUANPAN_OPERATOR_PASSWORD";
/// Environment variable of the supervisor's password.
pub const SUPERVISOR_PASSWORD_ENV: &str = "SUANPAN_SUPERVISOR_PASSWORD";
/// Environment variable of a card PIN.
pub const PIN_ENV: &str = "SUANPAN_PIN";
/// Environment variable of a new password.
pub const NEW_PASSWORD_ENV: &str = "SUANPAN_NEW_PASSWORD";

/// Reads a secret from `env`, else prompts on the terminal; refuses to guess otherwise.
pub fn secret(env: &str, prompt: &str) -> Result<String, Fail> {
    if let Ok(v) = std::env::var(env) {
        return Ok(v);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(format!("{prompt}: "))
            .map_err(|e| Fail::Other(e.into()));
    }
    Err(Fail::Message {
        key: "error.secret_missing",
        args: vec![prompt.to_owned(), env.to_owned()],
    })
}

/// Parses an operator number, refusing malformed ones as an unknown operator.
pub fn operator_no(text: &str) -> Result<OperatorNo, Fail> {
    OperatorNo::parse(text).map_err(|_| Fail::from(AccessRefused::UnknownOperator))
}

/// Verifies `op`'s password for `purpose` (`login`, `supervisor`). Every failure is audited and
/// counts towards the lockout.
pub fn authenticate(
    store: &dyn Store,
    merchant: &MerchantId,
    op: OperatorNo,
    purpose: &str,
    password: &str,
) -> Result<(), Fail> {
    let Some((hash, failures, locked_until)) = store.operator_secret(merchant, op)? else {
        record(store, merchant, op, purpose, "access.unknown_operator")?;
        return Err(AccessRefused::UnknownOperator.into());
    };
    let now = store.now();
    if let Some(until) = locked_until
        .and_then(|u| jiff::Timestamp::from_microsecond(u).ok())
        .filter(|u| *u > now)
    {
        record(store, merchant, op, purpose, "access.locked_out")?;
        let until = suanpan_service::operators::local_time(store.policy(), until);
        return Err(AccessRefused::LockedOut { until }.into());
    }
    let ok = suanpan_store::auth::verify_password(password, &hash);
    if ok && failures == 0 {
        return Ok(());
    }
    let reply = store.ask(RecordLogin {
        merchant_id: merchant.clone(),
        operator: op,
        ok,
        purpose: purpose.into(),
    })?;
    match reply {
        Counted::Refused(r) => Err(Fail::Refused(r)),
        Counted::Done(_) => Ok(()),
    }
}

fn record(
    store: &dyn Store,
    merchant: &MerchantId,
    op: OperatorNo,
    purpose: &str,
    key: &str,
) -> Result<(), Fail> {
    store.ask(RecordRefusal {
        actor: format!("{merchant}/{op}"),
        action: purpose.into(),
        target: format!("operator:{merchant}/{op}"),
        key: key.into(),
    })?;
    Ok(())
}
