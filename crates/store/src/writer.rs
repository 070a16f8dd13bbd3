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
    /// When the runner's commits do not wait for the disk: what makes every commit so far
    /// durable, for the writer's durability thread ([`Durable`]). `None` (the default): a
    /// commit is durable when [`GroupRunner::run_all`] returns.
    fn durability(&mut self) -> Option<SyncFn> {
        None
    }
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
    set_thread_nice(opts.writer_nice, "writer");
    let group_max = if opts.bulk_load {
        BULK_GROUP_COMMIT_MAX
    } else {
        GROUP_COMMIT_MAX
    };
    // A runner whose commits do not wait for the disk hands each committed group to a
    // thread that makes it durable, then answers it, while this thread runs the next group.
    let durable = match runner.durability() {
        Some(sync) => match Durable::start(sync, opts.clone()) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!(error = %e, "the store's sync thread did not start; nothing is written");
                while let Ok(mut job) = jobs.recv() {
                    job.answer(Err(StoreError::WriterGone));
                }
                return;
            }
        },
        None => None,
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
        match &durable {
            None => {
                let (results, head) = run_group(&mut runner, &group, &opts);
                anchor_head(&opts, head.as_ref());
                answer_all(group, results);
            }
            Some(d) if d.failed() => answer_all_err(group, &StoreError::Sqlite(SYNC_FAILED.into())),
            Some(d) => {
                let (results, head) = run_group(&mut runner, &group, &opts);
                d.hand_over(Unsynced {
                    group,
                    results,
                    head,
                });
            }
        }
        runner.between_groups();
    }
    if let Some(d) = durable {
        d.finish();
    }
}

/// Answers each job of a group with its result.
fn answer_all(group: Vec<Job>, results: Vec<Result<Reply, StoreError>>) {
    for (mut job, result) in group.into_iter().zip(results) {
        // A caller that went away no longer needs its answer; its commit stands.
        job.answer(result);
    }
}

fn answer_all_err(group: Vec<Job>, e: &StoreError) {
    for mut job in group {
        job.answer(Err(clone_error(e)));
    }
}

/// What every later command is answered once the disk refused to sync the store.
const SYNC_FAILED: &str = "the disk refused to save the store's log (fsync); nothing more is \
     written until the store is opened again (check the disk)";

/// Committed groups waiting for the durability thread at most before the writer waits (a
/// bound on memory; each holds its answers).
pub const UNSYNCED_GROUPS_MAX: usize = 64;

/// A committed group not yet known to be on the disk.
struct Unsynced {
    group: Vec<Job>,
    results: Vec<Result<Reply, StoreError>>,
    head: Option<crate::audit::ChainHead>,
}

/// The durability thread of a writer whose commits do not wait for the disk (SQLite with
/// `synchronous=NORMAL`): it syncs the log once for every group committed since its last
/// sync, then anchors their audit heads and answers their callers. The writer meanwhile
/// runs the next group, so the disk's flush no longer stops the writer (issue 15: a third
/// of the writer's time under the network load was spent blocked in fsync).
///
/// Why an answer still means "on the disk": a group is answered only after a sync that
/// started after its commit. Why a crash cannot keep a later group and lose an earlier one:
/// SQLite's WAL frames carry a running checksum, and recovery stops at the first frame that
/// does not match, so what survives is always a prefix of the commits.
struct Durable {
    tx: Sender<Unsynced>,
    thread: std::thread::JoinHandle<()>,
    failed: Arc<std::sync::atomic::AtomicBool>,
}

/// Makes every commit so far durable.
pub(crate) type SyncFn = Box<dyn FnMut() -> std::io::Result<()> + Send>;

impl Durable {
    fn start(sync: SyncFn, opts: OpenOptions) -> std::io::Result<Durable> {
        let (tx, rx) = crossbeam_channel::bounded(UNSYNCED_GROUPS_MAX);
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = failed.clone();
        let thread = std::thread::Builder::new()
            .name("suanpan-sync".into())
            .spawn(move || durable_loop(&rx, sync, &opts, &flag))?;
        Ok(Durable { tx, thread, failed })
    }

    fn failed(&self) -> bool {
        self.failed.load(std::sync::atomic::Ordering::Acquire)
    }

