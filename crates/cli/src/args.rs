//! The command line (clap). Secrets are never arguments: passwords and PINs come from the
//! environment or a prompt.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Suanpan (算盘): POS acquiring host — transactions, voids, refunds, settlement, receipts.
#[derive(Debug, Parser)]
#[command(name = "suanpan", version, about)]
pub struct Cli {
    /// Data directory (the embedded store and its key).
    #[arg(
        long,
        global = true,
        env = "SUANPAN_DATA_DIR",
        default_value = "./suanpan-data"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL database (`postgres://user@host:port/db`) instead of the embedded store in
    /// the data directory (which still holds pan.key and suanpan.toml). Also `database = …`
    /// in the config file.
    #[arg(long, global = true, env = "SUANPAN_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
    /// The key-encryption key (KEK) file every stored key is wrapped under; it must lie
    /// outside the data directory. Also `kek_file = …` in the config file. Default:
    /// `<data dir>.kek` beside the data directory.
    #[arg(long, global = true, env = "SUANPAN_KEK_FILE")]
    pub kek_file: Option<PathBuf>,
    /// A PKCS#11 module (HSM) to keep the KEK and the terminal master keys in, instead of a
    /// KEK file, e.g. /usr/lib/softhsm/libsofthsm2.so. Also `pkcs11_module = …` in the
    /// config file. The token's user PIN is read from SUANPAN_PKCS11_PIN only.
    #[arg(long, global = true, env = "SUANPAN_PKCS11_MODULE")]
    pub pkcs11_module: Option<PathBuf>,
    /// The label of the PKCS#11 token (default `suanpan`). Also `pkcs11_token = …`.
    #[arg(long, global = true, env = "SUANPAN_PKCS11_TOKEN")]
    pub pkcs11_token: Option<String>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
    /// Language of messages and receipts.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "SUANPAN_LANG",
        default_value = "zh"
    )]
    pub lang: LangArg,
    #[command(subcommand)]
    pub command: Top,
}

/// Message language.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LangArg {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Top {
    /// Create the store (with --demo: demo merchant, terminal, operators, cards, wallets).
    Init {
        /// Seed demo data.
        #[arg(long)]
        demo: bool,
    },
    /// Demo helpers.
    #[command(subcommand)]
    Demo(DemoCmd),
    /// Transactions.
    #[command(subcommand)]
    Txn(TxnCmd),
    /// Batches and settlement.
    #[command(subcommand)]
    Batch(BatchCmd),
    /// Receipts.
    #[command(subcommand)]
    Receipt(ReceiptCmd),
    /// Export transactions to CSV (UTF-8 with BOM) or XLSX.
    Export(ExportArgs),
    /// Audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Backups.
    #[command(subcommand)]
    Backup(BackupCmd),
    /// Operators.
    #[command(subcommand)]
    Operator(OperatorCmd),
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Checks the store: audit chain, money conservation.
    Check,
    /// Run the POS center: the 8583 listener, the scheduler, /healthz and /metrics.
    Serve(crate::cmd_serve::ServeArgs),
    /// Load generator and baseline server.
    #[command(subcommand)]
    Bench(crate::cmd_bench::BenchCmd),
    /// The cashier terminal emulator (POS) against a running `serve`.
    Terminal(crate::cmd_terminal::TerminalArgs),
    /// The deterministic simulation: terminals, a faulty network, host crashes; checked to
    /// the fen (`--seed S` replays one seed, `--seeds N` runs many).
    Sim(crate::cmd_sim::SimArgs),
    /// The card network as its own process (ISO 8583:1987 switch profile, its own ledger,
    /// fault knobs, daily clearing file) for `serve --upstream`.
    SwitchSim(crate::cmd_switch::SwitchArgs),
    /// The key-encryption key (KEK): make one, rotate it.
    #[command(subcommand)]
    Keys(KeysCmd),
}

/// `keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Make a new KEK file (0600) at --kek-file / SUANPAN_KEK_FILE / kek_file = (default
    /// `<data dir>.kek`); refuses to overwrite one. With --pkcs11: make the KEK and the
    /// derivation key inside the HSM token (--pkcs11-module, --pkcs11-token,
    /// SUANPAN_PKCS11_PIN) instead.
    Init {
        /// Make the KEK in the PKCS#11 token.
        #[arg(long)]
        pkcs11: bool,
    },
    /// Make a new KEK and re-wrap every stored key under it (terminal master keys, TOTP
    /// secrets, pan.key); the old KEK is kept beside it as `<kek>.retired-<id>` for the
    /// backups made under it. Run again to finish an interrupted rotation. With
    /// --to-pkcs11: move from the KEK file to the HSM (the TMKs become token objects).
    RotateKek {
        /// Move to the PKCS#11 token's KEK (made by `keys init --pkcs11`).
        #[arg(long)]
        to_pkcs11: bool,
    },
}

