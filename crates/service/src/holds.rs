//! The end of pre-authorization holds: approved pre-auths past their hold days are released
//! at the issuer and marked expired.

use crate::ctx::{Ctx, issuer_effect};
use suanpan_core::TxnStatus;
use suanpan_issuer::IssuerOp;
use suanpan_store::StoreError;
use suanpan_store::repo::txns::{self, InstrumentCols};

/// Releases every hold that ended before now.
pub(crate) fn expire_holds(ctx: &mut Ctx<'_, '_>) -> Result<u64, StoreError> {
    let due = txns::holds_ended(ctx.tx.conn, ctx.tx.now)?;
    for t in &due {
        let cols = InstrumentCols::from_txn(t);
        issuer_effect(ctx, &cols, IssuerOp::Release, t.amount, t.training)?;
        txns::set_status(ctx.tx.conn, t.id, TxnStatus::Expired)?;
        let target = format!("txn:{}", t.id);
        ctx.tx.audit("system", "preauth.expire", &target, "", "ok");
    }
    Ok(due.len() as u64)
}