    fn hand_over(&self, u: Unsynced) {
        // The thread only ends when this sender is dropped: a send cannot fail before.
        if let Err(e) = self.tx.send(u) {
            answer_all_err(e.into_inner().group, &StoreError::WriterGone);
        }
    }

    /// Waits until every group handed over is synced and answered.
    fn finish(self) {
        let Durable { tx, thread, .. } = self;
        drop(tx);
        let _ = thread.join();
    }
}

fn durable_loop(
    rx: &Receiver<Unsynced>,
    mut sync: SyncFn,
    opts: &OpenOptions,
    failed: &std::sync::atomic::AtomicBool,
) {
    set_thread_nice(opts.writer_nice, "sync");
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(u) = rx.try_recv() {
            batch.push(u);
        }
        let synced = if failed.load(std::sync::atomic::Ordering::Acquire) {
            false
        } else {
            let started = std::time::Instant::now();
            let r = sync();
            metrics::histogram!("suanpan_store_sync_seconds")
                .record(started.elapsed().as_secs_f64());
            match r {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(error = %e, "the store's log could not be synced to the disk; \
                        the groups waiting for it get an unknown outcome and the writer stops");
                    failed.store(true, std::sync::atomic::Ordering::Release);
                    false
                }
            }
        };
        for u in batch {
            if synced {
                anchor_head(opts, u.head.as_ref());
                answer_all(u.group, u.results);
            } else {
                // Committed, perhaps not on the disk: whether it survives a crash of the
                // machine is unknown, which is what a time-out answers (the 8583 host answers
                // it with silence; the terminal's reversal repairs it).
                answer_all_err(
                    u.group,
                    &StoreError::TimedOut("the disk's confirmation of the commit (fsync)".into()),
                );
            }
        }
    }
}

fn run_group<R: GroupRunner>(
    runner: &mut R,
    group: &[Job],
    opts: &OpenOptions,
) -> (
    Vec<Result<Reply, StoreError>>,
    Option<crate::audit::ChainHead>,
) {
    let cmds: Vec<&Command> = group.iter().map(|j| &j.cmd).collect();
    // How many commands share one commit: the number that explains the write path's speed.
    metrics::histogram!("suanpan_store_group_size").record(group.len() as f64);
    let started = std::time::Instant::now();
    let answers = run_group_once(runner, group, &cmds, opts);
    metrics::histogram!("suanpan_store_group_seconds").record(started.elapsed().as_secs_f64());
    answers
}