/// `demo …`
#[derive(Debug, Subcommand)]
pub enum DemoCmd {
    /// List demo cards and wallets with the outcome each produces.
    Cards,
    /// A scripted day at the counter: sales, a declined card, a void, a partial refund,
    /// settlement, with receipts.
    Run,
    /// The demo terminal id, merchant id and terminal master key (hex).
    Keys,
}

/// Who is at the counter.
#[derive(Debug, Clone, Args)]
pub struct Counter {
    /// Terminal id (终端号).
    #[arg(long)]
    pub terminal: String,
    /// Acting operator no. (01–98 cashier, 00 supervisor). Password: SUANPAN_OPERATOR_PASSWORD or prompt.
    #[arg(long)]
    pub operator: String,
    /// Training mode: flagged, moves no money, never settled.
    #[arg(long)]
    pub training: bool,
    /// Voucher no. (STAN) chosen by the caller; an identical retry with the same no. is
    /// answered with the stored result. Default: the host assigns the next one.
    #[arg(long)]
    pub stan: Option<String>,
}

/// Card or wallet.
#[derive(Debug, Clone, Args)]
pub struct Payment {
    /// Card number (PAN). PIN, if the card needs one: SUANPAN_PIN or prompt (--pin).
    #[arg(long, conflicts_with = "wallet")]
    pub card: Option<String>,
    /// Card expiry YYMM.
    #[arg(long, requires = "card")]
    pub expiry: Option<String>,
    /// QR wallet id.
    #[arg(long)]
    pub wallet: Option<String>,
    /// Payment method (default: chip for cards, the wallet's QR network for wallets).
    #[arg(long)]
    pub method: Option<String>,
    /// Ask for the card PIN (from SUANPAN_PIN or a prompt).
    #[arg(long)]
    pub pin: bool,
}

/// Names an original transaction.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct OriginalArg {
    /// Voucher no. (凭证号) on this terminal.
    #[arg(long)]
    pub voucher: Option<String>,
    /// Reference no. (参考号).
    #[arg(long)]
    pub rrn: Option<String>,
    /// Store id.
    #[arg(long)]
    pub id: Option<i64>,
}

