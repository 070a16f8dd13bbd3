//! Guided walkthroughs of training mode (培训模式): a lesson tells the trainee what to press
//! at each step and checks it; a wrong key is refused with the step repeated, and never
//! reaches the screens. Lessons run on training transactions, so nothing moves money.

use crate::machine::{App, Effect, Key, Screen};

/// What a step accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exactly this key.
    Key(Key),
    /// Digits (and Backspace), finished by Enter.
    Digits,
    /// Nothing to press: wait for the countdown; done when a result shows.
    Wait,
}

/// One step: what to do (catalog key) and what it accepts.
pub type Step = (&'static str, Expect);

/// The lessons: 消费, 撤销, 退货, 撤错后处理, 结算.
pub const LESSONS: [(&str, &[Step]); 5] = [
    ("lesson.sale", SALE),
    ("lesson.void", VOID),
    ("lesson.refund", REFUND),
    ("lesson.recharge", RECHARGE),
    ("lesson.settle", SETTLE),
];

const SALE: &[Step] = &[
    ("step.menu_sale", Expect::Key(Key::Digit(1))),
    ("step.amount", Expect::Digits),
    ("step.card", Expect::Key(Key::Digit(1))),
    ("step.no_pin", Expect::Key(Key::Enter)),
    ("step.receipt", Expect::Key(Key::Enter)),
];

const VOID: &[Step] = &[
    ("step.menu_void", Expect::Key(Key::Digit(2))),
    ("step.voucher", Expect::Key(Key::Enter)),
    ("step.consent", Expect::Key(Key::Enter)),
    ("step.reason", Expect::Key(Key::Enter)),
    ("step.supervisor", Expect::Digits),
    ("step.wait", Expect::Wait),
];

const REFUND: &[Step] = &[
    ("step.menu_refund", Expect::Key(Key::Digit(3))),
    ("step.supervisor", Expect::Digits),
    ("step.rrn", Expect::Digits),
    ("step.amount", Expect::Digits),
    ("step.card", Expect::Key(Key::Digit(1))),
];

const RECHARGE: &[Step] = &[
    ("step.menu_void", Expect::Key(Key::Digit(2))),
    ("step.voucher", Expect::Key(Key::Enter)),
    ("step.consent", Expect::Key(Key::Enter)),
    ("step.reason", Expect::Key(Key::Enter)),
    ("step.supervisor", Expect::Digits),
    ("step.wait", Expect::Wait),
    ("step.recharge", Expect::Key(Key::Digit(1))),
    ("step.card", Expect::Key(Key::Digit(1))),
    ("step.no_pin", Expect::Key(Key::Enter)),
];

const SETTLE: &[Step] = &[
    ("step.menu_settle", Expect::Key(Key::Digit(7))),
    ("step.settle_confirm", Expect::Key(Key::Enter)),
];

/// A lesson under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    /// Index into [`LESSONS`].
    pub lesson: usize,
    /// The current step.
    pub step: usize,
    /// The last key was wrong.
    pub wrong: bool,
}

impl Lesson {
    /// The current step, if any is left.
    pub fn current(&self) -> Option<Step> {
        LESSONS
            .get(self.lesson)
            .and_then(|(_, steps)| steps.get(self.step).copied())
    }
}

impl App {
    /// A key while a lesson runs: checked against the step; a wrong one is refused.
    pub(crate) fn lesson_key(&mut self, mut l: Lesson, k: Key) -> Vec<Effect> {
        let Some((_, expect)) = l.current() else {
            self.lesson = None;
            return self.key_unguided(k);
        };
        let (accepted, finishes) = match (expect, k) {
            (_, Key::Tick) => (true, false),
            (_, Key::Cancel) => {
                // Leaving the lesson is always allowed; the screens go back as usual.
                self.lesson = None;
                return self.key_unguided(k);
            }
            (Expect::Key(want), got) => (want == got, want == got),
            (Expect::Digits, Key::Digit(_) | Key::Back) => (true, false),
            (Expect::Digits, Key::Enter) => (true, true),
            (Expect::Digits | Expect::Wait, _) => (false, false),
        };
        if !accepted {
            l.wrong = true;
            self.lesson = Some(l);
            return Vec::new();
        }
        l.wrong = false;
        let fx = self.key_unguided(k);
        let waited = expect == Expect::Wait && matches!(self.screen, Screen::Result { .. });
        if finishes || waited {
            l.step += 1;
        }
        self.lesson = Some(l);
        fx
    }

    /// Starts lesson `i` (from the lesson picker).
    pub(crate) fn start_lesson(&mut self, i: usize) -> Vec<Effect> {
        self.lesson = Some(Lesson {
            lesson: i,
            step: 0,
            wrong: false,
        });
        self.menu(None)
    }

    /// A host reply may complete a waiting step (the void's result arrives after Send).
    pub(crate) fn lesson_after_reply(&mut self) {
        if let Some(l) = self.lesson.as_mut()
            && l.current().map(|(_, e)| e) == Some(Expect::Wait)
            && matches!(self.screen, Screen::Result { .. })
        {
            l.step += 1;
        }
    }

    /// The lesson's lines under the screen: the step, or a correction, or "done".
    pub(crate) fn lesson_lines(&self) -> Vec<String> {
        let Some(l) = &self.lesson else {
            return Vec::new();
        };
        let total = LESSONS.get(l.lesson).map_or(0, |(_, s)| s.len());
        match l.current() {
            Some((say, _)) => {
                let mut v = vec![self.tf(
                    "lesson.step",
                    &[(l.step + 1).to_string(), total.to_string(), self.t(say)],
                )];
                if l.wrong {
                    v.push(self.t("lesson.wrong"));
                }
                v
            }
            None => vec![self.t("lesson.done")],
        }
    }
}
