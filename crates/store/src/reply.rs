//! One typed reply per command (issue 15): each command names what it can answer, so an
//! adapter matches only those answers, with no fallback arm for answers its command never
//! gives.
//!
//! The writer keeps one queue of [`Command`]s and answers each with a [`Reply`], the sum
//! of the typed replies; [`Ask`] ties each command to its typed reply, and [`FromReply`]
//! (one conversion per reply type, here) takes the typed reply back out of the sum. Callers
//! use [`AskExt::ask`]; the sum does not leave this crate's writer path.

use crate::StoreError;
use crate::command::{AdviceDraft, UpstreamRef};
use crate::command::{
    Authorized, BalanceInquiry, Command, Complete, Hide, PreAuthVoid, Purchase, Purge, RecordLogin,
    RecordRefusal, RecordReprint, Refund, Reverse, SetPassword, Settle, SettleReport, StandIn,
    Void,
};
use suanpan_core::{Amount, Refusal, Transaction};

/// A rule said no: nothing changed but the audit trail.
pub type Refused = Box<dyn Refusal + Send>;

/// What a command that books one transaction answers: a void, a refund, a completion, a
/// pre-auth void, and phase two or stand-in of an upstream authorization.
#[derive(Debug)]
pub enum TxnReply {
    /// The transaction was booked (approved or declined).
    Booked(Transaction),
    /// An identical retry: the stored transaction, not a second booking.
    Replayed(Transaction),
    /// A rule said no.
    Refused(Refused),
}

/// What a purchase (sale, pre-authorization) answers.
#[derive(Debug)]
pub enum PurchaseReply {
    /// The sale or pre-authorization was booked (approved or declined).
    Booked(Transaction),
    /// An identical retry: the stored transaction, not a second booking.
    Replayed(Transaction),
    /// A rule said no.
    Refused(Refused),
}

/// What a balance inquiry answers.
#[derive(Debug)]
pub enum BalanceReply {
    /// The issuer approved: the inquiry as booked and the available balance.
    Balance {
        /// The inquiry as booked.
        txn: Transaction,
        /// Available balance (balance − holds).
        available: Amount,
    },
    /// The issuer declined (wrong PIN, lost card…): the inquiry as booked, no balance.
    Declined(Transaction),
    /// An identical retry: the stored inquiry, and for an approved one the available
    /// balance as it is now. A declined inquiry's retry shows no balance: its PIN block is
    /// not part of the request hash, so a balance there would answer a wrong PIN.
    Replayed {
        /// The stored inquiry.
        txn: Transaction,
        /// Available balance now, only when the stored inquiry was approved.
        available: Option<Amount>,
    },
    /// A rule said no.
    Refused(Refused),
}

/// What a reversal answers.
#[derive(Debug)]
pub enum ReversalReply {
    /// The reversal was booked.
    Reversed(Transaction),
    /// Nothing to undo (already reversed, or the request never arrived and is now
    /// remembered): approved, no change.
    NothingToReverse,
    /// An identical retry: the stored transaction.
    Replayed(Transaction),
    /// A rule said no.
    Refused(Refused),
}

/// What a command on records or operators answers: a count of rows, or a refusal (hide,
/// purge, login outcome, password change).
#[derive(Debug)]
pub enum Counted {
    /// Done: rows affected, where that means something.
    Done(u64),
    /// A rule said no.
    Refused(Refused),
}

/// The writer's answer to one command: the sum of the typed replies, carried through the
/// one queue and taken apart by [`FromReply`].
#[derive(Debug)]
pub enum Reply {
    /// Of a purchase.
    Purchase(PurchaseReply),
    /// Of a balance inquiry.
    Balance(BalanceReply),
    /// Of a command that books one transaction.
    Txn(TxnReply),
    /// Of a reversal.
    Reversal(ReversalReply),
    /// Of a command on records or operators.
    Counted(Counted),
    /// Of a settlement.
    Settled(SettleReport),
    /// Of a chunk of the cutoff.
    DueChunk(DueChunk),
    /// Of a command that cannot be refused: a count.
    Count(u64),
}