/// `txn …`
#[derive(Debug, Subcommand)]
pub enum TxnCmd {
    /// Sale (消费).
    Sale {
        #[command(flatten)]
        counter: Counter,
        /// Amount in yuan, e.g. 12.50.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        payment: Payment,
        /// Link to an earlier transaction (re-charge after a mistaken void).
        #[arg(long)]
        link: Option<i64>,
        /// Confirm a sale flagged as a possible duplicate charge (same card, same amount,
        /// within `[risk] duplicate_minutes`; issue 13).
        #[arg(long)]
        confirm_duplicate: bool,
    },
    /// Pre-authorization (预授权).
    Preauth {
        #[command(flatten)]
        counter: Counter,
        /// Amount in yuan.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        payment: Payment,
    },
    /// Balance inquiry (余额查询).
    Balance {
        #[command(flatten)]
        counter: Counter,
        #[command(flatten)]
        payment: Payment,
    },
    /// Sale void (消费撤销): same batch, full amount, once, supervisor-authorized.
    Void(VoidArgs),
    /// Completion void (预授权完成撤销).
    CompleteVoid(VoidArgs),
    /// Refund (退货): partial and repeated up to the original.
    Refund {
        #[command(flatten)]
        counter: Counter,
        /// Supervisor no. (00). Password: SUANPAN_SUPERVISOR_PASSWORD or prompt.
        #[arg(long)]
        supervisor: String,
        #[command(flatten)]
        original: OriginalArg,
        /// Amount in yuan.
        #[arg(long)]
        amount: String,
        /// Reason.
        #[arg(long)]
        reason: String,
    },
    /// Pre-auth void (预授权撤销).
    PreauthVoid {
        #[command(flatten)]
        counter: Counter,
        /// Supervisor no. (00).
        #[arg(long)]
        supervisor: String,
        #[command(flatten)]
        original: OriginalArg,
        /// Amount in yuan (must equal the pre-authorization).
        #[arg(long)]
        amount: Option<String>,
        /// Reason.
        #[arg(long)]
        reason: String,
    },
    /// Pre-auth completion (预授权完成).
    Complete {
        #[command(flatten)]
        counter: Counter,
        #[command(flatten)]
        original: OriginalArg,
        /// Amount in yuan (≤ 115% of the hold).
        #[arg(long)]
        amount: String,
    },
    /// Reversal (冲正) of a transaction of the open batch whose response never arrived.
    Reverse {
        /// Terminal id.
        #[arg(long)]
        terminal: String,
        /// Voucher no. of the transaction to reverse.
        #[arg(long)]
        voucher: String,
        /// Operator no. recorded on the reversal.
        #[arg(long, default_value = "01")]
        operator: String,
        /// Reason code: 98 no response, 96 terminal fault, 06 other.
        #[arg(long, default_value = "98")]
        reason: String,
    },
    /// List transactions, newest first.
    List(ListArgs),
    /// One transaction with its history and refundable amount.
    Show {
        /// Store id.
        id: i64,
    },
    /// Hide a record (删除交易记录): admin 99 only, reason required; kept for retention.
    Hide {
        /// Store id.
        id: i64,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Acting operator (must be 99). Password: SUANPAN_OPERATOR_PASSWORD or prompt.
        #[arg(long, default_value = "99")]
        operator: String,
    },
    /// Physically delete records older than the retention period (after an automatic backup).
    Purge {
        /// Merchant id.
        #[arg(long)]
        merchant: String,
        /// Delete records created before this date (YYYY-MM-DD).
        #[arg(long)]
        before: String,
        /// Acting operator (must be 99).
        #[arg(long, default_value = "99")]
        operator: String,
        /// Why (kept in the audit trail).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// Void arguments.
#[derive(Debug, Clone, Args)]
pub struct VoidArgs {
    #[command(flatten)]
    pub counter: Counter,
    /// Supervisor no. (00). Password: SUANPAN_SUPERVISOR_PASSWORD or prompt.
    #[arg(long)]
    pub supervisor: String,
    #[command(flatten)]
    pub original: OriginalArg,
    /// Reason (e.g. 顾客取消 / 金额输错 / 重复收款, or free text).
    #[arg(long)]
    pub reason: String,
    /// The customer agreed to the void.
    #[arg(long)]
    pub customer_consent: bool,
    /// Amount in yuan (optional; must equal the original).
    #[arg(long)]
    pub amount: Option<String>,
    /// Present the original card again (when policy requires it).
    #[arg(long)]
    pub card: Option<String>,
}

/// Filters for list and export.
#[derive(Debug, Clone, Args, Default)]
pub struct FilterArgs {
    /// From date (YYYY-MM-DD, merchant's time zone), inclusive.
    #[arg(long)]
    pub from: Option<String>,
    /// To date (YYYY-MM-DD), inclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Minimum amount in yuan.
    #[arg(long)]
    pub min: Option<String>,
    /// Maximum amount in yuan.
    #[arg(long)]
    pub max: Option<String>,
    /// Kind (sale, void, refund, preauth, preauth_void, completion, completion_void, balance, reversal).
    #[arg(long)]
    pub kind: Option<String>,
    /// Status (approved, declined, voided, partially_refunded, refunded, reversed, completed, expired).
    #[arg(long)]
    pub status: Option<String>,
    /// Method (magstripe, chip, contactless, manual, qr_alipay, qr_wechat, qr_unionpay).
    #[arg(long)]
    pub method: Option<String>,
    /// Voucher no.
    #[arg(long)]
    pub voucher: Option<String>,
    /// Reference no.
    #[arg(long)]
    pub rrn: Option<String>,
    /// Operator no.
    #[arg(long)]
    pub operator: Option<String>,
    /// Terminal id.
    #[arg(long)]
    pub terminal: Option<String>,
    /// The card's last four digits (卡号后四位).
    #[arg(long)]
    pub last4: Option<String>,
    /// A QR wallet's id: that wallet's payments.
    #[arg(long)]
    pub wallet: Option<String>,
    /// Include hidden (deleted) records.
    #[arg(long)]
    pub include_hidden: bool,
}

/// `txn list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Rows per page.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Rows to skip (slow deep in a big journal: prefer --cursor).
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
    /// Only rows older than this id: the `next_cursor` of the previous page (keyset paging).
    #[arg(long)]
    pub cursor: Option<i64>,
}

/// `batch …`
#[derive(Debug, Subcommand)]
pub enum BatchCmd {
    /// The open batch of a terminal with its running totals.
    Status {
        /// Terminal id.
        #[arg(long)]
        terminal: String,
    },
    /// Settle (批结算) a terminal's open batch, or every due batch.
    Settle {
        /// Terminal id.
        #[arg(long, required_unless_present = "all_due")]
        terminal: Option<String>,
        /// The terminal's own totals: DEBIT_YUAN,DEBIT_COUNT,CREDIT_YUAN,CREDIT_COUNT.
        #[arg(long)]
        totals: Option<String>,
        /// Settle every batch whose business day passed the cutoff.
        #[arg(long, conflicts_with_all = ["terminal", "totals"])]
        all_due: bool,
        /// Operator settling.
        #[arg(long, default_value = "00")]
        operator: String,
        /// Receipt width for the settlement slip.
        #[arg(long, default_value_t = 32)]
        width: u32,
    },
    /// Release pre-authorization holds past their hold days.
    ExpireHolds,
}

/// `receipt …`
#[derive(Debug, Subcommand)]
pub enum ReceiptCmd {
    /// Print a transaction's receipt.
    Print {
        /// Store id.
        id: i64,
        /// merchant or cardholder.
        #[arg(long, default_value = "merchant")]
        copy: String,
        /// 32 or 48 columns.
        #[arg(long, default_value_t = 32)]
        width: u32,
        /// Mark as reprint (重打印), audited.
        #[arg(long)]
        reprint: bool,
    },
}

/// `export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// csv or xlsx.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output file.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// Write the stable codes (sale, voided, contactless, 00) for programs instead of words
    /// in --lang (消费, 已撤销, 闪付, 00 交易成功).
    #[arg(long)]
    pub raw: bool,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// UTF-8 CSV with BOM (opens in Excel with Chinese intact).
    Csv,
    /// Excel workbook.
    Xlsx,
}

