//! The core decision path: how long a rule takes to decide, without any IO.
//!
//! Run: `cargo bench -p suanpan-core --bench decide`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use suanpan_core::rules::{RefundRequest, VoidRequest, decide_refund, decide_void};
use suanpan_core::settlement::settle;
use suanpan_core::{
    Amount, BatchNo, Currency, MerchantId, OperatorNo, PaymentMethod, Policy, ResponseCode,
    TerminalId, Transaction, TxnId, TxnKind, TxnStatus, VoucherNo,
};

fn sale(id: i64, fen: i64) -> Transaction {
    Transaction {
        id: TxnId(id),
        kind: TxnKind::Sale,
        status: TxnStatus::Approved,
        amount: Amount::from_fen(fen),
        currency: Currency::Cny,
        method: PaymentMethod::Chip,
        masked_pan: None,
        card_fingerprint: None,
        wallet_id: None,
        merchant_id: MerchantId::parse("898310048990001").unwrap(),
        terminal_id: TerminalId::parse("12345678").unwrap(),
        operator: OperatorNo::parse("01").unwrap(),
        supervisor: None,
        batch_no: BatchNo::FIRST,
        voucher_no: VoucherNo::FIRST,
        rrn: None,
        auth_code: None,
        response_code: ResponseCode::Approved,
        original_id: None,
        reason: None,
        customer_consent: false,
        refunded: Amount::ZERO,
        completed: Amount::ZERO,
        created_at: "2026-11-25T02:00:00Z".parse().unwrap(),
        settled: false,
        hidden: false,
        training: false,
        linked_id: None,
    }
}

fn decide(c: &mut Criterion) {
    let policy = Policy::default();
    let now = "2026-11-25T03:00:00Z".parse().unwrap();
    let original = sale(1, 8800);
    let tid = original.terminal_id.clone();
    let mid = original.merchant_id.clone();
    c.bench_function("decide_void", |b| {
        b.iter(|| {
            let req = VoidRequest {
                terminal_id: &tid,
                open_batch: BatchNo::FIRST,
                amount: Some(Amount::from_fen(8800)),
                reason: "顾客取消",
                customer_consent: true,
                card_fingerprint: None,
                voids_today_by_operator: 3,
                via_review: false,
                training: false,
            };
            black_box(decide_void(
                black_box(&original),
                TxnKind::Sale,
                &req,
                &policy,
                now,
            ))
        })
    });
    c.bench_function("decide_refund", |b| {
        b.iter(|| {
            let req = RefundRequest {
                merchant_id: &mid,
                amount: Amount::from_fen(1000),
                reason: "退货",
                back_office: false,
                reviewed: false,
                training: false,
            };
            black_box(decide_refund(black_box(&original), &req, &policy, now))
        })
    });
    let batch: Vec<Transaction> = (0..1000).map(|i| sale(i, 100 + i)).collect();
    c.bench_function("settle_1000_txns", |b| {
        b.iter(|| black_box(settle(black_box(&batch), None)))
    });
}

criterion_group!(benches, decide);
criterion_main!(benches);