impl Reply {
    /// The reply's kind, for a message.
    fn kind(&self) -> &'static str {
        match self {
            Reply::Purchase(_) => "purchase",
            Reply::Balance(_) => "balance",
            Reply::Txn(_) => "transaction",
            Reply::Reversal(_) => "reversal",
            Reply::Counted(_) => "counted",
            Reply::Settled(_) => "settlement",
            Reply::DueChunk(_) => "cutoff",
            Reply::Count(_) => "count",
        }
    }
}

/// A typed reply taken out of the writer's [`Reply`]: the one conversion per reply type.
pub trait FromReply: Sized {
    /// The typed reply, or the kind of the reply when it is another (a bug in the writer's
    /// hook: each command's use case gives its own kind).
    ///
    /// # Errors
    /// The other reply's kind.
    fn from_reply(r: Reply) -> Result<Self, &'static str>;
}

macro_rules! from_reply {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl FromReply for $ty {
            fn from_reply(r: Reply) -> Result<Self, &'static str> {
                match r {
                    Reply::$variant(x) => Ok(x),
                    other => Err(other.kind()),
                }
            }
        }
        impl From<$ty> for Reply {
            fn from(x: $ty) -> Reply {
                Reply::$variant(x)
            }
        }
    )*};
}

from_reply!(
    PurchaseReply => Purchase,
    BalanceReply => Balance,
    TxnReply => Txn,
    ReversalReply => Reversal,
    Counted => Counted,
    SettleReport => Settled,
    DueChunk => DueChunk,
    u64 => Count,
);

macro_rules! refusable {
    ($($ty:ty),*) => {$(
        impl From<Refused> for $ty {
            fn from(r: Refused) -> $ty {
                <$ty>::Refused(r)
            }
        }
    )*};
}

refusable!(
    PurchaseReply,
    BalanceReply,
    TxnReply,
    ReversalReply,
    Counted
);

impl From<TxnReply> for PurchaseReply {
    /// Phase two of a purchase through the upstream books a transaction like any other.
    fn from(r: TxnReply) -> PurchaseReply {
        match r {
            TxnReply::Booked(t) => PurchaseReply::Booked(t),
            TxnReply::Replayed(t) => PurchaseReply::Replayed(t),
            TxnReply::Refused(r) => PurchaseReply::Refused(r),
        }
    }
}

/// A command for the writer with its typed reply.
pub trait Ask: Into<Command> {
    /// What the command answers.
    type Reply: FromReply + Send + 'static;
}

macro_rules! ask {
    ($($cmd:ident => $reply:ty),* $(,)?) => {$(
        impl Ask for $cmd {
            type Reply = $reply;
        }
        impl From<$cmd> for Command {
            fn from(c: $cmd) -> Command {
                Command::$cmd(c)
            }
        }
    )*};
}

ask!(
    Purchase => PurchaseReply,
    BalanceInquiry => BalanceReply,
    Void => TxnReply,
    Refund => TxnReply,
    Complete => TxnReply,
    PreAuthVoid => TxnReply,
    Reverse => ReversalReply,
    Settle => SettleReport,
    Hide => Counted,
    Purge => Counted,
    RecordLogin => Counted,
    RecordRefusal => u64,
    SetPassword => Counted,
    RecordReprint => u64,
    Authorized => TxnReply,
    StandIn => TxnReply,
);

/// Settle the next chunk of batches whose business day has passed the cutoff
/// ([`Command::SettleAllDue`]), in terminal order, after terminal `after` (from the first
/// terminal when `None`). The cutoff sends one per chunk, each after the last terminal the
/// chunk before read, so every command reads only the terminals it has not passed yet.
#[derive(Debug, Clone, Default)]
pub struct SettleAllDue {
    /// The last terminal the previous chunk read ([`DueChunk::last`]).
    pub after: Option<suanpan_core::TerminalId>,
}

impl SettleAllDue {
    /// The first chunk: from the first terminal.
    pub const FROM_START: SettleAllDue = SettleAllDue { after: None };
}