/// `audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Recompute the SHA-256 chain; names the first broken entry.
    Verify,
    /// List entries, newest first.
    List {
        /// Entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Skip.
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
}

/// `backup …`
#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Online backup with a SHA-256 manifest.
    Create {
        /// Output directory (default DATA_DIR/backups).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Verify a backup against its manifest.
    Verify {
        /// The backup's .db file.
        file: PathBuf,
    },
    /// Restore a verified backup into the data directory.
    Restore {
        /// The backup's .db file.
        file: PathBuf,
        /// Overwrite a live store (it is backed up first).
        #[arg(long)]
        force: bool,
    },
}

/// `operator …`
#[derive(Debug, Subcommand)]
pub enum OperatorCmd {
    /// Change a password: your own (old from SUANPAN_OPERATOR_PASSWORD or prompt), or, as 99/00,
    /// another operator's. New password from SUANPAN_NEW_PASSWORD or prompt.
    Passwd {
        /// Merchant id.
        #[arg(long)]
        merchant: String,
        /// Acting operator.
        #[arg(long)]
        operator: String,
        /// Whose password (default: your own).
        #[arg(long)]
        target: Option<String>,
    },
    /// Add an operator (acting operator 99). New password from SUANPAN_NEW_PASSWORD or prompt.
    Add {
        /// Merchant id.
        #[arg(long)]
        merchant: String,
        /// Acting operator (99).
        #[arg(long, default_value = "99")]
        operator: String,
        /// New operator no.
        #[arg(long)]
        no: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
    },
}

/// `admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Terminals.
    #[command(subcommand)]
    Terminal(TerminalCmd),
    /// Write a self-signed certificate and key for the back-office over HTTPS (development
    /// only; browsers warn about it). Existing files are never overwritten.
    DevCert {
        /// Directory for backoffice-cert.pem and backoffice-key.pem (default DATA_DIR/tls).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Back-office users (the web UI and /api/v1).
    #[command(subcommand)]
    User(UserCmd),
    /// Merchants (商户进件): onboard, list, show, suspend, activate.
    #[command(subcommand)]
    Merchant(MerchantCmd),
    /// A merchant's counter operators (99 admin, 00 supervisor, 01–98 cashiers).
    #[command(subcommand)]
    Operator(MerchantOperatorCmd),
    /// The acquirer's own back-office users (platform admin, operations, risk officer,
    /// auditor).
    #[command(subcommand, name = "acquirer-user")]
    AcquirerUser(AcquirerUserCmd),
    /// Copy the embedded store (the data directory's suanpan.db, with the back-office's
    /// records) into the empty PostgreSQL database named by --database / SUANPAN_DATABASE,
    /// creating its tables: one node becomes several. Refused while another process (serve)
    /// has the store open, and when the target holds anything. Every PostgreSQL node keeps
    /// using this data directory's pan.key and the same KEK.
    #[command(name = "copy-to-postgres")]
    CopyToPostgres,
}

