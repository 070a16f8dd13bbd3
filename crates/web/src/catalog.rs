//! The back-office's own texts (zh-CN first, English second): web error messages and UI
//! labels. Rule refusals keep their texts in the core's catalogs; a test checks that both
//! languages here have the same keys.

use suanpan_core::Lang;

/// Looks `key` up and substitutes `{0}`, `{1}`…; a missing key returns the key itself (and
/// the catalog test fails).
pub fn tf(lang: Lang, key: &str, args: &[String]) -> String {
    let mut out = t(lang, key).to_owned();
    for (i, a) in args.iter().enumerate() {
        out = out.replace(&format!("{{{i}}}"), a);
    }
    out
}

/// Looks `key` up without arguments.
pub fn t(lang: Lang, key: &str) -> &str {
    let catalog = match lang {
        Lang::Zh => ZH,
        Lang::En => EN,
    };
    catalog
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .unwrap_or(key)
}

/// True when `key` is in both catalogs.
#[cfg(test)]
pub fn has(key: &str) -> bool {
    ZH.iter().any(|(k, _)| *k == key) && EN.iter().any(|(k, _)| *k == key)
}

type Catalog = &'static [(&'static str, &'static str)];

static ZH: Catalog = &[
    // Errors: `.msg` what happened, `.fix` what to do.
    ("auth.required.msg", "请先登录"),
    ("auth.required.fix", "使用后台账号登录后重试"),
    ("auth.session_expired.msg", "登录已过期"),
    ("auth.session_expired.fix", "请重新登录"),
    ("auth.bad_token.msg", "API 令牌无效或已吊销"),
    (
        "auth.bad_token.fix",
        "请使用有效的令牌（Authorization: Bearer …）",
    ),
    ("auth.wrong_login.msg", "用户名或密码错误"),
    (
        "auth.wrong_login.fix",
        "请核对后重新输入；连续输错将锁定账号",
    ),
    ("auth.locked.msg", "账号已锁定，至 {0} 解锁"),
    ("auth.locked.fix", "请稍后再试，或联系管理员"),
    ("auth.rate_limited.msg", "登录尝试过于频繁"),
    ("auth.rate_limited.fix", "请一分钟后再试"),
    ("auth.csrf.msg", "缺少或无效的安全令牌（CSRF）"),
    (
        "auth.csrf.fix",
        "刷新页面后重新提交；API 调用请带 X-CSRF-Token 头",
    ),
    ("auth.forbidden.msg", "当前角色（{0}）无权执行此操作"),
    ("auth.forbidden.fix", "请由有权限的用户操作"),
    (
        "auth.no_operator.msg",
        "该账号未关联收银操作员，不能发起交易",
    ),
    ("auth.no_operator.fix", "请使用收银员或主管账号"),
    ("auth.totp_required.msg", "管理员登录须输入动态验证码"),
    (
        "auth.totp_required.fix",
        "打开身份验证器 App，输入 6 位动态码",
    ),
    ("auth.totp_wrong.msg", "动态验证码错误或已使用"),
    (
        "auth.totp_wrong.fix",
        "请输入 App 当前显示的 6 位动态码；连续输错将锁定账号",
    ),
    (
        "auth.totp_enrol_required.msg",
        "管理员须先绑定动态验证码（TOTP）",
    ),
    (
        "auth.totp_enrol_required.fix",
        "打开 /totp/enrol 扫码绑定后再操作",
    ),
    ("auth.totp_enrolled.msg", "该账号无需绑定或已绑定动态验证码"),
    ("auth.totp_enrolled.fix", "如需更换，请联系另一位管理员"),
    ("totp.title", "绑定动态验证码"),
    (
        "totp.intro",
        "管理员账号须使用动态验证码登录。请用身份验证器 App 扫描二维码（或手动输入密钥），然后输入 App 显示的 6 位动态码。",
    ),
    ("totp.secret", "密钥"),
    ("totp.code", "动态码"),
    ("totp.submit", "绑定"),
    ("login.totp", "动态码（管理员）"),
    (
        "json.content_type.msg",
        "请求体必须是 JSON（Content-Type: application/json）",
    ),
    (
        "json.content_type.fix",
        "设置 Content-Type: application/json 后重试",
    ),
    ("json.malformed.msg", "JSON 格式错误：{0}"),
    ("json.malformed.fix", "请检查请求体的 JSON 语法"),
    ("json.unknown_field.msg", "请求中有未知字段：{0}"),
    (
        "json.unknown_field.fix",
        "删除该字段后重试，字段见 /api/v1/openapi.json",
    ),
    ("json.invalid.msg", "请求内容无效：{0}"),
    ("json.invalid.fix", "按 /api/v1/openapi.json 的格式提交"),
    ("json.amount_float.msg", "金额不能是小数形式的数字"),
    (
        "json.amount_float.fix",
        "金额请用整数（分），例如 8800，或字符串元，例如 \"88.00\"",
    ),
    ("json.amount_decimals.msg", "金额最多两位小数"),
    ("json.amount_decimals.fix", "例如 \"88.00\" 或整数分 8800"),
    ("json.amount_invalid.msg", "金额无效：{0}"),
    (
        "json.amount_invalid.fix",
        "金额请用整数（分）或字符串元，例如 \"88.00\"",
    ),
    ("input.invalid.msg", "输入无效：{0}"),
    ("input.invalid.fix", "请按提示更正后重试"),
    ("idem.conflict.msg", "该幂等键已用于另一笔不同的请求"),
    ("idem.conflict.fix", "新请求请使用新的 Idempotency-Key"),
    ("idem.in_flight.msg", "使用该幂等键的请求仍在处理中"),
    ("idem.in_flight.fix", "稍候以相同请求重试，将返回原结果"),
    (
        "idem.bad_key.msg",
        "Idempotency-Key 无效（1–128 个可见 ASCII 字符）",
    ),
    ("idem.bad_key.fix", "使用例如 UUID 作为幂等键"),
    ("txn.not_found.msg", "找不到该交易"),
    ("txn.not_found.fix", "请核对交易编号"),
    ("txn.void_amount.msg", "撤销金额必须等于原交易金额 {0}"),
    (
        "txn.void_amount.fix",
        "不填金额即按原金额撤销；部分退款请提交退货申请",
    ),
    ("request.not_found.msg", "找不到该申请"),
    ("request.not_found.fix", "请核对申请编号"),
    ("request.changed.msg", "该申请刚被他人处理，状态已变化"),
    ("request.changed.fix", "刷新页面查看最新状态"),
    ("route.not_found.msg", "没有这个页面或接口"),
    ("route.not_found.fix", "接口列表见 /api/v1/openapi.json"),
    ("store.busy.msg", "系统繁忙，未保存任何内容"),
    ("store.busy.fix", "请稍后重试"),
    ("store.error.msg", "系统内部错误，未保存任何内容"),
    (
        "store.error.fix",
        "请稍后重试；如持续出现请联系管理员（详情见服务日志）",
    ),
    ("terminal.none.msg", "商户没有可用的终端"),
    (
        "terminal.none.fix",
        "请在请求中指定 terminal_id，或由管理员登记终端",
    ),
    ("payment.declined.msg", "发卡行拒绝：{0}"),
    ("payment.declined.fix", "请换卡或换支付方式"),
    // UI labels.
    ("app.title", "算盘商户后台"),
    ("nav.dashboard", "仪表盘"),
    ("nav.transactions", "交易查询"),
    ("nav.review", "审核队列"),
    ("nav.batches", "批次结算"),
    ("nav.audit", "审计日志"),
    ("nav.logout", "退出"),
    ("nav.lang_other", "English"),
    ("login.title", "登录"),
    ("login.username", "用户名"),
    ("login.password", "密码"),
    ("login.submit", "登录"),
    (
        "login.demo",
        "演示账号见 README（例如 supervisor / supervisor-demo）",
    ),
    ("dash.today", "今日（营业日）"),
    ("dash.sales", "销售笔数"),
    ("dash.volume", "销售金额"),
    ("dash.voids", "撤销"),
    ("dash.refunds", "退货"),
    ("dash.pending", "待审核申请"),
    ("dash.by_hour", "每小时交易金额（元）"),
    ("dash.by_operator", "各操作员撤销/退货笔数（撤销滥用信号）"),
    ("dash.no_data", "暂无数据"),
    ("txn.filters", "筛选"),
    ("txn.from", "起始日期"),
    ("txn.to", "截止日期"),
    ("txn.min", "最小金额(元)"),
    ("txn.max", "最大金额(元)"),
    ("txn.kind", "类型"),
    ("txn.status", "状态"),
    ("txn.voucher", "凭证号"),
    ("txn.rrn", "参考号"),
    ("txn.operator", "操作员"),
    ("txn.terminal", "终端号"),
    ("txn.include_hidden", "包含已删除记录"),
    ("txn.search", "查询"),
    ("txn.export_csv", "导出 CSV"),
    ("txn.export_xlsx", "导出 XLSX"),
    ("txn.next_page", "下一页"),
    ("txn.first_page", "第一页"),
    ("txn.none", "没有符合条件的交易"),
    ("txn.id", "编号"),
    ("txn.time", "时间"),
    ("txn.amount", "金额"),
    ("txn.card", "卡号/钱包"),
    ("txn.refundable", "可退金额"),
    ("txn.hidden", "已删除"),
    ("txn.detail", "交易详情"),
    ("txn.timeline", "时间线"),
    ("txn.receipt", "签购单"),
    ("txn.actions", "操作"),
    ("txn.requests", "撤销/退货申请"),
    ("txn.children", "关联交易"),
    ("txn.original", "原交易"),
    ("act.request_void", "提交撤销申请"),
    ("act.request_refund", "提交退货申请"),
    ("act.reason", "原因"),
    ("act.consent", "顾客已同意撤销"),
    ("act.refund_amount", "退货金额(元)"),
    ("act.hide", "删除（隐藏）记录"),
    (
        "act.confirm_void",
        "确认提交撤销申请？经他人审核批准后，全额退回持卡人，原交易变为已撤销，不可恢复。",
    ),
    (
        "act.confirm_refund",
        "确认提交退货申请？经审核批准后，所填金额将退回持卡人，不可恢复。",
    ),
    (
        "act.confirm_hide",
        "确认删除该记录？记录将从列表中隐藏（审计员仍可查看），操作将写入审计日志。",
    ),
    (
        "act.confirm_approve",
        "确认批准？批准后将执行撤销/退货，款项退回持卡人；宽限期内您可撤销批准。",
    ),
    ("act.confirm_reject", "确认驳回该申请？申请人需重新提交。"),
    ("act.confirm_cancel", "确认撤回该申请？"),
    ("act.confirm_undo", "确认撤销批准？申请将不再执行。"),
    ("rev.approve", "批准"),
    ("rev.reject", "驳回"),
    ("rev.cancel", "撤回"),
    ("rev.undo", "撤销批准"),
    ("rev.comment", "审核意见"),
    ("rev.kind", "类型"),
    ("rev.submitter", "申请人"),
    ("rev.reviewer", "审核人"),
    ("rev.status", "状态"),
    ("rev.none", "没有申请"),
    ("rev.all", "全部"),
    ("rev.execute_after", "执行时间"),
    ("rev.result", "结果"),
    ("batch.terminal", "终端号"),
    ("batch.no", "批次号"),
    ("batch.opened", "开启时间"),
    ("batch.settled", "结算时间"),
    ("batch.open", "未结算"),
    ("batch.debit", "借记"),
    ("batch.credit", "贷记"),
    ("batch.reconciliation", "对账结果"),
    ("audit.verify", "校验审计链"),
    ("audit.ok", "审计链完整：共 {0} 条"),
    ("audit.broken", "审计链在第 {0} 条断开：{1}"),
    ("audit.actor", "操作者"),
    ("audit.action", "动作"),
    ("audit.target", "对象"),
    ("audit.outcome", "结果"),
    ("msg.title", "结果"),
    ("msg.back", "返回"),
    ("msg.submitted", "申请 #{0} 已提交，状态：{1}"),
    ("msg.reviewed", "申请 #{0} 状态：{1}"),
    ("msg.hidden", "交易 #{0} 已删除（隐藏）"),
    ("msg.error", "操作未完成"),
    ("status.pending", "待审核"),
    ("status.approved", "已批准（宽限期内）"),
    ("status.executing", "执行中"),
    ("status.executed", "已执行"),
    ("status.failed", "执行失败"),
    ("status.rejected", "已驳回"),
    ("status.cancelled", "已撤回"),
    ("status.undone", "已撤销批准"),
    ("tstatus.approved", "成功"),
    ("tstatus.declined", "拒绝"),
    ("tstatus.voided", "已撤销"),
    ("tstatus.partially_refunded", "部分退货"),
    ("tstatus.refunded", "已退货"),
    ("tstatus.reversed", "已冲正"),
    ("tstatus.completed", "已完成"),
    ("tstatus.expired", "已过期"),
    ("kind.sale", "消费"),
    ("kind.void", "消费撤销"),
    ("kind.refund", "退货"),
    ("kind.preauth", "预授权"),
    ("kind.preauth_void", "预授权撤销"),
    ("kind.completion", "预授权完成"),
    ("kind.completion_void", "预授权完成撤销"),
    ("kind.balance", "余额查询"),
    ("kind.reversal", "冲正"),
];

