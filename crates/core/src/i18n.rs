//! User-facing text: one keyed catalog per language (zh-CN first, English second), so no
//! message is written twice and none is missing in one language (a test checks both).

/// The language of the person reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// 简体中文 (default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Parses `zh`, `zh-CN`, `en`, `en-US`…
    pub fn parse(text: &str) -> Option<Lang> {
        let t = text.to_ascii_lowercase();
        if t.starts_with("zh") {
            Some(Lang::Zh)
        } else if t.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

/// One language's entries: `(key, text)`, the text with `{0}`, `{1}`… placeholders.
pub type Entries = &'static [(&'static str, &'static str)];

/// The one mechanism for every zh/en text (core rules, back-office rules, web, receipts,
/// terminal screens): a keyed table per language, zh-CN first, English second. Each module
/// keeps its own entries beside its code (`static ZH: Entries = &[("key", "text"), …]`) and
/// one `Catalog` over them; lookup, substitution and the completeness checks live here once.
#[derive(Debug, Clone, Copy)]
pub struct Catalog {
    zh: Entries,
    en: Entries,
}

impl Catalog {
    /// The catalog over a Chinese and an English table.
    pub const fn new(zh: Entries, en: Entries) -> Catalog {
        Catalog { zh, en }
    }

    fn entries(&self, lang: Lang) -> Entries {
        match lang {
            Lang::Zh => self.zh,
            Lang::En => self.en,
        }
    }

    /// The text of `key` in `lang` as written (placeholders kept), if the catalog has it.
    pub fn get(&self, lang: Lang, key: &str) -> Option<&'static str> {
        self.entries(lang)
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, t)| *t)
    }

    /// The text of `key`; a missing key returns the key itself, so a gap shows up as text
    /// instead of a crash (and the catalog's test fails first).
    pub fn text<'a>(&self, lang: Lang, key: &'a str) -> &'a str {
        self.get(lang, key).unwrap_or(key)
    }

    /// [`Catalog::text`] with `{0}`, `{1}`… replaced by `args`.
    pub fn fill<A: AsRef<str>>(&self, lang: Lang, key: &str, args: &[A]) -> String {
        fill(self.text(lang, key), args)
    }

    /// True when `key` exists in both languages.
    pub fn has(&self, key: &str) -> bool {
        self.get(Lang::Zh, key).is_some() && self.get(Lang::En, key).is_some()
    }

    /// Every key of the Chinese table (for completeness tests).
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + use<> {
        let zh: Entries = self.zh;
        zh.iter().map(|(k, _)| *k)
    }

    /// What is wrong with the catalog, as sentences (empty when nothing is): a key in one
    /// language only, a key twice, an empty text, or a Chinese text that shows the reader an
    /// internal code (a catalog key). Each catalog's test asserts this is empty.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (lang, mine, other, name) in [
            (Lang::Zh, self.zh, self.en, "English"),
            (Lang::En, self.en, self.zh, "Chinese"),
        ] {
            let mut seen = std::collections::HashSet::new();
            for (k, t) in mine {
                if !seen.insert(*k) {
                    out.push(format!("{k} twice in {lang:?}"));
                }
                if !other.iter().any(|(o, _)| o == k) {
                    out.push(format!("{k} missing in {name}"));
                }
                if t.trim().is_empty() {
                    out.push(format!("{k} empty in {lang:?}"));
                }
            }
        }
        for (k, t) in self.zh {
            if let Some(word) = internal_word(t, self) {
                out.push(format!(
                    "{k}: the Chinese text shows the internal code {word:?}"
                ));
            }
        }
        out
    }
}

/// The first word of `text` that is an internal code rather than words for a reader: a key
/// of `catalog`, or a refusal's code (`void.settled`, whose texts are `void.settled.msg` and
/// `.fix`). Commands, flags and settings the reader types (`pg_restore`, `kek_file =`), file
/// names (`pan.key`) and upper-case labels (`MERCHANT COPY`) are words for the reader.
fn internal_word(text: &str, catalog: &Catalog) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| w.contains('.'))
        .find(|w| catalog.has(w) || catalog.has(&format!("{w}.msg")))
        .map(str::to_owned)
}

/// `text` with `{0}`, `{1}`… replaced by `args`.
pub fn fill<A: AsRef<str>>(text: &str, args: &[A]) -> String {
    let mut out = text.to_owned();
    for (i, arg) in args.iter().enumerate() {
        out = out.replace(&format!("{{{i}}}"), arg.as_ref());
    }
    out
}

/// The core's catalog: refusal messages and remedies, response-code meanings, kinds.
pub static CATALOG: Catalog = Catalog::new(ZH, EN);

/// Looks `key` up in `lang`'s catalog and substitutes `{0}`, `{1}`… A missing key returns the
/// key itself, so a gap shows up as text instead of a crash (and the catalog test fails).
pub fn tr(lang: Lang, key: &str, args: &[String]) -> String {
    CATALOG.fill(lang, key, args)
}

/// The text of `key` in `lang` as written (placeholders kept), if the catalog has it.
pub fn text(lang: Lang, key: &str) -> Option<&'static str> {
    CATALOG.get(lang, key)
}

/// True when `key` exists in both catalogs.
pub fn has_key(key: &str) -> bool {
    CATALOG.has(key)
}

/// Every key of the Chinese catalog (for completeness tests).
pub fn keys() -> impl Iterator<Item = &'static str> {
    CATALOG.keys()
}