/// The group's answers and the audit chain's head after it (when it added entries), for
/// the anchor.
fn run_group_once<R: GroupRunner>(
    runner: &mut R,
    group: &[Job],
    cmds: &[&Command],
    opts: &OpenOptions,
) -> (
    Vec<Result<Reply, StoreError>>,
    Option<crate::audit::ChainHead>,
) {
    match runner.run_all(cmds, opts) {
        Ok(done) => (done.replies.into_iter().map(Ok).collect(), done.head),
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
            (answers, head)
        }
        Err(e) => {
            let e = e.into_inner();
            tracing::error!(error = %e, commands = group.len(), "group commit failed; its callers get an error");
            (group.iter().map(|_| Err(clone_error(&e))).collect(), None)
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
        StoreError::WriterGone => StoreError::WriterGone,
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

/// Gives the calling thread the scheduling priority `nice` (`[store] writer_nice`; 0 leaves
/// it as inherited). The writer is the one place every sale passes through in order, and its
/// sync thread answers every group: on cores shared with other work, a waiting writer
/// delays every request behind it (docs/DECISIONS.md, s28-nice). A priority above the
/// default (below 0) needs `CAP_SYS_NICE` or an `RLIMIT_NICE` that allows it; without, the
/// thread keeps its priority and the refusal is logged: the store works the same, only
/// without the preference.
pub(crate) fn set_thread_nice(nice: i32, which: &str) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // Linux: a thread's nice value is its own; `setpriority` on its thread id sets it.
        // SAFETY: `gettid` takes no argument and cannot fail.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        let Ok(tid) = libc::id_t::try_from(tid) else {
            return;
        };
        // SAFETY: plain system call on this thread's own id; no memory is passed.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) } != 0 {
            let e = std::io::Error::last_os_error();
            tracing::warn!(error = %e, nice, thread = which,
                "[store] writer_nice not applied: the thread keeps its priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    tracing::warn!(
        nice,
        thread = which,
        "[store] writer_nice is applied on Linux only"
    );
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

    /// A runner that commits nothing: it counts its groups and answers each command with
    /// the number of its group; its commits become durable through `sync`.
    struct Counting {
        groups: Arc<std::sync::atomic::AtomicU64>,
        sync: Option<SyncFn>,
    }

    impl GroupRunner for Counting {
        fn run_all(&mut self, cmds: &[&Command], _: &OpenOptions) -> Result<Committed, GroupError> {
            let n = self
                .groups
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            Ok(Committed {
                replies: cmds.iter().map(|_| Reply::Count(n)).collect(),
                head: None,
            })
        }

        fn durability(&mut self) -> Option<SyncFn> {
            self.sync.take()
        }
    }

    fn start(
        sync: SyncFn,
    ) -> (
        Queue,
        Arc<std::sync::atomic::AtomicU64>,
        std::thread::JoinHandle<()>,
    ) {
        let groups = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let runner = Counting {
            groups: groups.clone(),
            sync: Some(sync),
        };
        let (tx, rx) = crossbeam_channel::bounded(16);
        let t = std::thread::spawn(move || writer_loop(runner, rx, OpenOptions::default()));
        (Queue(Some(tx)), groups, t)
    }

    fn wait_until(what: impl Fn() -> bool) {
        let started = std::time::Instant::now();
        while !what() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "never happened"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    // Goal: a committed group is answered only after a sync that began after its commit,
    // and the writer commits the next group meanwhile (the disk's flush does not stop it).
    #[test]
    fn a_group_is_answered_after_its_sync_while_the_next_one_commits() {
        let (gate_tx, gate_rx) = crossbeam_channel::unbounded::<()>();
        let syncs = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = syncs.clone();
        let (queue, groups, writer) = start(Box::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            gate_rx.recv().map_err(std::io::Error::other)
        }));
        let first = queue.submit(Command::ExpireHolds).unwrap();
        wait_until(|| syncs.load(std::sync::atomic::Ordering::SeqCst) == 1);
        // The first group's sync hangs: its caller has no answer yet...
        assert!(matches!(
            first.wait_at_most(std::time::Duration::from_millis(50)),
            Err(StoreError::TimedOut(_))
        ));
        // ...while the writer commits a second group.
        let second = queue.submit(Command::ExpireHolds).unwrap();
        wait_until(|| groups.load(std::sync::atomic::Ordering::SeqCst) == 2);
        gate_tx.send(()).unwrap();
        gate_tx.send(()).unwrap();
        assert!(matches!(
            second.wait_at_most(std::time::Duration::from_secs(10)),
            Ok(Reply::Count(2))
        ));
        drop(queue);
        writer.join().unwrap();
        assert_eq!(syncs.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    // Goal: when the disk refuses to sync, the groups waiting for it get an unknown
    // outcome (never a success), and nothing later is committed.
    #[test]
    fn a_failed_sync_answers_unknown_and_stops_the_writer() {
        let (queue, groups, writer) = start(Box::new(|| Err(std::io::Error::other("EIO"))));
        let first = queue.submit(Command::ExpireHolds).unwrap();
        let r = first.wait_at_most(std::time::Duration::from_secs(10));
        assert!(matches!(r, Err(StoreError::TimedOut(_))), "{r:?}");
        let later = queue.submit(Command::ExpireHolds).unwrap();
        let r = later.wait_at_most(std::time::Duration::from_secs(10));
        assert!(
            matches!(&r, Err(StoreError::Sqlite(m)) if m.contains("fsync")),
            "{r:?}"
        );
        assert_eq!(groups.load(std::sync::atomic::Ordering::SeqCst), 1);
        drop(queue);
        writer.join().unwrap();
    }

    // Goal: closing the store answers every group already committed (none is left unheard).
    #[test]
    fn closing_answers_every_committed_group() {
        let (queue, _, writer) = start(Box::new(|| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            Ok(())
        }));
        let waiters: Vec<_> = (0..20)
            .map(|_| queue.submit(Command::ExpireHolds).unwrap())
            .collect();
        drop(queue);
        writer.join().unwrap();
        for w in waiters {
            assert!(matches!(
                w.wait_at_most(std::time::Duration::from_millis(1)),
                Ok(Reply::Count(_))
            ));
        }
    }
}