static EN: Catalog = &[
    ("auth.required.msg", "Please log in"),
    (
        "auth.required.fix",
        "Log in with a back-office account and retry",
    ),
    ("auth.session_expired.msg", "Your session has expired"),
    ("auth.session_expired.fix", "Log in again"),
    ("auth.bad_token.msg", "The API token is invalid or revoked"),
    (
        "auth.bad_token.fix",
        "Use a valid token (Authorization: Bearer …)",
    ),
    ("auth.wrong_login.msg", "Wrong user name or password"),
    (
        "auth.wrong_login.fix",
        "Check and retry; repeated failures lock the account",
    ),
    ("auth.locked.msg", "The account is locked until {0}"),
    ("auth.locked.fix", "Try again later or ask an admin"),
    ("auth.rate_limited.msg", "Too many login attempts"),
    ("auth.rate_limited.fix", "Wait a minute and retry"),
    (
        "auth.csrf.msg",
        "The security token (CSRF) is missing or invalid",
    ),
    (
        "auth.csrf.fix",
        "Reload the page and submit again; API calls send the X-CSRF-Token header",
    ),
    ("auth.forbidden.msg", "Your role ({0}) may not do this"),
    ("auth.forbidden.fix", "Ask a user with that permission"),
    (
        "auth.no_operator.msg",
        "This account is not linked to a counter operator and cannot transact",
    ),
    (
        "auth.no_operator.fix",
        "Use a cashier or supervisor account",
    ),
    (
        "auth.totp_required.msg",
        "Admins log in with a one-time code",
    ),
    (
        "auth.totp_required.fix",
        "Open your authenticator app and enter its 6-digit code",
    ),
    ("auth.totp_wrong.msg", "Wrong or already used one-time code"),
    (
        "auth.totp_wrong.fix",
        "Enter the 6-digit code the app shows now; repeated failures lock the account",
    ),
    (
        "auth.totp_enrol_required.msg",
        "Admins must set up one-time codes (TOTP) first",
    ),
    (
        "auth.totp_enrol_required.fix",
        "Open /totp/enrol, scan the code, then continue",
    ),
    (
        "auth.totp_enrolled.msg",
        "This account needs no enrolment or is enrolled already",
    ),
    ("auth.totp_enrolled.fix", "To replace it, ask another admin"),
    ("totp.title", "Set up one-time codes"),
    (
        "totp.intro",
        "Admin accounts log in with one-time codes. Scan the QR code with an authenticator app (or type the secret), then enter the 6-digit code it shows.",
    ),
    ("totp.secret", "Secret"),
    ("totp.code", "Code"),
    ("totp.submit", "Enrol"),
    ("login.totp", "One-time code (admins)"),
    (
        "json.content_type.msg",
        "The request body must be JSON (Content-Type: application/json)",
    ),
    (
        "json.content_type.fix",
        "Set Content-Type: application/json and retry",
    ),
    ("json.malformed.msg", "Malformed JSON: {0}"),
    ("json.malformed.fix", "Check the request body's JSON syntax"),
    (
        "json.unknown_field.msg",
        "Unknown field in the request: {0}",
    ),
    (
        "json.unknown_field.fix",
        "Remove it and retry; fields are listed in /api/v1/openapi.json",
    ),
    ("json.invalid.msg", "Invalid request: {0}"),
    (
        "json.invalid.fix",
        "Send the shape described in /api/v1/openapi.json",
    ),
    (
        "json.amount_float.msg",
        "An amount cannot be a number with a fraction",
    ),
    (
        "json.amount_float.fix",
        "Send integer fen, e.g. 8800, or a yuan string, e.g. \"88.00\"",
    ),
    (
        "json.amount_decimals.msg",
        "An amount has at most two decimals",
    ),
    (
        "json.amount_decimals.fix",
        "E.g. \"88.00\" or integer fen 8800",
    ),
    ("json.amount_invalid.msg", "Invalid amount: {0}"),
    (
        "json.amount_invalid.fix",
        "Send integer fen or a yuan string, e.g. \"88.00\"",
    ),
    ("input.invalid.msg", "Invalid input: {0}"),
    ("input.invalid.fix", "Correct it as shown and retry"),
    (
        "idem.conflict.msg",
        "This idempotency key was used for a different request",
    ),
    (
        "idem.conflict.fix",
        "Use a new Idempotency-Key for a new request",
    ),
    (
        "idem.in_flight.msg",
        "The request with this idempotency key is still running",
    ),
    (
        "idem.in_flight.fix",
        "Retry the same request shortly to get its result",
    ),
    (
        "idem.bad_key.msg",
        "Invalid Idempotency-Key (1–128 visible ASCII characters)",
    ),
    ("idem.bad_key.fix", "Use e.g. a UUID as the key"),
    ("txn.not_found.msg", "No such transaction"),
    ("txn.not_found.fix", "Check the transaction id"),
    (
        "txn.void_amount.msg",
        "A void is for the original amount {0}",
    ),
    (
        "txn.void_amount.fix",
        "Leave the amount out to void in full; for part, request a refund",
    ),
    ("request.not_found.msg", "No such request"),
    ("request.not_found.fix", "Check the request id"),
    (
        "request.changed.msg",
        "Someone else just acted on this request; its status changed",
    ),
    ("request.changed.fix", "Reload to see its current status"),
    ("route.not_found.msg", "No such page or endpoint"),
    (
        "route.not_found.fix",
        "Endpoints are listed in /api/v1/openapi.json",
    ),
    ("store.busy.msg", "The system is busy; nothing was saved"),
    ("store.busy.fix", "Retry shortly"),
    ("store.error.msg", "Internal error; nothing was saved"),
    (
        "store.error.fix",
        "Retry later; if it persists, ask an admin (details in the server log)",
    ),
    ("terminal.none.msg", "The merchant has no usable terminal"),
    (
        "terminal.none.fix",
        "Give terminal_id in the request, or ask an admin to register one",
    ),
    ("payment.declined.msg", "Declined by the issuer: {0}"),
    ("payment.declined.fix", "Use another card or payment method"),
    ("app.title", "Suanpan Merchant Back-office"),
    ("nav.dashboard", "Dashboard"),
    ("nav.transactions", "Transactions"),
    ("nav.review", "Review queue"),
    ("nav.batches", "Batches"),
    ("nav.audit", "Audit"),
    ("nav.logout", "Log out"),
    ("nav.lang_other", "中文"),
    ("login.title", "Log in"),
    ("login.username", "User name"),
    ("login.password", "Password"),
    ("login.submit", "Log in"),
    (
        "login.demo",
        "Demo accounts are in the README (e.g. supervisor / supervisor-demo)",
    ),
    ("dash.today", "Today (business day)"),
    ("dash.sales", "Sales"),
    ("dash.volume", "Sales volume"),
    ("dash.voids", "Voids"),
    ("dash.refunds", "Refunds"),
    ("dash.pending", "Requests to review"),
    ("dash.by_hour", "Volume by hour (yuan)"),
    (
        "dash.by_operator",
        "Voids/refunds by operator (void-abuse signal)",
    ),
    ("dash.no_data", "No data yet"),
    ("txn.filters", "Filters"),
    ("txn.from", "From"),
    ("txn.to", "To"),
    ("txn.min", "Min (yuan)"),
    ("txn.max", "Max (yuan)"),
    ("txn.kind", "Kind"),
    ("txn.status", "Status"),
    ("txn.voucher", "Voucher no."),
    ("txn.rrn", "RRN"),
    ("txn.operator", "Operator"),
    ("txn.terminal", "Terminal"),
    ("txn.include_hidden", "Include deleted records"),
    ("txn.search", "Search"),
    ("txn.export_csv", "Export CSV"),
    ("txn.export_xlsx", "Export XLSX"),
    ("txn.next_page", "Next page"),
    ("txn.first_page", "First page"),
    ("txn.none", "No matching transactions"),
    ("txn.id", "Id"),
    ("txn.time", "Time"),
    ("txn.amount", "Amount"),
    ("txn.card", "Card / wallet"),
    ("txn.refundable", "Refundable"),
    ("txn.hidden", "Deleted"),
    ("txn.detail", "Transaction"),
    ("txn.timeline", "Timeline"),
    ("txn.receipt", "Receipt"),
    ("txn.actions", "Actions"),
    ("txn.requests", "Void / refund requests"),
    ("txn.children", "Linked transactions"),
    ("txn.original", "Original"),
    ("act.request_void", "Request a void"),
    ("act.request_refund", "Request a refund"),
    ("act.reason", "Reason"),
    ("act.consent", "The customer agreed to the void"),
    ("act.refund_amount", "Refund amount (yuan)"),
    ("act.hide", "Delete (hide) record"),
    (
        "act.confirm_void",
        "Submit a void request? Once another person approves it, the full amount goes back to the cardholder and the sale becomes voided, for good.",
    ),
    (
        "act.confirm_refund",
        "Submit a refund request? Once approved, this amount goes back to the cardholder, for good.",
    ),
    (
        "act.confirm_hide",
        "Delete this record? It disappears from listings (auditors still see it) and the deletion is audited.",
    ),
    (
        "act.confirm_approve",
        "Approve? The void/refund then runs and the money goes back to the cardholder; you can undo within the grace window.",
    ),
    (
        "act.confirm_reject",
        "Reject this request? The submitter will have to submit again.",
    ),
    ("act.confirm_cancel", "Withdraw this request?"),
    (
        "act.confirm_undo",
        "Undo the approval? The request will not run.",
    ),
    ("rev.approve", "Approve"),
    ("rev.reject", "Reject"),
    ("rev.cancel", "Withdraw"),
    ("rev.undo", "Undo approval"),
    ("rev.comment", "Comment"),
    ("rev.kind", "Kind"),
    ("rev.submitter", "Submitted by"),
    ("rev.reviewer", "Reviewer"),
    ("rev.status", "Status"),
    ("rev.none", "No requests"),
    ("rev.all", "All"),
    ("rev.execute_after", "Runs at"),
    ("rev.result", "Result"),
    ("batch.terminal", "Terminal"),
    ("batch.no", "Batch"),
    ("batch.opened", "Opened"),
    ("batch.settled", "Settled"),
    ("batch.open", "open"),
    ("batch.debit", "Debit"),
    ("batch.credit", "Credit"),
    ("batch.reconciliation", "Reconciliation"),
    ("audit.verify", "Verify the audit chain"),
    ("audit.ok", "Audit chain intact: {0} entries"),
    ("audit.broken", "Audit chain broken at entry {0}: {1}"),
    ("audit.actor", "Actor"),
    ("audit.action", "Action"),
    ("audit.target", "Target"),
    ("audit.outcome", "Outcome"),
    ("msg.title", "Result"),
    ("msg.back", "Back"),
    ("msg.submitted", "Request #{0} submitted; status: {1}"),
    ("msg.reviewed", "Request #{0}: {1}"),
    ("msg.hidden", "Transaction #{0} deleted (hidden)"),
    ("msg.error", "Not done"),
    ("status.pending", "Pending"),
    ("status.approved", "Approved (grace window)"),
    ("status.executing", "Running"),
    ("status.executed", "Executed"),
    ("status.failed", "Failed"),
    ("status.rejected", "Rejected"),
    ("status.cancelled", "Withdrawn"),
    ("status.undone", "Approval undone"),
    ("tstatus.approved", "Approved"),
    ("tstatus.declined", "Declined"),
    ("tstatus.voided", "Voided"),
    ("tstatus.partially_refunded", "Partly refunded"),
    ("tstatus.refunded", "Refunded"),
    ("tstatus.reversed", "Reversed"),
    ("tstatus.completed", "Completed"),
    ("tstatus.expired", "Expired"),
    ("kind.sale", "Sale"),
    ("kind.void", "Void"),
    ("kind.refund", "Refund"),
    ("kind.preauth", "Pre-authorization"),
    ("kind.preauth_void", "Pre-auth void"),
    ("kind.completion", "Completion"),
    ("kind.completion_void", "Completion void"),
    ("kind.balance", "Balance inquiry"),
    ("kind.reversal", "Reversal"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogs_have_the_same_keys_once() {
        let zh: Vec<_> = ZH.iter().map(|(k, _)| *k).collect();
        let en: Vec<_> = EN.iter().map(|(k, _)| *k).collect();
        assert_eq!(zh, en, "same keys in the same order");
        let mut sorted = zh.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), zh.len(), "duplicate keys");
    }

    #[test]
    fn every_error_has_a_hint() {
        for (k, _) in ZH.iter().filter(|(k, _)| k.ends_with(".msg")) {
            let fix = k.replace(".msg", ".fix");
            assert!(has(&fix), "{fix} missing");
        }
        assert_eq!(
            tf(Lang::En, "auth.locked.msg", &["10:00".into()]),
            "The account is locked until 10:00"
        );
    }
}