static ZH: Entries = &[
    ("tstatus.approved", "成功"),
    ("tstatus.declined", "拒绝"),
    ("tstatus.voided", "已撤销"),
    ("tstatus.partially_refunded", "部分退货"),
    ("tstatus.refunded", "已退货"),
    ("tstatus.reversed", "已冲正"),
    ("tstatus.completed", "已完成"),
    ("tstatus.expired", "已过期"),
    ("tstatus.authorizing", "授权中"),
    ("tstatus.reversal_pending", "待冲正"),
    ("kind.sale", "消费"),
    ("kind.void", "消费撤销"),
    ("kind.refund", "退货"),
    ("kind.preauth", "预授权"),
    ("kind.preauth_void", "预授权撤销"),
    ("kind.completion", "预授权完成"),
    ("kind.completion_void", "预授权完成撤销"),
    ("kind.balance", "余额查询"),
    ("kind.reversal", "冲正"),
    ("method.magstripe", "磁条卡"),
    ("method.chip", "芯片卡"),
    ("method.contactless", "闪付"),
    ("method.manual", "手工输入卡号"),
    ("method.qr_alipay", "支付宝"),
    ("method.qr_wechat", "微信支付"),
    ("method.qr_unionpay", "银联二维码"),
    ("rc.00", "交易成功"),
    ("rc.03", "无效商户"),
    ("rc.05", "不予承兑"),
    ("rc.12", "无效交易"),
    ("rc.13", "无效金额"),
    ("rc.14", "无效卡号"),
    ("rc.25", "找不到原始交易"),
    ("rc.30", "格式错误"),
    ("rc.40", "不支持的交易"),
    ("rc.41", "挂失卡"),
    ("rc.43", "被窃卡"),
    ("rc.51", "余额不足"),
    ("rc.54", "过期卡"),
    ("rc.55", "密码错"),
    ("rc.61", "超出金额限制"),
    ("rc.64", "原始金额不符"),
    ("rc.65", "超出次数限制"),
    ("rc.75", "密码错误次数超限"),
    ("rc.77", "请重新签到"),
    ("rc.91", "发卡方或网络暂不可用"),
    ("rc.94", "重复交易"),
    ("rc.96", "系统故障"),
    ("rc.97", "终端未登记"),
    ("rc.58", "终端暂停收款"),
    ("rc.98", "发卡方超时"),
    ("rc.A0", "MAC校验错"),
    ("rc.00.fix", "请打印签购单并请持卡人签名"),
    ("rc.05.fix", "请持卡人联系发卡行，或改用其他支付方式"),
    ("rc.14.fix", "请核对卡号，或改用刷卡/插卡"),
    ("rc.41.fix", "此卡已挂失，请没收或请持卡人联系发卡行"),
    ("rc.43.fix", "此卡已被报失窃，请勿受理并联系收单机构"),
    ("rc.51.fix", "请持卡人换卡或改用其他支付方式"),
    ("rc.54.fix", "卡片已过期，请持卡人换卡"),
    ("rc.55.fix", "请持卡人重新输入密码"),
    ("rc.61.fix", "请降低金额或分笔支付"),
    ("rc.75.fix", "密码错误次数过多，请持卡人联系发卡行"),
    ("rc.91.fix", "请稍后重试，或改用其他支付方式"),
    ("rc.98.fix", "结果未知，正在冲正，请稍后查询"),
    ("amount.empty.msg", "请输入金额"),
    (
        "amount.invalid_character.msg",
        "金额只能包含半角数字和小数点",
    ),
    (
        "amount.too_many_decimals.msg",
        "金额最多两位小数（精确到分）",
    ),
    ("amount.zero.msg", "金额必须大于零"),
    ("amount.too_large.msg", "金额超出上限"),
    ("pan.format.msg", "卡号应为13至19位数字"),
    ("pan.luhn.msg", "卡号校验位错误，可能输错了"),
    ("access.unknown_terminal.msg", "终端未登记"),
    (
        "access.unknown_terminal.fix",
        "请核对终端号，或由管理员登记该终端",
    ),
    ("access.terminal_disabled.msg", "终端已停用"),
    (
        "access.terminal_paused.msg",
        "本终端已被商户主管暂停收款，请联系主管恢复",
    ),
    (
        "access.terminal_paused.fix",
        "请本店主管在后台恢复该终端后再收款；冲正和结算不受影响",
    ),
    ("access.terminal_disabled.fix", "请联系管理员启用该终端"),
    ("access.unknown_merchant.msg", "商户不存在或已停用"),
    ("access.merchant_not_active.msg", "商户未开通或已暂停交易"),
    (
        "access.merchant_not_active.fix",
        "请联系收单机构开通或恢复商户",
    ),
    (
        "access.unknown_merchant.fix",
        "请核对商户号，或联系收单机构",
    ),
    (
        "access.linked_not_found.msg",
        "重新收款所关联的原交易不存在",
    ),
    (
        "access.linked_not_found.fix",
        "请核对被撤销交易的批次号和凭证号，或不关联直接做消费",
    ),
    ("access.unknown_operator.msg", "操作员不存在"),
    (
        "access.unknown_operator.fix",
        "请核对操作员号（99 管理员，00 主管，01-98 收银员）",
    ),
    (
        "access.wrong_password.msg",
        "操作员密码错误，还可尝试 {0} 次",
    ),
    (
        "access.wrong_password.fix",
        "请重新输入密码；连续输错将锁定 15 分钟",
    ),
    (
        "access.locked_out.msg",
        "密码错误次数过多，操作员已锁定至 {0}",
    ),
    ("access.locked_out.fix", "请稍后再试，或请主管/管理员协助"),
    ("access.supervisor_required.msg", "此交易需要主管授权"),
    ("access.supervisor_required.fix", "请主管（00）输入密码授权"),
    (
        "access.supervisor_wrong_password.msg",
        "主管密码错误，还可尝试 {0} 次",
    ),
    ("access.supervisor_wrong_password.fix", "请主管重新输入密码"),
    (
        "access.not_permitted.msg",
        "当前操作员（{0}）无权执行此操作",
    ),
    ("access.not_permitted.fix", "请由有权限的操作员执行"),
    ("access.weak_password.msg", "新密码不符合要求"),
    (
        "access.weak_password.fix",
        "新密码至少 4 位，且不能与旧密码相同",
    ),
    ("access.bad_card.fix", "请核对卡号后重新输入"),
    ("access.bad_amount.fix", "请重新输入金额，例如 12.50"),
    ("access.unknown_instrument.msg", "卡片或钱包不存在"),
    ("access.unknown_instrument.fix", "请核对卡号或钱包编号"),
    (
        "access.duplicate.msg",
        "重复交易：同一凭证号已用于另一笔交易",
    ),
    ("access.duplicate.fix", "请使用新的凭证号重新发起"),
    ("access.method_mismatch.msg", "支付方式与卡片/钱包不符"),
    (
        "access.method_mismatch.fix",
        "卡片请选刷卡/插卡/挥卡/手输，钱包请选对应扫码方式",
    ),
    (
        "access.batch_mismatch.msg",
        "终端批次号与主机不一致，请重新签到",
    ),
    ("access.batch_mismatch.fix", "请签退后重新签到以同步批次号"),
    (
        "access.key_layout_unsupported.msg",
        "不支持此签到方式（60.3={0}，不下发磁道密钥），请用003签到",
    ),
    (
        "access.key_layout_unsupported.fix",
        "请在终端参数中把签到密钥类型设为双倍长（003）或单倍长（001），不加密磁道",
    ),
    (
        "access.reversed_first.msg",
        "该交易已被冲正（冲正先于原交易到达），未记账",
    ),
    (
        "access.reversed_first.fix",
        "无需处理：卡未扣款；如需收款请用新凭证号重新发起",
    ),
    ("void.not_found.msg", "找不到原始交易"),
    ("void.not_found.fix", "请核对凭证号或参考号"),
    ("void.wrong_kind.msg", "原交易类型（{0}）不能做此撤销"),
    (
        "void.wrong_kind.fix",
        "消费撤销只针对消费，完成撤销只针对预授权完成",
    ),
    ("void.not_approved.msg", "原交易未成功，无需撤销"),
    ("void.not_approved.fix", "未成功的交易没有扣款，无需处理"),
    ("void.already_voided.msg", "该交易已撤销，不能重复撤销"),
    (
        "void.already_voided.fix",
        "如撤销有误，请重新收款并登记差错",
    ),
    ("void.reversed.msg", "该交易已冲正"),
    ("void.reversed.fix", "冲正已退回款项，无需撤销"),
    ("void.refunded.msg", "该交易已有退货，不能撤销"),
    ("void.refunded.fix", "请对剩余金额继续做退货"),
    ("void.settled.msg", "该交易已结算，不能撤销，请使用退货功能"),
    ("void.settled.fix", "请使用退货功能退回款项"),
    ("void.other_terminal.msg", "原交易不属于本终端当前批次"),
    (
        "void.other_terminal.fix",
        "请在原终端撤销，或在后台提交撤销申请",
    ),
    ("void.amount_mismatch.msg", "撤销金额与原交易金额 {0} 不符"),
    (
        "void.amount_mismatch.fix",
        "撤销须为原交易全额；部分退款请使用退货",
    ),
    ("void.too_old.msg", "原交易已超过 {0} 分钟，不能撤销"),
    ("void.too_old.fix", "请使用退货功能"),
    (
        "void.operator_limit.msg",
        "该操作员今日撤销次数已达上限 {0} 次",
    ),
    ("void.operator_limit.fix", "请主管处理或次日再试"),
    ("void.reason_required.msg", "请填写撤销原因"),
    ("void.reason_required.fix", "从原因列表选择或填写其他原因"),
    ("void.consent_required.msg", "撤销须经顾客同意"),
    ("void.consent_required.fix", "请确认顾客已同意后再撤销"),
    ("void.card_required.msg", "撤销须出示原交易卡片"),
    ("void.card_required.fix", "请刷原卡后再撤销"),
    ("void.card_mismatch.msg", "所刷卡片与原交易卡片不符"),
    ("void.card_mismatch.fix", "请使用原交易卡片"),
    (
        "void.training_mismatch.msg",
        "培训交易与正式交易不能互相撤销",
    ),
    ("void.training_mismatch.fix", "请在相同模式下操作"),
    (
        "void.through_upstream.msg",
        "该笔消费经银行网络授权，须刷原卡撤销",
    ),
    (
        "void.through_upstream.fix",
        "请顾客带卡到收银台，在终端上刷卡撤销",
    ),
    ("refund.not_found.msg", "找不到原始交易"),
    ("refund.not_found.fix", "请核对参考号"),
    ("refund.wrong_kind.msg", "原交易类型（{0}）不能退货"),
    ("refund.wrong_kind.fix", "只有消费和预授权完成可以退货"),
    ("refund.not_approved.msg", "原交易未成功，不能退货"),
    ("refund.not_approved.fix", "未成功的交易没有扣款，无需退货"),
    ("refund.voided.msg", "原交易已撤销，不能退货"),
    ("refund.voided.fix", "撤销已全额退回，无需再退货"),
    ("refund.reversed.msg", "原交易已冲正，不能退货"),
    ("refund.reversed.fix", "冲正已退回款项，无需退货"),
    ("refund.fully_refunded.msg", "原交易已全额退货"),
    ("refund.fully_refunded.fix", "可退金额为零，无需再退"),
    ("refund.window_passed.msg", "已超过退货期限（{0} 天）"),
    ("refund.window_passed.fix", "请联系收单机构做差错处理"),
    ("refund.exceeds_remaining.msg", "退货金额超过可退金额 {0}"),
    (
        "refund.exceeds_remaining.fix",
        "请输入不超过可退金额的退货金额",
    ),
    ("refund.amount_not_positive.msg", "退货金额必须大于零"),
    ("refund.amount_not_positive.fix", "请输入大于零的退货金额"),
    ("completion.amount_not_positive.msg", "完成金额必须大于零"),
    (
        "completion.amount_not_positive.fix",
        "请输入大于零的完成金额",
    ),
    ("refund.reason_required.msg", "请填写退货原因"),
    ("refund.reason_required.fix", "填写原因后重新提交"),
    ("refund.other_merchant.msg", "原交易不属于本商户"),
    ("refund.other_merchant.fix", "请在原商户办理退货"),
    (
        "refund.through_upstream.msg",
        "该笔消费经银行网络授权，原卡号已超过保存期限，无法在后台退货",
    ),
    (
        "refund.through_upstream.fix",
        "请顾客带卡到收银台，在终端上刷卡退货",
    ),
    (
        "refund.upstream_down.msg",
        "银行网络暂时无法连接，退货未执行，未退任何款项",
    ),
    ("refund.upstream_down.fix", "请稍后重新提交退货申请"),
    (
        "refund.upstream_no_answer.msg",
        "银行网络未应答，该笔退货已冲正，未退任何款项",
    ),
    ("refund.upstream_no_answer.fix", "请稍后重新提交退货申请"),
    ("refund.review_required.msg", "退货金额超过 {0}，需要复核"),
    (
        "refund.review_required.fix",
        "请在后台提交退货申请，由另一人审核",
    ),
    (
        "refund.training_mismatch.msg",
        "培训交易与正式交易不能互相退货",
    ),
    ("refund.training_mismatch.fix", "请在相同模式下操作"),
    ("completion.not_found.msg", "找不到原预授权交易"),
    ("completion.not_found.fix", "请核对参考号或授权码"),
    ("completion.wrong_kind.msg", "原交易类型（{0}）不是预授权"),
    ("completion.wrong_kind.fix", "请选择预授权交易"),
    ("completion.not_approved.msg", "原预授权未成功"),
    ("completion.not_approved.fix", "请重新做预授权"),
    ("completion.already_completed.msg", "该预授权已完成"),
    ("completion.already_completed.fix", "如需追加请重新做预授权"),
    ("completion.voided.msg", "该预授权已撤销"),
    ("completion.voided.fix", "请重新做预授权"),
    ("completion.reversed.msg", "该预授权已冲正"),
    ("completion.reversed.fix", "请重新做预授权"),
    ("completion.expired.msg", "预授权已过期"),
    ("completion.expired.fix", "请重新做预授权或改做消费"),
    (
        "completion.over_limit.msg",
        "完成金额超过预授权金额的上限 {0}",
    ),
    (
        "completion.over_limit.fix",
        "请降低完成金额，或另做一笔消费",
    ),
    ("completion.other_merchant.msg", "原预授权不属于本商户"),
    ("completion.other_merchant.fix", "请在原商户办理"),
    ("preauth_void.not_found.msg", "找不到原预授权交易"),
    ("preauth_void.not_found.fix", "请核对参考号或授权码"),
    ("preauth_void.wrong_kind.msg", "原交易类型（{0}）不是预授权"),
    ("preauth_void.wrong_kind.fix", "请选择预授权交易"),
    ("preauth_void.not_approved.msg", "原预授权未成功，无需撤销"),
    ("preauth_void.not_approved.fix", "无需处理"),
    ("preauth_void.already_voided.msg", "该预授权已撤销"),
    ("preauth_void.already_voided.fix", "无需重复撤销"),
    ("preauth_void.completed.msg", "该预授权已完成，不能撤销"),
    ("preauth_void.completed.fix", "请撤销预授权完成交易"),
    ("preauth_void.reversed.msg", "该预授权已冲正"),
    ("preauth_void.reversed.fix", "冲正已释放冻结，无需撤销"),
    ("preauth_void.expired.msg", "预授权已过期，冻结已释放"),
    ("preauth_void.expired.fix", "无需撤销"),
    (
        "preauth_void.amount_mismatch.msg",
        "撤销金额与原预授权金额 {0} 不符",
    ),
    ("preauth_void.amount_mismatch.fix", "预授权撤销须为全额"),
    ("preauth_void.reason_required.msg", "请填写撤销原因"),
    ("preauth_void.reason_required.fix", "填写原因后重新提交"),
    ("preauth_void.other_merchant.msg", "原预授权不属于本商户"),
    ("preauth_void.other_merchant.fix", "请在原商户办理"),
    ("reversal.already_voided.msg", "原交易已撤销，不能冲正"),
    ("reversal.already_voided.fix", "撤销已退回款项，无需冲正"),
    ("reversal.refunded.msg", "原交易已退货，不能冲正"),
    ("reversal.refunded.fix", "请联系收单机构做差错处理"),
    ("reversal.settled.msg", "原交易已结算，不能冲正"),
    ("reversal.settled.fix", "请使用退货功能"),
    ("reversal.completed.msg", "预授权已完成，不能冲正"),
    ("reversal.completed.fix", "请撤销预授权完成交易"),
    ("reversal.authorizing.msg", "原交易正在等待发卡方应答"),
    ("reversal.authorizing.fix", "请稍后再发冲正"),
    (
        "reversal.void_went_up.msg",
        "该笔撤销已送达银行网络，不能冲正",
    ),
    (
        "reversal.void_went_up.fix",
        "原消费保持已撤销，款项已退回卡上；如需收款请重新消费",
    ),
    ("reversal.not_reversible.msg", "该类交易（{0}）不能冲正"),
    (
        "reversal.not_reversible.fix",
        "只有消费、撤销、预授权类交易可以冲正",
    ),
    ("hide.not_admin.msg", "只有系统管理员（99）可以删除交易记录"),
    ("hide.not_admin.fix", "请由系统管理员操作"),
    ("hide.reason_required.msg", "删除交易记录须填写原因"),
    ("hide.reason_required.fix", "填写原因后重新提交"),
    ("hide.already_hidden.msg", "该记录已删除（隐藏）"),
    ("hide.already_hidden.fix", "使用 --include-hidden 可查看"),
    (
        "settle.untotallable.msg",
        "终端 {1} 的第 {0} 批合计超出可结算的范围，未结算",
    ),
    (
        "settle.untotallable.fix",
        "请联系收单机构运营人员核对该批次并人工结算",
    ),
    ("hide.not_found.msg", "找不到该交易记录"),
    ("hide.not_found.fix", "请核对交易编号"),
    (
        "hide.within_retention.msg",
        "记录仍在保存期限内，最早可于 {0} 后清除",
    ),
    (
        "hide.within_retention.fix",
        "保存期限内的记录只能隐藏，不能物理删除",
    ),
    ("error.busy.msg", "另一个进程正在写入数据，等待超时"),
    (
        "error.busy.fix",
        "请稍后重试；如持续出现，请检查是否有卡住的进程",
    ),
    ("error.storage.msg", "数据存储出错，本次操作未保存"),
    (
        "error.timed_out.msg",
        "数据存储没有在时限内应答，本次操作是否完成暂不确定",
    ),
    (
        "error.timed_out.fix",
        "请先查询记录确认是否已完成，再决定是否重试，不要直接重复操作",
    ),
    ("error.storage.fix", "请检查磁盘空间和数据目录权限后重试"),
    ("error.disk_full.msg", "磁盘已满，本次操作未保存"),
    (
        "error.disk_full.fix",
        "请清理磁盘空间后重试，已保存的数据不受影响",
    ),
    ("error.not_initialized.msg", "数据目录尚未初始化"),
    (
        "error.not_initialized.fix",
        "请先运行 suanpan init（演示数据：suanpan init --demo）",
    ),
    ("error.backup_invalid.msg", "备份文件校验失败"),
    (
        "error.backup_invalid.fix",
        "请使用完好的备份文件；此文件不会被恢复",
    ),
    ("error.live_store.msg", "数据目录中已有数据，恢复会覆盖它"),
    (
        "error.live_store.fix",
        "确认要覆盖时加 --force；覆盖前会先自动备份现有数据",
    ),
    (
        "error.sqlite_only.msg",
        "此命令目前只能用于内置存储（SQLite），当前配置的是 PostgreSQL 数据库",
    ),
    (
        "error.sqlite_only.fix",
        "在 PostgreSQL 上，demo run 与 backup restore 尚不可用；请对内置存储执行（去掉 --database / SUANPAN_DATABASE），恢复请用 pg_restore（已知缺口）",
    ),
    ("error.anchor_invalid.msg", "审计锚点文件不可信：{0}"),
    (
        "error.anchor_invalid.fix",
        "锚点文件在 KEK 旁（<kek>.anchor），只能由持有 KEK 的一方写入：请确认使用的是原来的 KEK，并按安全事件处理此文件被改动的情况；数据未改变",
    ),
    ("error.key.msg", "密钥错误：{0}"),
    (
        "error.key.fix",
        "请检查密钥加密密钥（KEK）文件与数据是否配套；数据未改变",
    ),
    (
        "error.kek_wrong.msg",
        "密钥加密密钥（KEK）不对：数据中的密钥由 KEK {0} 加密，给出的是 KEK {1}",
    ),
    (
        "error.kek_wrong.fix",
        "请用 --kek-file / SUANPAN_KEK_FILE / kek_file = 指向原来的 KEK 文件；若 keys rotate-kek 中途中断，请再次运行它。服务未启动，数据未改变",
    ),
    ("error.kek_missing.msg", "找不到密钥加密密钥（KEK）文件 {0}"),
    (
        "error.kek_missing.fix",
        "新部署请先运行 suanpan keys init；已有数据请用 --kek-file / SUANPAN_KEK_FILE / kek_file = 指向其 KEK 文件。服务未启动，数据未改变",
    ),
    (
        "error.kek_inside.msg",
        "KEK 文件 {0} 位于数据目录内，会随数据和备份一起被拷走",
    ),
    (
        "error.kek_inside.fix",
        "请把 KEK 文件放在数据目录之外（默认：数据目录旁的 <数据目录>.kek）",
    ),
    ("error.weak_key.msg", "拒绝弱密钥：{0}"),
    (
        "error.weak_key.fix",
        "请使用随机生成、各字节奇校验、两半不同的 16 字节双倍长密钥；未做任何更改",
    ),
    (
        "error.pan_key_missing.msg",
        "缺少 {0}：同一数据库的各节点须使用同一个卡号指纹密钥",
    ),
    (
        "error.pan_key_missing.fix",
        "请从创建该数据库的节点复制 pan.key 到本节点的数据目录后重试",
    ),
    (
        "error.pg_tool_missing.msg",
        "未找到 {0}，无法处理 PostgreSQL 备份",
    ),
    (
        "error.pg_tool_missing.fix",
        "请安装 PostgreSQL 客户端（Debian：apt-get install postgresql-client）后重试；数据未改变",
    ),
    (
        "error.xlsx_too_large.msg",
        "符合条件的交易超过 {0} 笔，超出一个 XLSX 工作表的行数上限",
    ),
    (
        "error.xlsx_too_large.fix",
        "请改用 CSV 导出（--format csv，无行数上限），或缩小日期范围后分多次导出 XLSX；未写出任何文件",
    ),
    (
        "error.store_in_use.msg",
        "内置存储 {0} 正被其他进程使用（如 suanpan serve），无法得到一致的副本",
    ),
    (
        "error.store_in_use.fix",
        "请先停止使用该数据目录的所有进程（serve 等）后重试；数据未改变",
    ),
    (
        "error.pg_target_not_empty.msg",
        "目标 PostgreSQL {0} 不是空的，复制只写入空的数据库或 schema",
    ),
    (
        "error.pg_target_not_empty.fix",
        "请新建一个空数据库（CREATE DATABASE …）或在 URL 中指定新的 schema（options=-csearch_path%3D…）；目标中的已有数据未改变",
    ),
    (
        "error.copy_needs_database.msg",
        "请用 --database（或 SUANPAN_DATABASE）指定目标 PostgreSQL 数据库",
    ),
    (
        "error.copy_needs_database.fix",
        "例如：suanpan --database postgres://用户@主机:5432/库名 admin copy-to-postgres",
    ),
    ("error.pg_tool_failed.msg", "{0} 失败：{1}"),
    (
        "error.pg_tool_failed.fix",
        "请检查数据库地址与权限；不完整的备份文件已删除，数据未改变",
    ),
    (
        "error.pg_restore.msg",
        "PostgreSQL 备份 {0} 需用 pg_restore 恢复",
    ),
    (
        "error.pg_restore.fix",
        "备份已校验并解密为 {1}（仅属主可读）：先停止所有节点，再执行 pg_restore --clean --if-exists -d <数据库地址> {1}，之后删除该文件；证据文件已放回证据目录",
    ),
    (
        "error.secret_missing.msg",
        "需要{0}，但没有终端可以输入，环境变量 {1} 也未设置",
    ),
    (
        "error.secret_missing.fix",
        "设置环境变量 {1}，或在终端中运行以输入密码",
    ),
    (
        "warn.duplicate.msg",
        "疑似重复扣款：同一张卡 {0} 分钟内已有一笔相同金额的成功消费（凭证号 {1}）",
    ),
    (
        "warn.duplicate.fix",
        "请与顾客核对；确认是新的一笔消费时加 --confirm-duplicate 重新提交",
    ),
    ("error.invalid_input.msg", "输入有误：{0}"),
    ("error.invalid_input.fix", "请按提示修改后重试"),
    // Cases (撤错 / 调账): core::case.
    ("case.not_permitted.msg", "当前角色（{0}）无权处理案件"),
    ("case.not_permitted.fix", "请由主管、财务或管理员处理"),
    ("case.note_required.msg", "须填写说明"),
    (
        "case.note_required.fix",
        "写明经过或收单机构的答复后重新提交",
    ),
    ("case.note_too_long.msg", "说明太长，最多 {0} 个字"),
    ("case.note_too_long.fix", "请精简说明，或分成几条备注"),
    ("case.not_voided.msg", "该交易没有被撤销，不能开立撤错案件"),
    (
        "case.not_voided.fix",
        "请从被撤销的消费、它的撤销或重新收款开立；其他更正请开立调账案件",
    ),
    ("case.closed.msg", "案件已结案（{0}），不能再修改"),
    (
        "case.closed.fix",
        "结案后只能添加备注；如需重新处理，请开立新案件",
    ),
    ("case.not_open.msg", "案件当前状态为 {0}，不能再提交"),
    ("case.not_open.fix", "刷新页面查看案件的最新状态"),
    (
        "case.not_submitted.msg",
        "案件当前状态为 {0}，须先提交收单机构",
    ),
    (
        "case.not_submitted.fix",
        "先提交案件，收到收单机构答复后再登记结果",
    ),
    ("case.other_merchant.msg", "该交易不属于本商户，不能关联"),
    ("case.other_merchant.fix", "请核对交易编号"),
    ("case.already_linked.msg", "该交易已关联到本案件"),
    ("case.already_linked.fix", "无需重复关联"),
];

