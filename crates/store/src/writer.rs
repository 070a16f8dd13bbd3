//! The write path both backends share: callers queue commands for one writer thread, which
//! runs a group of them in one transaction, commits, and only then answers each caller
//! (group commit). What a backend adds is [`GroupRunner::run_all`]: one transaction.

use crate::command::Command;
use crate::error::StoreError;
use crate::reply::Reply;
use crate::sqlite::OpenOptions;
use crossbeam_channel::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};

/// Commands one group commit takes at most.
pub const GROUP_COMMIT_MAX: usize = 1_024;
/// The same during a bulk load ([`OpenOptions::bulk_load`], `bench seed`). Each commit writes
/// every page its group changed, and a load's groups change the same random-keyed pages
/// (the issuer accounts, the terminal/batch index's leaves) whatever their size: four times
/// fewer commits write them a quarter as often. A bulk load's commands each read the clock
/// (see [`apply_group`]), so a larger group does not coarsen the history's times.
pub const BULK_GROUP_COMMIT_MAX: usize = 4_096;

pub(crate) struct Job {
    cmd: Command,
    /// Taken when answered; a job dropped with its target still here was never answered.
    reply: Option<Target>,
}

/// Where a job's answer goes.
enum Target {
    /// A caller blocked in [`Waiter::wait`].
    Slot(Arc<Slot>),
    /// A callback (an async caller's oneshot), run on the writer thread: it must be quick.
    Callback(Box<dyn FnOnce(Result<Reply, StoreError>) + Send>),
}

impl Job {
    fn answer(&mut self, answer: Result<Reply, StoreError>) {
        match self.reply.take() {
            Some(Target::Slot(slot)) => slot.put(answer),
            Some(Target::Callback(f)) => f(answer),
            None => {}
        }
    }
}

/// A command handed to the writer whose answer has not been collected yet: the writer's
/// untyped sum, for the typed [`crate::reply::Pending`] only.
pub(crate) struct Waiter(Arc<Slot>);

/// Where the writer leaves one answer. A mutex and a condition variable, not a channel: a
/// waiting caller parks at once instead of spinning, which matters with hundreds of callers
/// on two cores.
#[derive(Default)]
struct Slot {
    answer: Mutex<Option<Result<Reply, StoreError>>>,
    ready: Condvar,
}

impl Slot {
    fn put(&self, answer: Result<Reply, StoreError>) {
        if let Ok(mut a) = self.answer.lock() {
            *a = Some(answer);
            self.ready.notify_one();
        }
    }
}

impl Drop for Job {
    /// A job dropped unanswered (the writer panicked or stopped) must not leave its caller
    /// waiting forever.
    fn drop(&mut self) {
        self.answer(Err(StoreError::WriterGone));
    }
}

/// How long a caller waits for the writer's answer to one command before it gives up with
/// [`StoreError::TimedOut`]. The command itself is not withdrawn: it may still commit, so
/// the caller says the outcome is unknown (a terminal's own reversal repairs a sale it
/// never heard of). A healthy writer answers in milliseconds; a group stuck this long is a
/// stalled disk or database, and PostgreSQL's own `statement_timeout`
/// (`pg::PG_STATEMENT_TIMEOUT_MS`) ends a stuck statement after that.
pub const ANSWER_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(150);

impl Waiter {
    /// Waits for the command's commit and answer, at most [`ANSWER_WAIT_MAX`].
    pub(crate) fn wait(self) -> Result<Reply, StoreError> {
        self.wait_at_most(ANSWER_WAIT_MAX)
    }

    /// Waits for the command's commit and answer, at most `limit`.
    pub(crate) fn wait_at_most(self, limit: std::time::Duration) -> Result<Reply, StoreError> {
        let deadline = std::time::Instant::now() + limit;
        let mut answer = self.0.answer.lock().map_err(|_| StoreError::WriterGone)?;
        loop {
            if let Some(a) = answer.take() {
                return a;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(StoreError::TimedOut(format!(
                    "the writer's answer ({} s)",
                    limit.as_secs()
                )));
            }
            answer = self
                .0
                .ready
                .wait_timeout(answer, left)
                .map_err(|_| StoreError::WriterGone)?
                .0;
        }
    }
}

/// What one committed group transaction answers.
pub(crate) struct Committed {
    pub replies: Vec<Reply>,
    /// The chain's head after the commit, when the group added audit entries.
    pub head: Option<crate::audit::ChainHead>,
}