/// Release pre-authorization holds past their hold days ([`Command::ExpireHolds`]): the
/// count released.
#[derive(Debug, Clone, Copy)]
pub struct ExpireHolds;

/// Forget the sealed card numbers of upstream sales whose refund window has closed
/// ([`Command::ForgetExpiredPans`]): the count forgotten.
#[derive(Debug, Clone, Copy)]
pub struct ForgetExpiredPans;

/// Resolve every transaction still *authorizing* at start-up
/// ([`Command::ResolveAuthorizing`]): the count resolved.
#[derive(Debug, Clone, Copy)]
pub struct ResolveAuthorizing;

macro_rules! ask_unit {
    ($($cmd:ident => $reply:ty),* $(,)?) => {$(
        impl Ask for $cmd {
            type Reply = $reply;
        }
        impl From<$cmd> for Command {
            fn from(_: $cmd) -> Command {
                Command::$cmd
            }
        }
    )*};
}

ask!(SettleAllDue => DueChunk);

/// What one chunk of the cutoff did ([`SettleAllDue`]).
#[derive(Debug, Default)]
pub struct DueChunk {
    /// The batches settled, in terminal order.
    pub settled: Vec<SettleReport>,
    /// The due batches the cutoff may not settle, left open (their terminal refused: its
    /// merchant suspended or closed, say), each with why.
    pub passed: Vec<PassedBatch>,
    /// The last terminal the chunk read, settled or passed: where the next chunk starts.
    pub last: Option<suanpan_core::TerminalId>,
    /// True when the chunk read as many due batches as one command may: more may follow.
    pub full: bool,
}

/// A due batch the cutoff left open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassedBatch {
    /// Its terminal.
    pub terminal_id: suanpan_core::TerminalId,
    /// The refusal's catalog key (`access.merchant_not_active`, `settle.untotallable`…).
    pub refusal: &'static str,
}

ask_unit!(
    ExpireHolds => u64,
    ForgetExpiredPans => u64,
    ResolveAuthorizing => u64,
);

/// A command that may go to the network upstream in two phases ([`Authorize`]): a purchase
/// or a refund. Its reply tells whether phase one booked a transaction ([`Booking`]).
pub trait GoesUp: Ask<Reply: Booking> {
    /// Phase two's answer (or stand-in's) as this command's reply.
    fn decided(r: TxnReply) -> Self::Reply;
}

impl GoesUp for Purchase {
    fn decided(r: TxnReply) -> PurchaseReply {
        r.into()
    }
}

impl GoesUp for Refund {
    fn decided(r: TxnReply) -> TxnReply {
        r
    }
}

/// Phase one of a purchase or refund through the network upstream ([`Command::Authorize`]).
#[derive(Debug, Clone)]
pub struct Authorize<A> {
    /// The purchase or refund.
    pub purchase: A,
    /// How it goes up.
    pub upstream: UpstreamRef,
}

impl<A: GoesUp> From<Authorize<A>> for Command {
    fn from(a: Authorize<A>) -> Command {
        Command::Authorize {
            purchase: Box::new(a.purchase.into()),
            upstream: a.upstream,
        }
    }
}

impl<A: GoesUp> Ask for Authorize<A> {
    type Reply = A::Reply;
}

/// A follow-up of a sale that may need the sale's reversal advice queued with it: a void
/// or a terminal reversal.
pub trait FollowUp: Ask {}

impl FollowUp for Void {}
impl FollowUp for Reverse {}

/// A follow-up and its sale's reversal advice ([`Command::WithAdvice`]).
#[derive(Debug, Clone)]
pub struct WithAdvice<A> {
    /// The follow-up.
    pub inner: A,
    /// What the advice needs that the store does not keep.
    pub advice: AdviceDraft,
}

impl<A: FollowUp> From<WithAdvice<A>> for Command {
    fn from(w: WithAdvice<A>) -> Command {
        Command::WithAdvice {
            inner: Box::new(w.inner.into()),
            advice: w.advice,
        }
    }
}

