//! The ratatui front end: draws the current [`View`] as a small POS screen and turns
//! crossterm key events (and a one-second tick) into [`Key`]s.

use crate::driver::Driver;
use crate::link::Link;
use crate::machine::{App, Key};
use crate::view::{SCREEN_COLS, SCREEN_ROWS, View};
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::Terminal as Tui;
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};
use std::time::{Duration, Instant};

/// The whole POS screen, border included.
pub const FRAME_COLS: u16 = SCREEN_COLS + 2;
/// Title, status, body, hint and borders.
pub const FRAME_ROWS: u16 = SCREEN_ROWS + 4;

/// Draws a view into a frame of [`FRAME_COLS`]×[`FRAME_ROWS`] at the top left.
pub fn draw(f: &mut ratatui::Frame<'_>, v: &View) {
    let area = f.area();
    let rect = Rect {
        x: 0,
        y: 0,
        width: FRAME_COLS.min(area.width),
        height: FRAME_ROWS.min(area.height),
    };
    let mut lines = vec![Line::styled(
        v.status.clone(),
        Style::default().add_modifier(Modifier::DIM),
    )];
    lines.extend(
        v.body
            .iter()
            .take(usize::from(SCREEN_ROWS))
            .map(|l| Line::raw(l.clone())),
    );
    while lines.len() < usize::from(SCREEN_ROWS) + 1 {
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        v.hint.clone(),
        Style::default().add_modifier(Modifier::REVERSED),
    ));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", v.title));
    f.render_widget(Paragraph::new(lines).block(block), rect);
}

/// Draws the app once.
///
/// # Errors
/// When the backend fails.
pub fn draw_app<B: Backend>(t: &mut Tui<B>, app: &App) -> std::io::Result<()> {
    let v = app.view();
    t.draw(|f| draw(f, &v)).map(|_| ())
}

/// The key a crossterm event means; `None` for others. Ctrl-C quits (`Some(None)`).
fn key_of(ev: &Event) -> Option<Option<Key>> {
    let Event::Key(k) = ev else { return None };
    if k.kind != KeyEventKind::Press {
        return None;
    }
    if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
        return Some(None);
    }
    let key = match k.code {
        KeyCode::Char(c) if c.is_ascii_digit() => Key::Digit(c as u8 - b'0'),
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Cancel,
        KeyCode::Backspace => Key::Back,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        _ => return None,
    };
    Some(Some(key))
}

/// Runs the interactive terminal until Ctrl-C.
///
/// # Errors
/// On terminal or state-file IO errors.
pub fn run<L: Link>(d: &mut Driver<L>) -> anyhow::Result<()> {
    let mut t = ratatui::init();
    let r = event_loop(d, &mut t);
    ratatui::restore();
    r
}

fn event_loop<L: Link, B: Backend>(d: &mut Driver<L>, t: &mut Tui<B>) -> anyhow::Result<()> {
    let mut next_tick = Instant::now() + Duration::from_secs(1);
    loop {
        draw_app(t, &d.app)?;
        let wait = next_tick.saturating_duration_since(Instant::now());
        let key = if event::poll(wait)? {
            match key_of(&event::read()?) {
                Some(Some(k)) => Some(k),
                Some(None) => return Ok(()),
                None => None,
            }
        } else {
            next_tick = Instant::now() + Duration::from_secs(1);
            Some(Key::Tick)
        };
        if let Some(k) = key {
            let mut busy = |app: &App| {
                let _ = draw_app(t, app);
            };
            if !d.press(k, &mut busy)? {
                return Ok(());
            }
        }
    }
}