/// The newer of two heads.
fn newer(
    a: Option<crate::audit::ChainHead>,
    b: Option<crate::audit::ChainHead>,
) -> Option<crate::audit::ChainHead> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.seq > a.seq { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// After a commit that added audit entries: appends the new head to the anchor file, if
/// the store has one, before anyone hears of the commit.
pub(crate) fn anchor_head(opts: &OpenOptions, head: Option<&crate::audit::ChainHead>) {
    if let (Some(anchor), Some(head)) = (&opts.anchor, head) {
        anchor.append(head, opts.clock.now().as_microsecond());
    }
}

/// One backend's side of the write path.
pub(crate) trait GroupRunner {
    /// Runs `cmds` in one transaction and commits: all or nothing. Also returns the audit
    /// chain's head when the transaction added entries (for the anchor).
    fn run_all(&mut self, cmds: &[&Command], opts: &OpenOptions) -> Result<Committed, GroupError>;
    /// Housekeeping between two groups, outside any transaction.
    fn between_groups(&mut self) {}
}

/// The sending side of the writer's queue, with the three ways to hand a command over.
pub(crate) struct Queue(pub(crate) Option<Sender<Job>>);

impl Queue {
    /// Queues a command; its answer is collected with [`Waiter::wait`].
    pub(crate) fn submit(&self, cmd: Command) -> Result<Waiter, StoreError> {
        let slot = Arc::new(Slot::default());
        let jobs = self.0.as_ref().ok_or(StoreError::WriterGone)?;
        jobs.send(Job {
            cmd,
            reply: Some(Target::Slot(slot.clone())),
        })
        .map_err(|_| StoreError::WriterGone)?;
        Ok(Waiter(slot))
    }

    /// Queues a command; `done` receives the answer on the writer thread after the commit.
    pub(crate) fn submit_with(
        &self,
        cmd: Command,
        done: Box<dyn FnOnce(Result<Reply, StoreError>) + Send>,
    ) -> Result<(), StoreError> {
        let jobs = self.0.as_ref().ok_or(StoreError::WriterGone)?;
        let job = Job {
            cmd,
            reply: Some(Target::Callback(done)),
        };
        jobs.send(job).map_err(|e| {
            // The job comes back unsent: answer nobody twice.
            let mut job = e.into_inner();
            job.reply = None;
            StoreError::WriterGone
        })
    }
}

/// The writer: takes a group of queued commands, runs them in one transaction, commits, then
/// answers each caller. Returns when every sender is gone and the queue is empty.
pub(crate) fn writer_loop<R: GroupRunner>(mut runner: R, jobs: Receiver<Job>, opts: OpenOptions) {
    let group_max = if opts.bulk_load {
        BULK_GROUP_COMMIT_MAX
    } else {
        GROUP_COMMIT_MAX
    };
    while let Ok(first) = jobs.recv() {
        let mut group = Vec::with_capacity(64);
        group.push(first);
        while group.len() < group_max {
            match jobs.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let results = run_group(&mut runner, &group, &opts);
        for (mut job, result) in group.into_iter().zip(results) {
            // A caller that went away no longer needs its answer; its commit stands.
            job.answer(result);
        }
        runner.between_groups();
    }
}

fn run_group<R: GroupRunner>(
    runner: &mut R,
    group: &[Job],
    opts: &OpenOptions,
) -> Vec<Result<Reply, StoreError>> {
    let cmds: Vec<&Command> = group.iter().map(|j| &j.cmd).collect();
    // How many commands share one commit: the number that explains the write path's speed.
    metrics::histogram!("suanpan_store_group_size").record(group.len() as f64);
    let started = std::time::Instant::now();
    let answers = run_group_once(runner, group, &cmds, opts);
    metrics::histogram!("suanpan_store_group_seconds").record(started.elapsed().as_secs_f64());
    answers
}

fn run_group_once<R: GroupRunner>(
    runner: &mut R,
    group: &[Job],
    cmds: &[&Command],
    opts: &OpenOptions,
) -> Vec<Result<Reply, StoreError>> {
    match runner.run_all(cmds, opts) {
        Ok(done) => {
            anchor_head(opts, done.head.as_ref());
            done.replies.into_iter().map(Ok).collect()
        }
        // One command failed (or, on PostgreSQL, the group lost a deadlock or serialization
        // race): nothing of the group was committed. Run each command in its own transaction
        // so one failure does not fail the others (the rare, slow path; the common path needs
        // no savepoint per command).
        Err(GroupError::Command(_)) if group.len() > 1 => {
            let mut head = None;
            let answers = group
                .iter()
                .map(|j| {
                    runner
                        .run_all(&[&j.cmd], opts)
                        .map(|mut done| {
                            head = newer(head.take(), done.head.take());
                            done.replies.remove(0)
                        })
                        .map_err(GroupError::into_inner)
                })
                .collect();
            anchor_head(opts, head.as_ref());
            answers
        }
        Err(e) => {
            let e = e.into_inner();
            tracing::error!(error = %e, commands = group.len(), "group commit failed; its callers get an error");
            group.iter().map(|_| Err(clone_error(&e))).collect()
        }
    }
}

/// Where a group failed: in a command (worth retrying the others alone) or around it
/// (begin/commit: busy, disk full — retrying one by one would only fail again, slower).
pub(crate) enum GroupError {
    Command(StoreError),
    Transaction(StoreError),
}

impl GroupError {
    fn into_inner(self) -> StoreError {
        match self {
            GroupError::Command(e) | GroupError::Transaction(e) => e,
        }
    }
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Busy => StoreError::Busy,
        StoreError::DiskFull => StoreError::DiskFull,
        // Kept as it is: an unknown outcome, which the 8583 host answers with silence (the
        // terminal's reversal repairs it), not with 96.
        StoreError::TimedOut(w) => StoreError::TimedOut(w.clone()),
        other => StoreError::Sqlite(other.to_string()),
    }
}

/// The use cases the writer runs, one command at a time, inside the group's transaction
/// (`suanpan-service` implements it): load facts through [`crate::repo`], ask the core,
/// write the decision back. The writer owns the transaction, the group commit and the audit
/// chain; the hook owns every decision.
pub trait Apply: Send + Sync {
    /// Applies one command in the group's transaction. An `Err` fails the group's transaction
    /// (the writer then retries each command alone); a refusal is an `Ok` reply.
    fn apply(&self, tx: &mut crate::repo::Tx<'_>, cmd: &Command) -> Result<Reply, StoreError>;
}

/// The hook of a store opened without its use cases (only reads, setup and administration):
/// every command is answered with an error, loudly, instead of being lost.
pub struct NoUseCases;

impl Apply for NoUseCases {
    fn apply(&self, _: &mut crate::repo::Tx<'_>, _: &Command) -> Result<Reply, StoreError> {
        Err(StoreError::Invalid(
            "this store was opened without its use cases (open it with suanpan_service::open_options)"
                .into(),
        ))
    }
}

/// The body of every backend's group transaction: each command through the use cases, then
/// the group's cached terminal state, counters, accounts and audit entries written once.
///
/// `carry` (a bulk load on SQLite, see [`crate::repo::Carry`]): the issuer accounts the
/// previous group left, used as this group's cache and handed back after the flush. A group
/// that fails leaves it empty: the next group reads the committed accounts again.
pub(crate) fn apply_group(
    conn: &dyn crate::sql::Sql,
    chain: &mut crate::audit::ChainHead,
    cmds: &[&Command],
    opts: &OpenOptions,
    mut carry: Option<&mut crate::repo::Carry>,
) -> Result<Vec<Reply>, StoreError> {
    // A group's commands share one moment, so that what the group caches (a terminal's
    // batch, an operator's voids of the day) holds for each of them. A bulk load reads the
    // clock per command instead: `bench seed` moves it row by row and never lets a group
    // cross a business day (it waits for every answer before the day's settlements).
    let group_now = opts.clock.now();
    let mut cache = crate::repo::GroupCache::default();
    if let Some(c) = carry.as_deref_mut() {
        cache.accounts = std::cell::RefCell::new(std::mem::take(&mut c.accounts));
    }
    crate::repo::prefetch::fetch(conn, &mut cache, cmds, &opts.policy.risk, group_now)?;
    let mut replies = Vec::with_capacity(cmds.len());
    for cmd in cmds {
        // What the sales' reads were fetched for: anything else may change their answers.
        if crate::repo::prefetch::asks_issuer(cmd).is_none() {
            cache.prefetched.forget();
        }
        let now = if opts.bulk_load {
            opts.clock.now()
        } else {
            group_now
        };
        let mut tx = crate::repo::Tx {
            conn,
            policy: &opts.policy,
            now,
            keys: &*opts.keys,
            cache: &mut cache,
        };
        replies.push(opts.apply.apply(&mut tx, cmd)?);
    }
    crate::repo::flush(conn, &mut cache, chain)?;
    if let Some(c) = carry {
        c.accounts = cache.accounts.into_inner();
    }
    Ok(replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_for_an_answer_that_never_comes_ends_at_its_limit() {
        let pending = Waiter(Arc::new(Slot::default()));
        let started = std::time::Instant::now();
        let r = pending.wait_at_most(std::time::Duration::from_millis(50));
        assert!(matches!(r, Err(StoreError::TimedOut(_))), "{r:?}");
        assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    }

    #[test]
    fn an_answer_given_before_the_limit_is_returned() {
        let slot = Arc::new(Slot::default());
        let pending = Waiter(slot.clone());
        let giver = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            slot.put(Err(StoreError::Busy));
        });
        let r = pending.wait_at_most(std::time::Duration::from_secs(10));
        giver.join().unwrap();
        assert!(matches!(r, Err(StoreError::Busy)), "{r:?}");
    }
}