static EN: Entries = &[
    ("tstatus.approved", "Approved"),
    ("tstatus.declined", "Declined"),
    ("tstatus.voided", "Voided"),
    ("tstatus.partially_refunded", "Partly refunded"),
    ("tstatus.refunded", "Refunded"),
    ("tstatus.reversed", "Reversed"),
    ("tstatus.completed", "Completed"),
    ("tstatus.expired", "Expired"),
    ("tstatus.authorizing", "Authorizing"),
    ("tstatus.reversal_pending", "Reversal pending"),
    ("kind.sale", "Sale"),
    ("kind.void", "Void"),
    ("kind.refund", "Refund"),
    ("kind.preauth", "Pre-authorization"),
    ("kind.preauth_void", "Pre-auth void"),
    ("kind.completion", "Completion"),
    ("kind.completion_void", "Completion void"),
    ("kind.balance", "Balance inquiry"),
    ("kind.reversal", "Reversal"),
    ("method.magstripe", "Magnetic stripe"),
    ("method.chip", "Chip"),
    ("method.contactless", "Contactless"),
    ("method.manual", "Card number keyed in"),
    ("method.qr_alipay", "Alipay"),
    ("method.qr_wechat", "WeChat Pay"),
    ("method.qr_unionpay", "UnionPay QR"),
    ("rc.00", "Approved"),
    ("rc.03", "Invalid merchant"),
    ("rc.05", "Do not honour"),
    ("rc.12", "Invalid transaction"),
    ("rc.13", "Invalid amount"),
    ("rc.14", "Invalid card number"),
    ("rc.25", "Original transaction not found"),
    ("rc.30", "Format error"),
    ("rc.40", "Function not supported"),
    ("rc.41", "Lost card"),
    ("rc.43", "Stolen card"),
    ("rc.51", "Insufficient funds"),
    ("rc.54", "Expired card"),
    ("rc.55", "Incorrect PIN"),
    ("rc.61", "Exceeds amount limit"),
    ("rc.64", "Original amount incorrect"),
    ("rc.65", "Exceeds frequency limit"),
    ("rc.75", "PIN tries exceeded"),
    ("rc.77", "Please sign in again"),
    ("rc.91", "Issuer or network unavailable"),
    ("rc.94", "Duplicate transaction"),
    ("rc.96", "System malfunction"),
    ("rc.97", "Terminal not registered"),
    ("rc.58", "Terminal paused"),
    ("rc.98", "Issuer timeout"),
    ("rc.A0", "MAC error"),
    ("rc.00.fix", "Print the slip and ask the cardholder to sign"),
    (
        "rc.05.fix",
        "Ask the cardholder to call the issuer or pay another way",
    ),
    (
        "rc.14.fix",
        "Check the card number, or swipe/insert the card",
    ),
    (
        "rc.41.fix",
        "This card is reported lost: retain it or refer the cardholder to the issuer",
    ),
    (
        "rc.43.fix",
        "This card is reported stolen: do not accept it; call the acquirer",
    ),
    ("rc.51.fix", "Ask for another card or another way to pay"),
    ("rc.54.fix", "The card has expired; ask for another card"),
    ("rc.55.fix", "Ask the cardholder to enter the PIN again"),
    ("rc.61.fix", "Lower the amount or split the payment"),
    ("rc.91.fix", "Try again shortly, or use another way to pay"),
    (
        "rc.75.fix",
        "Too many wrong PINs; the cardholder must call the issuer",
    ),
    (
        "rc.98.fix",
        "Outcome unknown; reversing, check again shortly",
    ),
    ("amount.empty.msg", "Enter an amount"),
    (
        "amount.invalid_character.msg",
        "An amount may contain only ASCII digits and one dot",
    ),
    ("amount.too_many_decimals.msg", "At most two decimals (fen)"),
    ("amount.zero.msg", "The amount must be above zero"),
    ("amount.too_large.msg", "The amount is too large"),
    ("pan.format.msg", "A card number has 13 to 19 digits"),
    (
        "pan.luhn.msg",
        "The card number's check digit is wrong: probably a typo",
    ),
    ("access.unknown_terminal.msg", "Terminal not registered"),
    (
        "access.unknown_terminal.fix",
        "Check the terminal id, or have an admin register it",
    ),
    ("access.terminal_disabled.msg", "Terminal disabled"),
    (
        "access.terminal_paused.msg",
        "Paused by the merchant's supervisor; ask them to resume it",
    ),
    (
        "access.terminal_paused.fix",
        "The supervisor resumes the terminal in the back-office; reversals and settlement still work",
    ),
    (
        "access.terminal_disabled.fix",
        "Ask an admin to enable the terminal",
    ),
    (
        "access.unknown_merchant.msg",
        "Merchant unknown or disabled",
    ),
    (
        "access.merchant_not_active.msg",
        "The merchant is not open for business (not activated, suspended or closed)",
    ),
    (
        "access.merchant_not_active.fix",
        "Call the acquirer to activate or reinstate the merchant",
    ),
    (
        "access.unknown_merchant.fix",
        "Check the merchant id or call the acquirer",
    ),
    (
        "access.linked_not_found.msg",
        "The voided sale this re-charge refers to does not exist",
    ),
    (
        "access.linked_not_found.fix",
        "Check the voided sale's batch and voucher no., or make a plain sale",
    ),
    ("access.unknown_operator.msg", "No such operator"),
    (
        "access.unknown_operator.fix",
        "Check the operator no. (99 admin, 00 supervisor, 01-98 cashiers)",
    ),
    (
        "access.wrong_password.msg",
        "Wrong operator password; {0} tries left",
    ),
    (
        "access.wrong_password.fix",
        "Enter the password again; repeated failures lock for 15 minutes",
    ),
    (
        "access.locked_out.msg",
        "Too many wrong passwords; operator locked until {0}",
    ),
    (
        "access.locked_out.fix",
        "Try again later, or ask a supervisor or admin",
    ),
    (
        "access.supervisor_required.msg",
        "This transaction needs the supervisor's authorization",
    ),
    (
        "access.supervisor_required.fix",
        "Have the supervisor (00) enter the password",
    ),
    (
        "access.supervisor_wrong_password.msg",
        "Wrong supervisor password; {0} tries left",
    ),
    (
        "access.supervisor_wrong_password.fix",
        "Have the supervisor enter the password again",
    ),
    (
        "access.not_permitted.msg",
        "The current operator ({0}) may not do this",
    ),
    (
        "access.not_permitted.fix",
        "Have an operator with the right role do it",
    ),
    (
        "access.weak_password.msg",
        "The new password is not acceptable",
    ),
    (
        "access.weak_password.fix",
        "Use at least 4 characters, different from the old password",
    ),
    (
        "access.bad_card.fix",
        "Check the card number and enter it again",
    ),
    (
        "access.bad_amount.fix",
        "Enter the amount again, e.g. 12.50",
    ),
    ("access.unknown_instrument.msg", "Unknown card or wallet"),
    (
        "access.unknown_instrument.fix",
        "Check the card number or wallet id",
    ),
    (
        "access.duplicate.msg",
        "Duplicate: this voucher no. was used for another transaction",
    ),
    ("access.duplicate.fix", "Start again with a new voucher no."),
    (
        "access.method_mismatch.msg",
        "The payment method does not fit the card or wallet",
    ),
    (
        "access.method_mismatch.fix",
        "Cards: swipe/insert/tap/manual; wallets: their QR method",
    ),
    (
        "access.batch_mismatch.msg",
        "The terminal's batch no. differs from the host's; sign in again",
    ),
    (
        "access.batch_mismatch.fix",
        "Sign out and sign in again to synchronize the batch no.",
    ),
    (
        "access.key_layout_unsupported.msg",
        "Sign-in with 60.3 {0} is not supported (no track-data key is issued); sign in with 003",
    ),
    (
        "access.key_layout_unsupported.fix",
        "Set the terminal's sign-in key type to double-length (003) or single (001), without track encryption",
    ),
    (
        "access.reversed_first.msg",
        "This request was already reversed (its reversal arrived first); nothing was booked",
    ),
    (
        "access.reversed_first.fix",
        "Nothing to do: the card was not charged; start a new transaction to take payment",
    ),
    ("void.not_found.msg", "Original transaction not found"),
    (
        "void.not_found.fix",
        "Check the voucher no. or reference no.",
    ),
    (
        "void.wrong_kind.msg",
        "The original ({0}) cannot be voided this way",
    ),
    (
        "void.wrong_kind.fix",
        "Sale void is for sales, completion void for completions",
    ),
    (
        "void.not_approved.msg",
        "The original was not approved; nothing to void",
    ),
    (
        "void.not_approved.fix",
        "A declined transaction took no money; nothing to do",
    ),
    (
        "void.already_voided.msg",
        "This sale is already voided; a void happens once",
    ),
    (
        "void.already_voided.fix",
        "If the void was a mistake, charge again and open a case",
    ),
    ("void.reversed.msg", "This transaction was reversed"),
    (
        "void.reversed.fix",
        "The reversal already returned the money",
    ),
    (
        "void.refunded.msg",
        "This sale has refunds and cannot be voided",
    ),
    ("void.refunded.fix", "Refund the remaining amount instead"),
    (
        "void.settled.msg",
        "This sale is settled; use refund instead",
    ),
    ("void.settled.fix", "Use refund to return the money"),
    (
        "void.other_terminal.msg",
        "The original is not in this terminal's open batch",
    ),
    (
        "void.other_terminal.fix",
        "Void it on its own terminal, or file a void request in the back-office",
    ),
    (
        "void.amount_mismatch.msg",
        "The void amount differs from the original {0}",
    ),
    (
        "void.amount_mismatch.fix",
        "A void is for the full amount; use refund for part",
    ),
    (
        "void.too_old.msg",
        "The original is older than {0} minutes and cannot be voided",
    ),
    ("void.too_old.fix", "Use refund instead"),
    (
        "void.operator_limit.msg",
        "This operator reached today's limit of {0} voids",
    ),
    (
        "void.operator_limit.fix",
        "Ask the supervisor, or try tomorrow",
    ),
    ("void.reason_required.msg", "A void needs a reason"),
    (
        "void.reason_required.fix",
        "Pick a reason from the list or type one",
    ),
    (
        "void.consent_required.msg",
        "A void needs the customer's consent",
    ),
    (
        "void.consent_required.fix",
        "Confirm the customer agrees, then void",
    ),
    ("void.card_required.msg", "A void needs the original card"),
    (
        "void.card_required.fix",
        "Swipe the original card, then void",
    ),
    ("void.card_mismatch.msg", "This is not the original card"),
    (
        "void.card_mismatch.fix",
        "Use the card of the original sale",
    ),
    (
        "void.training_mismatch.msg",
        "Training and live transactions do not mix",
    ),
    (
        "void.training_mismatch.fix",
        "Work in the same mode as the original",
    ),
    (
        "void.through_upstream.msg",
        "This purchase was authorized through the card network: void it with the card",
    ),
    (
        "void.through_upstream.fix",
        "Ask the customer to bring the card and void it at the terminal",
    ),
    ("refund.not_found.msg", "Original transaction not found"),
    ("refund.not_found.fix", "Check the reference no."),
    (
        "refund.wrong_kind.msg",
        "The original ({0}) cannot be refunded",
    ),
    (
        "refund.wrong_kind.fix",
        "Only sales and completions can be refunded",
    ),
    (
        "refund.not_approved.msg",
        "The original was not approved; nothing to refund",
    ),
    (
        "refund.not_approved.fix",
        "A declined transaction took no money",
    ),
    (
        "refund.voided.msg",
        "The original was voided and cannot be refunded",
    ),
    (
        "refund.voided.fix",
        "The void already returned the full amount",
    ),
    (
        "refund.reversed.msg",
        "The original was reversed and cannot be refunded",
    ),
    (
        "refund.reversed.fix",
        "The reversal already returned the money",
    ),
    (
        "refund.fully_refunded.msg",
        "The original is fully refunded",
    ),
    ("refund.fully_refunded.fix", "Nothing is left to refund"),
    (
        "refund.window_passed.msg",
        "The refund window ({0} days) has passed",
    ),
    (
        "refund.window_passed.fix",
        "Ask the acquirer for an adjustment",
    ),
    (
        "refund.exceeds_remaining.msg",
        "The refund exceeds the refundable {0}",
    ),
    (
        "refund.exceeds_remaining.fix",
        "Enter an amount no larger than what remains",
    ),
    (
        "refund.amount_not_positive.msg",
        "The refund amount must be above zero",
    ),
    (
        "refund.amount_not_positive.fix",
        "Enter an amount above zero",
    ),
    (
        "completion.amount_not_positive.msg",
        "The completion amount must be above zero",
    ),
    (
        "completion.amount_not_positive.fix",
        "Enter an amount above zero",
    ),
    ("refund.reason_required.msg", "A refund needs a reason"),
    (
        "refund.reason_required.fix",
        "Give a reason and submit again",
    ),
    (
        "refund.other_merchant.msg",
        "The original belongs to another merchant",
    ),
    (
        "refund.other_merchant.fix",
        "Refund at the original merchant",
    ),
    (
        "refund.through_upstream.msg",
        "This purchase was authorized through the card network and its card number is no longer kept: it cannot be refunded from the back-office",
    ),
    (
        "refund.through_upstream.fix",
        "Ask the customer to bring the card and refund it at the terminal",
    ),
    (
        "refund.upstream_down.msg",
        "The card network cannot be reached: the refund was not made and no money moved",
    ),
    (
        "refund.upstream_down.fix",
        "Submit the refund request again later",
    ),
    (
        "refund.upstream_no_answer.msg",
        "The card network did not answer: the refund was reversed and no money moved",
    ),
    (
        "refund.upstream_no_answer.fix",
        "Submit the refund request again later",
    ),
    (
        "refund.review_required.msg",
        "Refunds above {0} need review",
    ),
    (
        "refund.review_required.fix",
        "File a refund request in the back-office for a second person to approve",
    ),
    (
        "refund.training_mismatch.msg",
        "Training and live transactions do not mix",
    ),
    (
        "refund.training_mismatch.fix",
        "Work in the same mode as the original",
    ),
    ("completion.not_found.msg", "Pre-authorization not found"),
    (
        "completion.not_found.fix",
        "Check the reference no. or authorization code",
    ),
    (
        "completion.wrong_kind.msg",
        "The original ({0}) is not a pre-authorization",
    ),
    ("completion.wrong_kind.fix", "Choose a pre-authorization"),
    (
        "completion.not_approved.msg",
        "The pre-authorization was not approved",
    ),
    ("completion.not_approved.fix", "Do a new pre-authorization"),
    (
        "completion.already_completed.msg",
        "This pre-authorization is already completed",
    ),
    (
        "completion.already_completed.fix",
        "Do a new pre-authorization for more",
    ),
    ("completion.voided.msg", "This pre-authorization was voided"),
    ("completion.voided.fix", "Do a new pre-authorization"),
    (
        "completion.reversed.msg",
        "This pre-authorization was reversed",
    ),
    ("completion.reversed.fix", "Do a new pre-authorization"),
    (
        "completion.expired.msg",
        "The pre-authorization has expired",
    ),
    (
        "completion.expired.fix",
        "Do a new pre-authorization or a sale",
    ),
    (
        "completion.over_limit.msg",
        "The completion exceeds the limit {0}",
    ),
    (
        "completion.over_limit.fix",
        "Lower the amount, or add a separate sale",
    ),
    (
        "completion.other_merchant.msg",
        "The pre-authorization belongs to another merchant",
    ),
    (
        "completion.other_merchant.fix",
        "Complete it at the original merchant",
    ),
    ("preauth_void.not_found.msg", "Pre-authorization not found"),
    (
        "preauth_void.not_found.fix",
        "Check the reference no. or authorization code",
    ),
    (
        "preauth_void.wrong_kind.msg",
        "The original ({0}) is not a pre-authorization",
    ),
    ("preauth_void.wrong_kind.fix", "Choose a pre-authorization"),
    (
        "preauth_void.not_approved.msg",
        "The pre-authorization was not approved; nothing to void",
    ),
    ("preauth_void.not_approved.fix", "Nothing to do"),
    (
        "preauth_void.already_voided.msg",
        "This pre-authorization is already voided",
    ),
    ("preauth_void.already_voided.fix", "Nothing to do"),
    (
        "preauth_void.completed.msg",
        "This pre-authorization is completed and cannot be voided",
    ),
    ("preauth_void.completed.fix", "Void the completion instead"),
    (
        "preauth_void.reversed.msg",
        "This pre-authorization was reversed",
    ),
    (
        "preauth_void.reversed.fix",
        "The reversal already released the hold",
    ),
    (
        "preauth_void.expired.msg",
        "The pre-authorization expired; the hold is released",
    ),
    ("preauth_void.expired.fix", "Nothing to do"),
    (
        "preauth_void.amount_mismatch.msg",
        "The void amount differs from the pre-authorization {0}",
    ),
    (
        "preauth_void.amount_mismatch.fix",
        "A pre-auth void is for the full amount",
    ),
    ("preauth_void.reason_required.msg", "A void needs a reason"),
    (
        "preauth_void.reason_required.fix",
        "Give a reason and submit again",
    ),
    (
        "preauth_void.other_merchant.msg",
        "The pre-authorization belongs to another merchant",
    ),
    (
        "preauth_void.other_merchant.fix",
        "Void it at the original merchant",
    ),
    (
        "reversal.already_voided.msg",
        "The original was voided and cannot be reversed",
    ),
    (
        "reversal.already_voided.fix",
        "The void already returned the money",
    ),
    (
        "reversal.refunded.msg",
        "The original was refunded and cannot be reversed",
    ),
    (
        "reversal.refunded.fix",
        "Ask the acquirer for an adjustment",
    ),
    (
        "reversal.settled.msg",
        "The original is settled and cannot be reversed",
    ),
    ("reversal.settled.fix", "Use refund instead"),
    (
        "reversal.completed.msg",
        "The pre-authorization is completed and cannot be reversed",
    ),
    ("reversal.completed.fix", "Void the completion instead"),
    (
        "reversal.authorizing.msg",
        "The original is still waiting for the issuer's answer",
    ),
    (
        "reversal.authorizing.fix",
        "Send the reversal again shortly",
    ),
    (
        "reversal.void_went_up.msg",
        "This void already reached the card network and cannot be reversed",
    ),
    (
        "reversal.void_went_up.fix",
        "The purchase stays voided and the money is back on the card; charge it again if needed",
    ),
    ("reversal.not_reversible.msg", "A {0} cannot be reversed"),
    (
        "reversal.not_reversible.fix",
        "Only sales, voids and the pre-authorization family are reversible",
    ),
    (
        "hide.not_admin.msg",
        "Only the system administrator (99) may delete records",
    ),
    ("hide.not_admin.fix", "Ask the system administrator"),
    (
        "hide.reason_required.msg",
        "Deleting a record needs a reason",
    ),
    ("hide.reason_required.fix", "Give a reason and submit again"),
    (
        "hide.already_hidden.msg",
        "This record is already deleted (hidden)",
    ),
    ("hide.already_hidden.fix", "Use --include-hidden to see it"),
    (
        "settle.untotallable.msg",
        "Batch {0} of terminal {1} adds up to more than can be settled; it was not settled",
    ),
    (
        "settle.untotallable.fix",
        "Ask the acquirer's operations to check the batch and settle it by hand",
    ),
    ("hide.not_found.msg", "No such record"),
    ("hide.not_found.fix", "Check the transaction id"),
    (
        "hide.within_retention.msg",
        "Records are within their retention period; purge possible from {0}",
    ),
    (
        "hide.within_retention.fix",
        "Within retention records can only be hidden, not purged",
    ),
    (
        "error.busy.msg",
        "Another process is writing and did not finish in time",
    ),
    (
        "error.busy.fix",
        "Try again shortly; if it persists, look for a stuck process",
    ),
    ("error.storage.msg", "Storage error; nothing was saved"),
    (
        "error.timed_out.msg",
        "The store did not answer in time; whether the operation completed is not yet known",
    ),
    (
        "error.timed_out.fix",
        "Look the record up first and retry only if it is not there; do not simply repeat it",
    ),
    (
        "error.storage.fix",
        "Check disk space and data directory permissions, then retry",
    ),
    ("error.disk_full.msg", "The disk is full; nothing was saved"),
    (
        "error.disk_full.fix",
        "Free disk space and retry; saved data is unaffected",
    ),
    (
        "error.not_initialized.msg",
        "The data directory is not initialized",
    ),
    (
        "error.not_initialized.fix",
        "Run suanpan init first (demo data: suanpan init --demo)",
    ),
    (
        "error.backup_invalid.msg",
        "The backup file failed verification",
    ),
    (
        "error.backup_invalid.fix",
        "Use an intact backup; this file will not be restored",
    ),
    (
        "error.live_store.msg",
        "The data directory holds data that a restore would overwrite",
    ),
    (
        "error.live_store.fix",
        "Add --force to overwrite; the current data is backed up first",
    ),
    (
        "error.sqlite_only.msg",
        "This command works on the embedded store (SQLite) only for now, and a PostgreSQL database is configured",
    ),
    (
        "error.sqlite_only.fix",
        "On PostgreSQL, demo run and backup restore are not available yet; run them on the embedded store (drop --database / SUANPAN_DATABASE), restore with pg_restore (a known gap)",
    ),
    (
        "error.anchor_invalid.msg",
        "The audit anchor file cannot be trusted: {0}",
    ),
    (
        "error.anchor_invalid.fix",
        "The anchor file lives beside the KEK (<kek>.anchor) and only the KEK's holder can write it: check that the original KEK is used, and treat a changed anchor file as a security incident; nothing was changed",
    ),
    ("error.key.msg", "Key error: {0}"),
    (
        "error.key.fix",
        "Check that the key-encryption key (KEK) file belongs to this data; nothing was changed",
    ),
    (
        "error.kek_wrong.msg",
        "Wrong key-encryption key (KEK): the stored keys are wrapped under KEK {0}, the KEK given is {1}",
    ),
    (
        "error.kek_wrong.fix",
        "Point --kek-file / SUANPAN_KEK_FILE / kek_file = at the original KEK file; if keys rotate-kek was interrupted, run it again. Nothing was started or changed",
    ),
    (
        "error.kek_missing.msg",
        "No key-encryption key (KEK) file at {0}",
    ),
    (
        "error.kek_missing.fix",
        "For a new installation run suanpan keys init; for existing data point --kek-file / SUANPAN_KEK_FILE / kek_file = at its KEK file. Nothing was started or changed",
    ),
    (
        "error.kek_inside.msg",
        "The KEK file {0} is inside the data directory and would travel with every copy and backup of it",
    ),
    (
        "error.kek_inside.fix",
        "Keep the KEK file outside the data directory (default: <data dir>.kek beside it)",
    ),
    ("error.weak_key.msg", "Weak key refused: {0}"),
    (
        "error.weak_key.fix",
        "Use a randomly generated 16-byte double-length key with odd parity in every byte and different halves; nothing was changed",
    ),
    (
        "error.pan_key_missing.msg",
        "{0} is missing: every node of one database needs the same PAN fingerprint key",
    ),
    (
        "error.pan_key_missing.fix",
        "Copy pan.key from the node that created the database into this node's data directory and retry",
    ),
    (
        "error.pg_tool_missing.msg",
        "{0} was not found, so the PostgreSQL backup cannot be handled",
    ),
    (
        "error.pg_tool_missing.fix",
        "Install the PostgreSQL client (Debian: apt-get install postgresql-client) and retry; nothing was changed",
    ),
    (
        "error.xlsx_too_large.msg",
        "More than {0} transactions match: more rows than one XLSX worksheet holds",
    ),
    (
        "error.xlsx_too_large.fix",
        "Export as CSV (--format csv, no row limit), or export XLSX in smaller date ranges; no file was written",
    ),
    (
        "error.store_in_use.msg",
        "The embedded store {0} is in use by another process (e.g. suanpan serve), so no consistent copy can be made",
    ),
    (
        "error.store_in_use.fix",
        "Stop every process using this data directory (serve, …) and retry; nothing was changed",
    ),
    (
        "error.pg_target_not_empty.msg",
        "The target PostgreSQL {0} is not empty; the copy only writes into an empty database or schema",
    ),
    (
        "error.pg_target_not_empty.fix",
        "Create an empty database (CREATE DATABASE …) or name a new schema in the URL (options=-csearch_path%3D…); what the target holds was not changed",
    ),
    (
        "error.copy_needs_database.msg",
        "Name the target PostgreSQL database with --database (or SUANPAN_DATABASE)",
    ),
    (
        "error.copy_needs_database.fix",
        "For example: suanpan --database postgres://user@host:5432/dbname admin copy-to-postgres",
    ),
    ("error.pg_tool_failed.msg", "{0} failed: {1}"),
    (
        "error.pg_tool_failed.fix",
        "Check the database URL and permissions; the incomplete backup file was removed and nothing was changed",
    ),
    (
        "error.pg_restore.msg",
        "The PostgreSQL backup {0} is restored with pg_restore",
    ),
    (
        "error.pg_restore.fix",
        "The backup was verified and decrypted into {1} (owner-only): stop every node, run pg_restore --clean --if-exists -d <database URL> {1}, then delete that file; the evidence files were put back into the evidence folder",
    ),
    (
        "error.secret_missing.msg",
        "The {0} is needed, but there is no terminal to type it and {1} is not set",
    ),
    (
        "error.secret_missing.fix",
        "Set the environment variable {1}, or run in a terminal to be prompted",
    ),
    (
        "warn.duplicate.msg",
        "Possible duplicate charge: this card paid the same amount within {0} minutes (voucher {1})",
    ),
    (
        "warn.duplicate.fix",
        "Check with the customer; if it is a new purchase, submit again with --confirm-duplicate",
    ),
    ("error.invalid_input.msg", "Invalid input: {0}"),
    ("error.invalid_input.fix", "Correct it as shown and retry"),
    // Cases (mistaken void / adjustment): core::case.
    (
        "case.not_permitted.msg",
        "Your role ({0}) may not handle cases",
    ),
    (
        "case.not_permitted.fix",
        "Ask a supervisor, finance or an admin",
    ),
    ("case.note_required.msg", "A note is required"),
    (
        "case.note_required.fix",
        "Say what happened, or what the acquirer answered, and submit again",
    ),
    (
        "case.note_too_long.msg",
        "The note is too long: {0} characters at most",
    ),
    (
        "case.note_too_long.fix",
        "Shorten it, or split it into several notes",
    ),
    (
        "case.not_voided.msg",
        "This transaction was not voided; a mistaken-void case needs a void",
    ),
    (
        "case.not_voided.fix",
        "Open it from the voided sale, its void or the re-charge; open an adjustment for other corrections",
    ),
    (
        "case.closed.msg",
        "The case is closed ({0}) and can no longer change",
    ),
    (
        "case.closed.fix",
        "A closed case takes notes only; open a new case to take it up again",
    ),
    (
        "case.not_open.msg",
        "The case is {0}; it can no longer be submitted",
    ),
    (
        "case.not_open.fix",
        "Reload to see the case's current status",
    ),
    (
        "case.not_submitted.msg",
        "The case is {0}; submit it to the acquirer first",
    ),
    (
        "case.not_submitted.fix",
        "Submit the case, then record the acquirer's answer",
    ),
    (
        "case.other_merchant.msg",
        "This transaction belongs to another merchant and cannot be linked",
    ),
    ("case.other_merchant.fix", "Check the transaction number"),
    (
        "case.already_linked.msg",
        "This transaction is already linked to the case",
    ),
    ("case.already_linked.fix", "Nothing to do"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogs_have_the_same_keys() {
        // Goal: every key in both languages, once, and no internal name shown in Chinese.
        assert_eq!(CATALOG.problems(), Vec::<String>::new());
    }

    #[test]
    fn problems_name_a_missing_language_and_an_internal_code() {
        // Goal: the check every catalog relies on catches what it claims to.
        static ZH_BAD: Entries = &[
            ("void.a.msg", "见 void.b"),
            ("void.b.msg", "请运行 pg_restore，pan.key"),
        ];
        static EN_BAD: Entries = &[("void.a.msg", "see"), ("void.b.msg", "run")];
        let p = Catalog::new(ZH_BAD, EN_BAD).problems();
        assert!(p.iter().any(|l| l.contains("\"void.b\"")), "{p:?}");
        assert_eq!(p.len(), 1, "{p:?}");
        static EN_SHORT: Entries = &[("void.a.msg", "see")];
        let p = Catalog::new(ZH_BAD, EN_SHORT).problems();
        assert!(
            p.iter().any(|l| l == "void.b.msg missing in English"),
            "{p:?}"
        );
        let ok = Catalog::new(&[("c", "商户存根 MERCHANT COPY {0}")], &[("c", "copy {0}")]);
        assert_eq!(ok.problems(), Vec::<String>::new());
        assert_eq!(ok.fill(Lang::Zh, "c", &["1"]), "商户存根 MERCHANT COPY 1");
    }

    #[test]
    fn substitutes_arguments() {
        assert_eq!(
            tr(Lang::En, "access.wrong_password.msg", &["3".into()]),
            "Wrong operator password; 3 tries left"
        );
        assert_eq!(tr(Lang::Zh, "nope", &[]), "nope");
    }
}
