//! Suanpan's domain core: money in integer fen, the identifiers of the trade, card numbers,
//! the transaction state machine, and every money rule as a pure decision.
//!
//! **Architecture Invariant:** this crate does no IO and knows nothing of SQL, 8583, HTTP or
//! terminals. Adapters turn input into these types, call a `decide_*` function, persist what it
//! decided, and map its refusal to their wire form.
#![deny(missing_docs)]

pub mod auth;
pub mod backoffice;
pub mod case;
pub mod clock;
pub mod i18n;
pub mod ids;
pub mod kind;
pub mod money;
pub mod notify;
pub mod pan;
pub mod policy;
pub mod refusal;
pub mod response;
pub mod risk;
pub mod rules;
pub mod settlement;
pub mod txn;

pub use i18n::Lang;
pub use ids::{
    AuthCode, BatchNo, IdError, MerchantId, OperatorNo, Role, Rrn, TerminalId, TxnId, VoucherNo,
};
pub use kind::{PaymentMethod, TxnKind, TxnStatus};
pub use money::{Amount, AmountError, Currency};
pub use pan::{MaskedPan, Pan, PanError};
pub use policy::Policy;
pub use refusal::Refusal;
pub use response::ResponseCode;
pub use txn::Transaction;