impl<A: FollowUp> Ask for WithAdvice<A> {
    type Reply = A::Reply;
}

/// The typed reply of `A` out of the writer's answer; a reply of another kind is a bug in
/// the writer's hook, reported as an error (never a silent fallback).
pub(crate) fn typed<A: Ask>(answer: Result<Reply, StoreError>) -> Result<A::Reply, StoreError> {
    A::Reply::from_reply(answer?).map_err(|other| {
        StoreError::Invalid(format!(
            "the writer answered a {other} reply to a command that answers {}",
            std::any::type_name::<A::Reply>()
        ))
    })
}

/// The typed way to the writer, for every [`crate::Store`].
pub trait AskExt {
    /// Runs one command through the writer; returns its typed reply after its commit.
    ///
    /// # Errors
    /// The store's.
    fn ask<A: Ask>(&self, cmd: A) -> Result<A::Reply, StoreError>;
    /// Hands a command to the writer; `done` receives its typed reply after the commit (on
    /// the writer thread: it must be quick).
    ///
    /// # Errors
    /// The store's, when the command could not be queued.
    fn ask_then<A: Ask>(
        &self,
        cmd: A,
        done: impl FnOnce(Result<A::Reply, StoreError>) + Send + 'static,
    ) -> Result<(), StoreError>;
}

impl<S: crate::Store + ?Sized> AskExt for S {
    // The sealed writer's untyped way in is used here only.
    fn ask<A: Ask>(&self, cmd: A) -> Result<A::Reply, StoreError> {
        typed::<A>(self.execute(cmd.into(), crate::untyped::TOKEN))
    }
    fn ask_then<A: Ask>(
        &self,
        cmd: A,
        done: impl FnOnce(Result<A::Reply, StoreError>) + Send + 'static,
    ) -> Result<(), StoreError> {
        let done: crate::Done = Box::new(move |a| done(typed::<A>(a)));
        self.submit_boxed(cmd.into(), done, crate::untyped::TOKEN)
    }
}

/// A command handed to the writer whose typed reply has not been collected yet
/// ([`crate::SqliteStore::submit`], [`crate::PgStore::submit`]).
pub struct Pending<A: Ask> {
    waiter: crate::writer::Waiter,
    ask: std::marker::PhantomData<fn() -> A>,
}

impl<A: Ask> Pending<A> {
    pub(crate) fn new(waiter: crate::writer::Waiter) -> Pending<A> {
        Pending {
            waiter,
            ask: std::marker::PhantomData,
        }
    }

    /// Waits for the command's commit and typed reply, at most
    /// [`crate::writer::ANSWER_WAIT_MAX`].
    ///
    /// # Errors
    /// The store's, or [`StoreError::TimedOut`].
    pub fn wait(self) -> Result<A::Reply, StoreError> {
        typed::<A>(self.waiter.wait())
    }
}

/// A reply that may carry a newly booked transaction.
pub trait Booking: Sized + std::fmt::Debug {
    /// The transaction booked, or the reply itself (replayed, refused, nothing to do).
    ///
    /// # Errors
    /// The reply itself, when it booked nothing.
    fn booked(self) -> Result<Transaction, Self>;
}

impl Booking for TxnReply {
    fn booked(self) -> Result<Transaction, Self> {
        match self {
            TxnReply::Booked(t) => Ok(t),
            other @ (TxnReply::Replayed(_) | TxnReply::Refused(_)) => Err(other),
        }
    }
}

impl Booking for PurchaseReply {
    fn booked(self) -> Result<Transaction, Self> {
        match self {
            PurchaseReply::Booked(t) => Ok(t),
            other @ (PurchaseReply::Replayed(_) | PurchaseReply::Refused(_)) => Err(other),
        }
    }
}

impl Booking for ReversalReply {
    fn booked(self) -> Result<Transaction, Self> {
        match self {
            ReversalReply::Reversed(t) => Ok(t),
            other @ (ReversalReply::NothingToReverse
            | ReversalReply::Replayed(_)
            | ReversalReply::Refused(_)) => Err(other),
        }
    }
}