/// `admin merchant …`: the CLI acts as the platform, so a change needs no second reviewer.
#[derive(Debug, Subcommand)]
pub enum MerchantCmd {
    /// Onboard a merchant; it stays pending (its terminals refused) until activated.
    Add {
        /// Merchant id (15 digits).
        #[arg(long)]
        id: String,
        /// Legal name.
        #[arg(long)]
        name: String,
        /// Short name for slips (default: the legal name).
        #[arg(long)]
        short_name: Option<String>,
        /// Merchant category code (4 digits).
        #[arg(long)]
        mcc: Option<String>,
        /// Address.
        #[arg(long, default_value = "")]
        address: String,
        /// Contact (name, phone).
        #[arg(long, default_value = "")]
        contact: String,
    },
    /// Every merchant with its status.
    List,
    /// One merchant.
    Show {
        /// Merchant id (15 digits).
        #[arg(long)]
        id: String,
    },
    /// Suspend a merchant: its terminals are refused, its back-office is read-only.
    Suspend {
        /// Merchant id (15 digits).
        #[arg(long)]
        id: String,
        /// Why (audited).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Activate a pending merchant or reinstate a suspended one.
    Activate {
        /// Merchant id (15 digits).
        #[arg(long)]
        id: String,
        /// Why (audited).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// `admin operator …`
#[derive(Debug, Subcommand)]
pub enum MerchantOperatorCmd {
    /// Give a merchant a counter operator. Password (4–12 digits): SUANPAN_NEW_PASSWORD or
    /// prompt.
    Add {
        /// Merchant id (15).
        #[arg(long)]
        merchant: String,
        /// Operator no. (2 digits).
        #[arg(long)]
        no: String,
        /// cashier, supervisor or admin: the role the number implies.
        #[arg(long)]
        role: String,
        /// Name.
        #[arg(long, default_value = "")]
        name: String,
    },
}

/// `admin acquirer-user …`
#[derive(Debug, Subcommand)]
pub enum AcquirerUserCmd {
    /// Create an acquirer user. Password: SUANPAN_NEW_PASSWORD or prompt (8+ characters).
    /// They enrol TOTP at their first login.
    Add {
        /// Login name (letters, digits, `._-`).
        #[arg(long)]
        username: String,
        /// platform_admin, operations, risk_officer or acquirer_auditor.
        #[arg(long)]
        role: String,
        /// Display name.
        #[arg(long)]
        name: String,
    },
}

/// `admin user …`
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a back-office user. Password: SUANPAN_NEW_PASSWORD or prompt (8+ characters).
    Add {
        /// Login name (letters, digits, `._-`).
        #[arg(long)]
        username: String,
        /// cashier, supervisor, finance, admin or auditor.
        #[arg(long)]
        role: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Merchant id (15).
        #[arg(long)]
        merchant: String,
        /// The counter operator no. the user books as (cashiers and supervisors).
        #[arg(long)]
        operator: Option<String>,
    },
    /// List a merchant's back-office users.
    List {
        /// Merchant id (15).
        #[arg(long)]
        merchant: String,
    },
}

/// `admin terminal …`
#[derive(Debug, Subcommand)]
pub enum TerminalCmd {
    /// Register a terminal (its TMK too when SUANPAN_TMK holds 32 hex digits).
    Add {
        /// Terminal id (8).
        #[arg(long)]
        id: String,
        /// Merchant id (15).
        #[arg(long)]
        merchant: String,
        /// Merchant name (registers the merchant if new).
        #[arg(long)]
        merchant_name: Option<String>,
        /// MAC algorithm: ecb (UnionPay POS ECB, the default) or x919 (ANSI X9.19, needs a
        /// terminal that supports it; see docs/ISO8583.md).
        #[arg(long)]
        mac: Option<String>,
    },
    /// Set a terminal's MAC algorithm (ecb or x919); it takes effect at its next sign-in.
    SetMac {
        /// Terminal id.
        #[arg(long)]
        id: String,
        /// ecb or x919.
        #[arg(long)]
        mac: String,
    },
    /// List terminals.
    List,
    /// Disable a terminal.
    Disable {
        /// Terminal id.
        id: String,
    },
    /// Enable a terminal.
    Enable {
        /// Terminal id.
        id: String,
    },
    /// Load a terminal master key (TMK). Key: SUANPAN_TMK (32 hex digits) or prompt.
    SetTmk {
        /// Terminal id.
        #[arg(long)]
        id: String,
    },
}
