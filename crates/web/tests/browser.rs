//! Browser end-to-end tests (issue 5) in real headless Chromium, driven over WebDriver by
//! fantoccini: the back-office as a merchant's staff use it, clicking and typing, JavaScript
//! confirmations included. Scenarios: login with TOTP, filter and export download (the file
//! is opened and its rows checked), a void request submitted by one user and approved by
//! another until the transaction shows 已撤销, hiding a record then seeing it as auditor, and
//! evidence upload and playback, a mistaken-void case, an acquirer onboarding a merchant
//! that a second acquirer user approves and whose new admin adds a cashier; and every back-office page checked by
//! axe-core at a desktop's 1366 px and a phone's 390 px (zero violations, `target-size`
//! included) and for sideways scrolling on the phone (issue 18).
//!
//! The run saves screenshots of the pages (zh-CN; `phone-*` at 390 px) under
//! `target/tmp/screenshots/`; `SUANPAN_REFRESH_SCREENSHOTS=1` writes them to the tracked
//! `docs/screenshots/` instead (README), so an ordinary test run leaves the repository alone.
//!
//! axe-core comes from npm (`crates/web/tests/axe/package.json` and its lock; `.ci/run` runs
//! `npm ci` there). Without it the accessibility checks fail under `CI=true` and are skipped,
//! with a message, elsewhere.
//!
//! One chromedriver serves every scenario: they run one after another inside a single test
//! (two cores are shared on CI; parallel Chromiums only make timing flaky), each in its own
//! browser session and on its own fresh back-office; a failing scenario is reported by name
//! after the others have run.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); the paths can
//! be changed with `SUANPAN_CHROMEDRIVER` and `SUANPAN_CHROMIUM`. Without them the test fails
//! and says how to install them, unless `SUANPAN_SKIP_BROWSER=1` asks to skip it.

mod common;

use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The dashboard's heading (zh-CN), where every login lands.
const DASHBOARD: &str = "今日（营业日）";
/// How long to wait for a page, a text or a download.
const WAIT_MAX: Duration = Duration::from_secs(15);
/// The browser window: a common laptop's width.
const WINDOW_WIDTH: u32 = 1366;
const WINDOW_HEIGHT: u32 = 900;
/// A phone's viewport (CSS pixels), as a mid-size phone held upright.
const PHONE_WIDTH: u32 = 390;
const PHONE_HEIGHT: u32 = 844;
/// Tallest full-page screenshot.
const SCREENSHOT_HEIGHT_MAX: u32 = 2400;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A chromedriver on a free port, killed when dropped (also when a scenario panicked).
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn start_driver(path: &str) -> Driver {
    let port = free_port();
    // Chromium takes its UI locale (date fields, number formats) from the environment.
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .env("LANGUAGE", "zh_CN")
        .env("LANG", "zh_CN.UTF-8")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {path}: {e}"));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < WAIT_MAX, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    driver
}

/// One browser session (its own profile and download directory) on one back-office, with
/// blocking helpers so scenarios read as a person's steps.
struct Ui<'a> {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    app: &'a TestApp,
    downloads: tempfile::TempDir,
    /// The viewport's width now (CSS pixels): screenshots keep it.
    width: std::cell::Cell<u32>,
}

impl<'a> Ui<'a> {
    fn open(driver: &Driver, app: &'a TestApp) -> Ui<'a> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let downloads = tempfile::tempdir().expect("download dir");
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": env_or("SUANPAN_CHROMIUM", "/usr/bin/chromium"),
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--lang=zh-CN", "--hide-scrollbars",
                         format!("--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}")],
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                    "intl.accept_languages": "zh-CN,zh",
                },
            },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("an object literal")
        };
        let client = rt
            .block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&driver.url),
            )
            .expect("a Chromium session");
        Ui {
            rt,
            client: Some(client),
            app,
            downloads,
            width: std::cell::Cell::new(WINDOW_WIDTH),
        }
    }

    fn c(&self) -> &Client {
        self.client.as_ref().expect("open session")
    }

    fn goto(&self, path: &str) {
        let url = format!("http://{}{path}", self.app.addr);
        self.rt.block_on(self.c().goto(&url)).expect("goto");
    }

    fn path(&self) -> String {
        let u = self.rt.block_on(self.c().current_url()).expect("url");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    /// The element `css` selects, once the page has it.
    fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.rt
            .block_on(
                self.c()
                    .wait()
                    .at_most(WAIT_MAX)
                    .for_element(Locator::Css(css)),
            )
            .unwrap_or_else(|e| panic!("no {css} on {}: {e}", self.path()))
    }

    fn fill(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.rt
            .block_on(async {
                e.clear().await?;
                e.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Chooses a file in a file field, as the file dialog would.
    fn choose_file(&self, css: &str, path: &Path) {
        let e = self.element(css);
        self.rt
            .block_on(e.send_keys(&path.to_string_lossy()))
            .unwrap_or_else(|e| panic!("choosing {} in {css}: {e}", path.display()));
    }

    fn click(&self, css: &str) {
        let e = self.element(css);
        self.rt
            .block_on(e.click())
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Clicks a button whose form asks first; checks the question states the consequence
    /// (`expect` in it) and accepts.
    fn click_confirm(&self, css: &str, expect: &str) {
        self.click(css);
        let question = self
            .rt
            .block_on(self.c().get_alert_text())
            .expect("a confirmation");
        assert!(question.contains(expect), "confirmation: {question}");
        self.rt.block_on(self.c().accept_alert()).expect("accept");
    }

    fn text(&self, css: &str) -> String {
        let e = self.element(css);
        self.rt
            .block_on(e.text())
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    fn count(&self, css: &str) -> usize {
        self.rt
            .block_on(self.c().find_all(Locator::Css(css)))
            .map(|v| v.len())
            .unwrap_or(0)
    }

    /// Waits until the element's visible text contains `needle`, reloading the page between
    /// looks when `reload` (for results another process produces).
    fn wait_text(&self, css: &str, needle: &str, reload: bool) {
        let started = Instant::now();
        loop {
            let found = self
                .rt
                .block_on(async {
                    let e = self.c().find(Locator::Css(css)).await?;
                    e.text().await
                })
                .unwrap_or_default();
            if found.contains(needle) {
                return;
            }
            assert!(
                started.elapsed() < WAIT_MAX,
                "{css} never showed {needle:?}; it shows {found:?} on {}",
                self.path()
            );
            std::thread::sleep(Duration::from_millis(200));
            if reload {
                self.rt.block_on(self.c().refresh()).expect("reload");
            }
        }
    }

    /// Logs in through the form; an admin also types the TOTP code of their secret.
    fn login(&self, user: &str, totp_secret: Option<&str>) {
        self.goto("/login");
        self.fill("#username", user);
        self.fill("#password", &format!("{user}-demo"));
        if let Some(secret) = totp_secret {
            self.fill("#totp", &totp_code(secret, self.app.store.now()));
        }
        self.click("#login-submit");
    }

    fn logout(&self) {
        self.click("form[action='/logout'] button");
        self.wait_text("h1", "登录", false);
    }

    /// Logs in as admin for the first time: enrols TOTP from the secret the page shows and
    /// returns that secret.
    fn admin_enrol(&self) -> String {
        let secret = self.enrol("admin");
        self.wait_text("h1", DASHBOARD, false);
        secret
    }

    /// Logs `user` in for the first time and enrols TOTP from the secret the page shows;
    /// returns that secret.
    fn enrol(&self, user: &str) -> String {
        self.login(user, None);
        self.wait_text("h1", "绑定动态验证码", false);
        let secret = self.text("#totp-secret");
        assert_eq!(self.count(".qr svg"), 1, "the QR code is drawn");
        self.fill("#totp-code", &totp_code(&secret, self.app.store.now()));
        self.click("#totp-submit");
        secret
    }

    /// The acquirer's user (`platform`, issue 14: backups are the acquirer's) enrols TOTP and
    /// lands on 运维, its page (it has no merchant dashboard).
    fn platform_enrol(&self) {
        self.enrol("platform");
        let started = Instant::now();
        while self.path().starts_with("/totp") || self.path().starts_with("/login") {
            assert!(started.elapsed() < WAIT_MAX, "the enrolment never ended");
            std::thread::sleep(Duration::from_millis(200));
        }
        self.goto("/ops");
        self.wait_text("h1", "运维", false);
    }

    /// Makes the page area `width` × `height` CSS pixels: the window is larger than it by
    /// the browser's own frame, whose size shows only after a resize, so fit twice.
    fn viewport(&self, width: u32, height: u32) {
        self.rt
            .block_on(async {
                let c = self.c();
                c.set_window_size(width, height).await?;
                for _ in 0..2 {
                    let inner = c
                        .execute("return [window.innerWidth, window.innerHeight];", vec![])
                        .await?;
                    let (iw, ih) = (
                        inner[0].as_i64().unwrap_or(0),
                        inner[1].as_i64().unwrap_or(0),
                    );
                    let (w, h) = c.get_window_size().await?;
                    let fit = |outer: u64, want: u32, got: i64| {
                        let outer = i64::try_from(outer).unwrap_or(0);
                        u32::try_from(outer + i64::from(want) - got).unwrap_or(want)
                    };
                    c.set_window_size(fit(w, width, iw), fit(h, height, ih))
                        .await?;
                }
                Ok::<(), fantoccini::error::CmdError>(())
            })
            .expect("viewport");
        self.width.set(width);
    }

    /// Saves the whole page, at the viewport's width, as `NAME.png` (see [`screenshots_dir`]).
    fn screenshot(&self, name: &str) {
        let width = self.width.get();
        let png = self
            .rt
            .block_on(async {
                let c = self.c();
                // The whole page: as tall as its content (within a bound), as wide as now.
                let (w, h0) = c.get_window_size().await?;
                let (w, h0) = (
                    u32::try_from(w).unwrap_or(width),
                    u32::try_from(h0).unwrap_or(WINDOW_HEIGHT),
                );
                for _ in 0..2 {
                    let deficit = c
                        .execute(
                            "window.scrollTo(0, 0); return document.documentElement.scrollHeight \
                             - window.innerHeight;",
                            vec![],
                        )
                        .await?
                        .as_i64()
                        .unwrap_or(0);
                    let (_, h) = c.get_window_size().await?;
                    let h = i64::try_from(h).unwrap_or(i64::from(WINDOW_HEIGHT)) + deficit;
                    let h = u32::try_from(h.max(i64::from(WINDOW_HEIGHT / 2)))
                        .unwrap_or(SCREENSHOT_HEIGHT_MAX)
                        .min(SCREENSHOT_HEIGHT_MAX);
                    c.set_window_size(w, h).await?;
                }
                let png = c.screenshot().await;
                c.set_window_size(w, h0).await?;
                png
            })
            .expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Runs axe-core in the page (its default rules plus `target-size`, which some versions
    /// leave off) and returns each violation as one readable line; empty when there is none.
    fn axe_violations(&self, axe: &str) -> Vec<String> {
        let script = r#"
            const done = arguments[arguments.length - 1];
            if (!window.axe) { (0, eval)(arguments[0]); }
            axe.run(document, { rules: { 'target-size': { enabled: true } }, resultTypes: ['violations'] })
              .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — '
                  + v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' [' + (n.failureSummary || '').replace(/\s+/g, ' ') + ']').join('; '))))
              .catch(e => done(['axe failed: ' + e]));
        "#;
        let v = self
            .rt
            .block_on(
                self.c()
                    .execute_async(script, vec![serde_json::Value::String(axe.to_owned())]),
            )
            .expect("axe.run");
        v.as_array()
            .expect("a list of violations")
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// How far the page is wider than the viewport (0: it does not scroll sideways), and the
    /// elements that stick out, for the message.
    fn overflow(&self) -> (i64, String) {
        let v = self
            .rt
            .block_on(self.c().execute(
                r#"
                const w = window.innerWidth;
                const wide = [...document.querySelectorAll('body *')]
                  .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.scroll, .chart'))
                  .slice(0, 5)
                  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''));
                return [document.documentElement.scrollWidth - w, wide.join(', ')];
                "#,
                vec![],
            ))
            .expect("page width");
        (
            v[0].as_i64().unwrap_or(i64::MAX),
            v[1].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Waits for one finished download and returns its path.
    fn downloaded(&self, ext: &str) -> PathBuf {
        let started = Instant::now();
        loop {
            let done: Vec<PathBuf> = std::fs::read_dir(self.downloads.path())
                .expect("download dir")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect();
            if let [one] = done.as_slice() {
                return one.clone();
            }
            assert!(started.elapsed() < WAIT_MAX, "no .{ext} download: {done:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Ui<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.close());
        }
    }
}

/// Where screenshots go: `target/tmp/screenshots/`, or the tracked `docs/screenshots/` when
/// `SUANPAN_REFRESH_SCREENSHOTS=1` asks to refresh the documentation's pictures.
fn screenshots_dir() -> PathBuf {
    if std::env::var("SUANPAN_REFRESH_SCREENSHOTS").is_ok_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    }
}

/// Goal: an admin's first login enrols TOTP from the page (secret and QR code); the next
/// login needs the current code — a wrong one is refused with a message, a right one opens
/// the dashboard with today's totals.
fn login_with_totp(driver: &Driver) {
    let app = spawn_app();
    let ui = Ui::open(driver, &app);
    ui.goto("/login");
    ui.screenshot("login");
    ui.login("admin", None);
    ui.wait_text("h1", "绑定动态验证码", false);
    ui.screenshot("totp-enrol");
    // Enrolment was not finished: the next login offers a new secret, and enrols with it.
    ui.logout();
    let secret = ui.admin_enrol();
    ui.logout();
    ui.goto("/login");
    ui.fill("#username", "admin");
    ui.fill("#password", "admin-demo");
    ui.fill("#totp", "000000");
    ui.click("#login-submit");
    ui.wait_text(".error", "动态验证码错误", false);
    // A code is accepted once: the next one comes 30 seconds later.
    app.advance(30);
    ui.login("admin", Some(&secret));
    ui.wait_text("h1", DASHBOARD, false);
    assert!(ui.text("main").contains("¥6,208.00"), "today's three sales");
    ui.screenshot("dashboard");
}

/// Goal: finance filters the transactions by amount, sees only the matching rows, downloads
/// the CSV with the export button, and the file holds the BOM, the filter echo and exactly
/// those rows.
fn filter_and_export_download(driver: &Driver) {
    let app = spawn_app();
    let ui = Ui::open(driver, &app);
    ui.login("finance", None);
    ui.wait_text("h1", DASHBOARD, false);
    ui.goto("/txns");
    assert_eq!(ui.count("#txn-table tbody tr"), 3, "three seeded sales");
    ui.screenshot("transactions");
    ui.fill("#filters input[name=min]", "100");
    ui.click("#search");
    let started = Instant::now();
    while ui.count("#txn-table tbody tr") != 2 {
        assert!(
            started.elapsed() < WAIT_MAX,
            "the filter left {} rows",
            ui.count("#txn-table tbody tr")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    ui.screenshot("transactions-filtered");
    let table = ui.text("#txn-table tbody");
    assert!(
        table.contains("¥120.00") && table.contains("¥6,000.00"),
        "{table}"
    );
    assert!(!table.contains("¥88.00"), "{table}");
    ui.click("#export-csv");
    let file = ui.downloaded("csv");
    let bytes = std::fs::read(&file).expect("read the download");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "CSV with BOM");
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[3..]);
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("CSV row")).collect();
    assert_eq!(rows.len(), 4, "filter, header, two rows: {rows:?}");
    assert!(
        rows[0].as_slice().contains("min=100"),
        "filter echoed: {:?}",
        rows[0]
    );
    let data = format!("{:?}", &rows[2..]);
    assert!(
        data.contains("120.00") && data.contains("6000.00"),
        "{data}"
    );
    assert!(!data.contains("88.00"), "{data}");
}

/// Goal: seed 004 in the browser — the cashier submits a void request (the confirmation says
/// what happens), the supervisor approves it in the review queue, and the transaction page
/// shows 已撤销 with the request on its timeline. The cashier cannot approve their own.
fn void_maker_checker(driver: &Driver) {
    let app = spawn_app();
    let ui = Ui::open(driver, &app);
    ui.login("cashier", None);
    ui.wait_text("h1", DASHBOARD, false);
    ui.goto("/txns/1");
    ui.wait_text("#txn-status", "成功", false);
    ui.fill("#void-reason", "顾客要求撤销");
    ui.click("#void-consent");
    ui.screenshot("transaction");
    ui.click_confirm("#void-submit", "原交易变为已撤销");
    ui.wait_text("#result", "待审核", false);
    ui.goto("/review?status=pending");
    ui.wait_text("#req-1", "顾客要求撤销", false);
    assert_eq!(
        ui.count("#req-1 form[action='/review/1/approve']"),
        0,
        "nobody reviews their own request"
    );
    ui.logout();
    ui.login("supervisor", None);
    ui.wait_text("h1", DASHBOARD, false);
    ui.goto("/review?status=pending");
    ui.wait_text("#req-1", "顾客要求撤销", false);
    ui.screenshot("review");
    ui.fill(
        "#req-1 form[action='/review/1/approve'] input[name=comment]",
        "已核实",
    );
    ui.click_confirm(
        "#req-1 form[action='/review/1/approve'] button",
        "款项退回持卡人",
    );
    ui.wait_text("#result", "", false);
    assert_eq!(
        ui.count("p.ok#result"),
        1,
        "approved: {}",
        ui.text("#result")
    );
    ui.goto("/txns/1");
    ui.wait_text("#txn-status", "已撤销", true);
    ui.wait_text("#timeline", "执行撤销申请：已执行", false);
    ui.screenshot("transaction-voided-timeline");
}

/// Goal: the admin hides a record with a reason; the cashier's list no longer shows it and
/// has no toggle for hidden records; the auditor ticks 包含已删除记录 and sees it marked.
fn hide_and_auditor_view(driver: &Driver) {
    let app = spawn_app();
    let ui = Ui::open(driver, &app);
    ui.admin_enrol();
    ui.goto("/txns/2");
    ui.screenshot("transaction-actions-admin");
    ui.fill("#hide-reason", "重复录入");
    ui.click_confirm("#hide-submit", "审计员仍可查看");
    ui.wait_text("#result", "", false);
    assert_eq!(ui.count("p.ok#result"), 1, "hidden: {}", ui.text("#result"));
    ui.goto("/channels");
    ui.wait_text("main", "拉卡拉", false);
    ui.screenshot("channels-admin");
    ui.goto("/users");
    ui.wait_text("main", "auditor", false);
    ui.screenshot("users");
    // Backups are the acquirer's (issue 14): the platform's user makes and checks one.
    ui.logout();
    ui.platform_enrol();
    ui.click_confirm("#backup-now", "服务照常运行");
    ui.wait_text("#result", "备份已创建", false);
    ui.goto("/ops");
    ui.click("#backups button[type=submit]");
    ui.wait_text("#result", "校验通过", false);
    ui.goto("/ops");
    ui.wait_text("#backups", "通过", false);
    ui.screenshot("operations");
    ui.logout();
    ui.login("cashier", None);
    ui.wait_text("h1", DASHBOARD, false);
    ui.goto("/txns");
    assert_eq!(ui.count("a[href='/txns/2']"), 0, "hidden from the cashier");
    assert_eq!(
        ui.count("input[name=include_hidden]"),
        0,
        "no toggle for a cashier"
    );
    ui.logout();
    ui.login("auditor", None);
    ui.wait_text("h1", DASHBOARD, false);
    ui.goto("/txns");
    assert_eq!(ui.count("a[href='/txns/2']"), 0, "not without the toggle");
    ui.click("input[name=include_hidden]");
    ui.click("#search");
    ui.wait_text("#txn-table", "已删除", false);
    assert_eq!(
        ui.count("tr.hidden-row a[href='/txns/2']"),
        1,
        "the hidden row, marked"
    );
    ui.screenshot("transactions-auditor");
    ui.goto("/channels");
    ui.wait_text("main", "拉卡拉", false);
    ui.screenshot("channels");
    ui.goto("/audit?verify=true");
    ui.wait_text("#verdict", "审计链完整", false);
    ui.screenshot("audit");
    ui.goto("/batches");
    ui.wait_text("h1", "批次", false);
    ui.screenshot("batches");
}

/// Records about a second of WebM video in the browser (a canvas through MediaRecorder), as
/// a counter camera's clip would be, and returns its bytes.
fn record_clip(ui: &Ui) -> Vec<u8> {
    let script = r#"
        const done = arguments[arguments.length - 1];
        const c = document.createElement('canvas'); c.width = 160; c.height = 120;
        const g = c.getContext('2d');
        const rec = new MediaRecorder(c.captureStream(25), { mimeType: 'video/webm' });
        const chunks = [];
        rec.ondataavailable = e => chunks.push(e.data);
        rec.onstop = async () => {
            const b = new Blob(chunks, { type: 'video/webm' });
            done(Array.from(new Uint8Array(await b.arrayBuffer())));
        };
        let f = 0;
        const t = setInterval(() => {
            g.fillStyle = f % 2 ? '#b91c1c' : '#047857'; g.fillRect(0, 0, 160, 120);
            g.fillStyle = '#fff'; g.fillText('counter ' + f, 10, 60); f++;
        }, 40);
        rec.start(100);
        setTimeout(() => { clearInterval(t); rec.stop(); }, 1200);
    "#;
    let v = ui
        .rt
        .block_on(ui.c().execute_async(script, vec![]))
        .expect("recording");
    let bytes: Vec<u8> = v
        .as_array()
        .expect("bytes")
        .iter()
        .map(|b| u8::try_from(b.as_u64().unwrap_or(256)).expect("a byte"))
        .collect();
    assert!(bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]), "a WebM clip");
    bytes
}

/// Plays the page's first evidence video (muted) for a moment and checks Chromium decoded
/// frames of it: it has data, its time moved, and it is the clip's 160 pixels wide.
fn assert_plays(ui: &Ui) {
    let played = ui
        .rt
        .block_on(ui.c().execute_async(
            r#"
            const done = arguments[arguments.length - 1];
            const v = document.querySelector('video.player');
            v.muted = true;
            v.play().then(
                () => setTimeout(() => { v.pause(); done([v.readyState, v.currentTime, v.videoWidth]); }, 800),
                e => done(String(e)));
            "#,
            vec![],
        ))
        .expect("playback");
    let ready = played[0].as_u64().unwrap_or(0);
    let at = played[1].as_f64().unwrap_or(0.0);
    assert!(
        ready >= 2 && at > 0.0 && played[2] == 160,
        "the clip plays: {played}"
    );
}

/// Goal: a supervisor uploads the counter video to a sale through the page's file field
/// (the confirmation says it is kept for the retention period); a file whose bytes are not
/// the type its name claims is refused with a message and stores nothing; the transaction
/// page then plays the clip — Chromium decodes frames of it fetched from the server.
fn evidence_upload_and_playback(driver: &Driver) {
    let app = spawn_app();
    let ui = Ui::open(driver, &app);
    ui.login("supervisor", None);
    ui.wait_text("h1", DASHBOARD, false);
    ui.goto("/txns/1");
    ui.wait_text("#evidence", "暂无证据", false);
    let clip = record_clip(&ui);
    let files = tempfile::tempdir().expect("dir");
    let fake = files.path().join("fake.webm");
    std::fs::write(&fake, "not a video at all").expect("write");
    ui.choose_file("#evidence-file", &fake);
    ui.click_confirm("#evidence-submit", "不能删除");
    ui.wait_text("p.error#result", "文件", false);
    ui.goto("/txns/1");
    ui.wait_text("#evidence", "暂无证据", false);
    let real = files.path().join("counter.webm");
    std::fs::write(&real, &clip).expect("write");
    ui.choose_file("#evidence-file", &real);
    ui.click_confirm("#evidence-submit", "不能删除");
    ui.wait_text("p.ok#result", "counter.webm", false);
    ui.goto("/txns/1");
    ui.wait_text("#evidence figcaption", "counter.webm", false);
    assert_plays(&ui);
    ui.screenshot("transaction-evidence");
    ui.goto("/lang/en?back=/txns/1");
    ui.wait_text("#evidence", "Evidence", false);
    assert_plays(&ui);
    ui.screenshot("transaction-en");
}

/// Goal: a mistaken void in the browser — the supervisor opens a 撤错 case from the void's
/// page (the confirmation says it cannot be deleted), the case page lists the voided sale,
/// the void and the re-charge with their roles, a note is added, the case is submitted, and
/// the evidence pack downloads as a zip whose `SHA256SUMS` matches its files.
fn mistaken_void_case(driver: &Driver) {
    let app = spawn_app();
    let s = sale(&*app.store, 5_800);
    let v = void(&*app.store, s);
    let r = recharge(&*app.store, 5_800, s);
    let ui = Ui::open(driver, &app);
    ui.login("supervisor", None);
    ui.wait_text("h1", DASHBOARD, false);
    ui.goto(&format!("/txns/{v}"));
    ui.fill("#case-note", "收银员误撤销，顾客已重新付款");
    ui.click_confirm("#case-submit", "不能删除");
    ui.wait_text("p.ok#result", "已开立案件 #1", false);
    ui.click("a.button");
    ui.wait_text("#case-status", "处理中", false);
    let links = ui.text("#case-links tbody");
    for (id, role) in [(s, "被撤销的消费"), (v, "撤销"), (r, "重新收款")] {
        assert!(
            links.contains(&format!("#{id}")) && links.contains(role),
            "{links}"
        );
    }
    ui.fill("#case-note-text", "已致电收单行，待回复");
    ui.click("#case-note-form button");
    ui.wait_text("p.ok#result", "处理中", false);
    ui.goto("/cases/1");
    ui.click_confirm("#case-submit", "等待收单机构答复");
    ui.wait_text("p.ok#result", "已提交收单机构", false);
    ui.goto("/cases/1");
    ui.wait_text("#case-notes", "待回复", false);
    ui.screenshot("case");
    ui.click("#case-pack");
    let file = ui.downloaded("zip");
    let bytes = std::fs::read(&file).expect("read the pack");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).expect("entry bytes");
        files.insert(f.name().to_owned(), data);
    }
    let sums = String::from_utf8(files["SHA256SUMS"].clone()).expect("utf-8");
    for line in sums.lines() {
        let (hash, name) = line.split_once("  ").expect("hash  name");
        let actual = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&files[name]))
        };
        assert_eq!(hash, actual, "{name}");
    }
    assert_eq!(sums.lines().count(), files.len() - 1, "{sums}");
    for t in [s, v, r] {
        assert!(
            files.contains_key(&format!("receipts/{t}.txt")),
            "{:?}",
            files.keys()
        );
    }
    assert!(files.contains_key("case.json") && files.contains_key("audit.json"));
}

/// axe-core's script from the npm package (`crates/web/tests/axe`, `npm ci`). Missing, it is
/// a failure under CI (`CI=true`) and a skipped check, said aloud, elsewhere.
fn axe_source() -> Option<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/axe/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(js) => Some(js),
        Err(e) => {
            let how = "npm ci --prefix crates/web/tests/axe";
            assert!(
                !std::env::var("CI").is_ok_and(|v| v == "true"),
                "{} is missing ({e}): run `{how}`",
                path.display()
            );
            eprintln!(
                "accessibility checks skipped: {} is missing; run `{how}`",
                path.display()
            );
            None
        }
    }
}

/// A tiny real PNG (1×1), for a photo evidence item.
const PNG_1X1: &str = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63fccfc0500f000485018084a98c210000000049454e44ae426082";

/// Checks the page now open at both widths: no axe violation at 1366 px and at 390 px, no
/// sideways scrolling at either; saves the phone's screenshot as `phone-NAME` (when `shot`).
/// Returns the problems found, each naming the page and the width.
fn check_page(ui: &Ui, axe: Option<&str>, name: &str, shot: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for (width, height) in [(WINDOW_WIDTH, WINDOW_HEIGHT), (PHONE_WIDTH, PHONE_HEIGHT)] {
        ui.viewport(width, height);
        let (over, wide) = ui.overflow();
        if over > 0 {
            problems.push(format!(
                "{name} @{width}px scrolls sideways by {over}px: {wide}"
            ));
        }
        if let Some(axe) = axe {
            for v in ui.axe_violations(axe) {
                problems.push(format!("{name} @{width}px: {v}"));
            }
        }
        if shot && width == PHONE_WIDTH {
            ui.screenshot(&format!("phone-{name}"));
        }
    }
    ui.viewport(WINDOW_WIDTH, WINDOW_HEIGHT);
    problems
}

/// Goal (issue 18): every back-office page — login, TOTP enrolment, dashboard, transactions,
/// a transaction with evidence and every action form, the review queue with requests to
/// review, batches, cases and a case, channels, users, audit, operations with a backup, the
/// guide and a result page — has zero axe-core violations (`target-size` included) at 1366 px
/// and at 390 px, and none scrolls sideways on the phone; on the phone the header folds into
/// a menu button that opens the menu.
fn every_page_accessible(driver: &Driver) {
    let axe = axe_source();
    let axe = axe.as_deref();
    let app = spawn_app();
    // Something on every page: a mistaken void and its case, requests to review, evidence.
    let s = sale(&*app.store, 5_800);
    let v = void(&*app.store, s);
    recharge(&*app.store, 5_800, s);
    let cashier = app.login("cashier");
    cashier.request("void", 1, r#","customer_consent":true"#);
    cashier.request("refund", 3, r#","amount":"100.00""#);
    let sup = app.login("supervisor");
    let r = sup.post(
        "/api/v1/cases",
        &format!(r#"{{"transaction_id":{v},"kind":"mistaken_void","note":"收银员误撤销，顾客已重新付款"}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let png = hex::decode(PNG_1X1).expect("hex");
    let (ctype, body) = multipart(&[], Some(("receipt-photo.png", "image/png", &png)));
    let r = app.req(
        "POST",
        "/api/v1/transactions/1/evidence",
        &[
            ("Cookie", &sup.cookie),
            ("X-CSRF-Token", &sup.csrf),
            ("Content-Type", &ctype),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    let ui = Ui::open(driver, &app);
    let mut problems = Vec::new();
    ui.goto("/login");
    ui.wait_text("h1", "登录", false);
    if let Some(axe) = axe {
        // axe itself works and `target-size` is on: an unlabelled field and a 10 px button,
        // added to the page for a moment, are reported.
        ui.rt
            .block_on(ui.c().execute(
                "const f = document.createElement('div'); f.id = 'axe-self-check'; \
                 f.innerHTML = '<input name=x><button>x</button><button>y</button>'; \
                 for (const b of f.querySelectorAll('button')) { \
                   Object.assign(b.style, {width: '10px', height: '10px', minHeight: '0', padding: '0'}); } \
                 document.querySelector('main').append(f);",
                vec![],
            ))
            .expect("self-check");
        let found = ui.axe_violations(axe).join("\n");
        assert!(
            found.contains("label") && found.contains("target-size"),
            "axe finds a known fault: {found}"
        );
        ui.goto("/login");
    }
    problems.extend(check_page(&ui, axe, "login", true));
    ui.goto("/help");
    problems.extend(check_page(&ui, axe, "help", false));
    ui.login("admin", None);
    ui.wait_text("h1", "绑定动态验证码", false);
    problems.extend(check_page(&ui, axe, "totp-enrol", false));
    let secret = ui.text("#totp-secret");
    ui.fill("#totp-code", &totp_code(&secret, app.store.now()));
    ui.click("#totp-submit");
    ui.wait_text("h1", DASHBOARD, false);
    let void_page = format!("/txns/{v}");
    let pages: [(&str, &str, &str); 15] = [
        ("/dashboard", "dashboard", "h1"),
        ("/alerts", "alerts", "#alert-filters"),
        ("/risk/limits", "risk-limits", "#limits-form"),
        ("/txns", "transactions", "#txn-table"),
        ("/txns/1", "transaction", "#evidence"),
        (&void_page, "transaction-void", "#case"),
        ("/review?status=pending", "review", "#review-table"),
        ("/review", "review-all", "#review-table"),
        ("/batches", "batches", "#batches"),
        ("/cases", "cases", "#cases-table"),
        ("/cases/1", "case", "#case-links"),
        ("/channels", "channels", "#channels"),
        ("/terminals", "terminals", "#terminals"),
        ("/users", "users", "#users"),
        ("/audit", "audit", "#audit"),
    ];
    for (path, name, wait) in pages {
        ui.goto(path);
        ui.element(wait);
        // The documentation shows one phone picture per kind of page.
        let shot = !matches!(
            name,
            "review-all" | "transaction-void" | "alerts" | "risk-limits" | "terminals"
        );
        problems.extend(check_page(&ui, axe, name, shot));
    }
    ui.goto("/help");
    ui.element("#find");
    problems.extend(check_page(&ui, axe, "help-signed-in", false));
    // The phone's menu: folded behind its button, which opens it.
    ui.goto("/dashboard");
    ui.viewport(PHONE_WIDTH, PHONE_HEIGHT);
    assert_eq!(ui.count("#menu a[href='/txns']:not([hidden])"), 1);
    let shown = |ui: &Ui| {
        ui.rt
            .block_on(ui.c().execute(
                "return document.querySelector('#menu').getBoundingClientRect().height > 0;",
                vec![],
            ))
            .expect("menu")
            .as_bool()
    };
    assert_eq!(shown(&ui), Some(false), "folded on a phone");
    ui.click("#menu-button");
    assert_eq!(shown(&ui), Some(true), "opened by its button");
    let button = ui.element("#menu-button");
    let expanded = ui.rt.block_on(button.attr("aria-expanded")).expect("attr");
    assert_eq!(expanded.as_deref(), Some("true"));
    ui.screenshot("phone-menu");
    ui.viewport(WINDOW_WIDTH, WINDOW_HEIGHT);
    // Backups are the acquirer's (issue 14): the platform's user makes one, and its 运维
    // page (with the purge form and its merchant field) is checked.
    ui.goto("/dashboard");
    ui.logout();
    ui.platform_enrol();
    ui.click_confirm("#backup-now", "服务照常运行");
    ui.wait_text("#result", "备份已创建", false);
    problems.extend(check_page(&ui, axe, "result", false));
    ui.goto("/ops");
    ui.element("#backups");
    problems.extend(check_page(&ui, axe, "ops", true));
    // The acquirer's console (issue 14): home, merchants with the onboarding form, one
    // merchant with its edit and status forms, its KYC upload and channels, and the changes
    // to review.
    for (path, name, wait) in [
        ("/acquirer", "acquirer", "#terminals-count"),
        ("/acquirer/merchants", "acquirer-merchants", "#onboard"),
        (
            "/acquirer/merchants/898310048990001",
            "acquirer-merchant",
            "#edit",
        ),
        (
            "/acquirer/merchant-changes",
            "acquirer-changes",
            "#no-pending",
        ),
        ("/acquirer/terminals", "acquirer-terminals", "#register"),
        ("/alerts", "acquirer-alerts", "#alert-filters"),
        (
            "/acquirer/merchants/898310048990001/risk",
            "acquirer-risk",
            "#limits-form",
        ),
        ("/acquirer/blocklist", "acquirer-blocklist", "#block-add"),
        (
            "/acquirer/compliance",
            "acquirer-compliance",
            "#reports-none",
        ),
        // Every merchant's activity, the channel switch and key loading (issue 14).
        (
            "/acquirer/transactions",
            "acquirer-txns",
            "#merchant-filter",
        ),
        ("/acquirer/transactions/1", "acquirer-txn", "#txn-merchant"),
        ("/acquirer/cases", "acquirer-cases", "#merchant-filter"),
        (
            "/acquirer/channels",
            "acquirer-channels",
            "#platform-channels",
        ),
        (
            "/acquirer/terminals/12345678/keys",
            "acquirer-keys",
            "#tmk-form",
        ),
    ] {
        ui.goto(path);
        ui.element(wait);
        problems.extend(check_page(&ui, axe, name, false));
    }
    assert!(
        problems.is_empty(),
        "{} accessibility problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Waits until a login or TOTP enrolment has left `/login` and `/totp`.
fn landed(ui: &Ui<'_>) {
    let started = Instant::now();
    while ui.path().starts_with("/totp") || ui.path().starts_with("/login") {
        if started.elapsed() >= WAIT_MAX {
            let main = ui.text("main");
            panic!("the login never ended: {} shows {main:?}", ui.path());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Approves the one change waiting on 商户变更审核 as the logged-in acquirer user.
fn approve_waiting_change(ui: &Ui<'_>) {
    ui.goto("/acquirer/merchant-changes");
    ui.click_confirm("form[action$='/approve'] button[type='submit']", "立即生效");
    ui.wait_text("#result", "变更已生效", false);
}

/// Goal (issue 14, done means): an acquirer user onboards a merchant on the console and a
/// second acquirer user approves it (each change, the creation and the activation, by the
/// other one), a terminal is registered to the new merchant, and the new merchant's admin
/// logs in, adds a cashier on 用户 and sees only its own records — none of the demo
/// merchant's sales, users or terminal.
fn acquirer_onboards_a_merchant(driver: &Driver) {
    use suanpan_core::backoffice::StaffRole;
    use suanpan_store::backoffice::Backoffice;
    const NEW: &str = "898310048990009";
    let app = spawn_app();
    // The second acquirer user, as `suanpan admin acquirer-user add` creates one.
    let hash = suanpan_store::auth::hash_password("checker-demo");
    app.store
        .add_staff_in(
            None,
            "checker",
            "运营 复核员",
            StaffRole::Operations,
            None,
            &hash,
        )
        .expect("the checker");
    let ui = Ui::open(driver, &app);
    let platform = ui.enrol("platform");
    landed(&ui);
    ui.goto("/acquirer/merchants");
    ui.fill("#onboard input[name='id']", NEW);
    ui.fill("#onboard input[name='name']", "上海新店餐饮有限公司");
    ui.fill("#onboard input[name='mcc']", "5812");
    ui.fill(
        "#onboard input[name='settlement_account']",
        "6222021234561234",
    );
    ui.click_confirm("#onboard button[type='submit']", "另一位机构用户");
    ui.wait_text("#result", "等待另一位机构用户审核", false);
    ui.logout();
    // The checker approves the onboarding and asks for the activation.
    ui.enrol("checker");
    landed(&ui);
    approve_waiting_change(&ui);
    ui.goto(&format!("/acquirer/merchants/{NEW}"));
    ui.wait_text("main", "6222 **** **** 1234", false);
    ui.click_confirm("#status button[type='submit']", "另一位机构用户");
    ui.wait_text("#result", "等待另一位机构用户审核", false);
    ui.logout();
    // The maker approves the activation and registers the merchant's terminal (a TOTP
    // code is good once: the clock moves on to the next one).
    app.advance(30);
    ui.login("platform", Some(&platform));
    landed(&ui);
    approve_waiting_change(&ui);
    ui.goto("/acquirer/terminals");
    ui.fill("#register input[name='id']", "N0000001");
    ui.fill("#register input[name='merchant']", NEW);
    ui.click_confirm("#register button[type='submit']", "登记终端");
    ui.wait_text("#result", "N0000001", false);
    ui.goto("/acquirer/terminals");
    ui.wait_text("#terminal-N0000001", NEW, false);
    ui.logout();
    // The new merchant's first admin, as `suanpan admin user add --merchant` creates one.
    let merchant = suanpan_core::MerchantId::parse(NEW).expect("id");
    let hash = suanpan_store::auth::hash_password("n-admin-demo");
    app.store
        .add_staff_in(
            Some(&merchant),
            "n-admin",
            "新店 管理员",
            StaffRole::Admin,
            None,
            &hash,
        )
        .expect("the new merchant's admin");
    ui.enrol("n-admin");
    ui.wait_text("h1", DASHBOARD, false);
    let main = ui.text("main");
    assert!(
        !main.contains("¥6,208.00"),
        "none of the demo merchant's day: {main}"
    );
    ui.goto("/users");
    let form = "form[action='/users']";
    ui.fill(&format!("{form} input[name='username']"), "n-cashier");
    ui.fill(&format!("{form} input[name='name']"), "新店 收银员");
    ui.click(&format!(
        "{form} select[name='role'] option[value='cashier']"
    ));
    ui.fill(&format!("{form} input[name='operator_no']"), "01");
    ui.fill(&format!("{form} input[name='password']"), "n-cashier-demo");
    ui.click_confirm(&format!("{form} button[type='submit']"), "确认新增");
    ui.wait_text("#result", "n-cashier", false);
    ui.goto("/users");
    let users = ui.text("main");
    assert!(users.contains("n-cashier"), "{users}");
    assert_eq!(
        ui.count("main tbody tr"),
        2,
        "only its own users, n-admin and n-cashier: {users}"
    );
    ui.goto("/txns");
    let txns = ui.text("main");
    assert!(
        !txns.contains(suanpan_store::admin::DEMO_TERMINAL),
        "none of the demo merchant's transactions: {txns}"
    );
    ui.goto("/audit");
    let audit = ui.text("main");
    assert!(
        !audit.contains(suanpan_store::admin::DEMO_TERMINAL),
        "none of the demo merchant's audit entries: {audit}"
    );
}

/// A named browser scenario.
type Scenario = fn(&Driver);

/// Goal: every browser scenario above passes in headless Chromium.
#[test]
fn browser_scenarios() {
    if std::env::var("SUANPAN_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("SUANPAN_SKIP_BROWSER=1: browser scenarios skipped");
        return;
    }
    let path = env_or("SUANPAN_CHROMEDRIVER", "/usr/bin/chromedriver");
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: apt-get install -y chromium chromium-driver (or SUANPAN_SKIP_BROWSER=1)"
    );
    let driver = start_driver(&path);
    let scenarios: [(&str, Scenario); 8] = [
        ("login_with_totp", login_with_totp),
        ("filter_and_export_download", filter_and_export_download),
        ("void_maker_checker", void_maker_checker),
        ("hide_and_auditor_view", hide_and_auditor_view),
        ("evidence_upload_and_playback", evidence_upload_and_playback),
        ("mistaken_void_case", mistaken_void_case),
        ("every_page_accessible", every_page_accessible),
        ("acquirer_onboards_a_merchant", acquirer_onboards_a_merchant),
    ];
    // `SUANPAN_BROWSER_ONLY=name` runs one scenario (while working on it).
    let only = std::env::var("SUANPAN_BROWSER_ONLY").ok();
    let mut failed = Vec::new();
    for (name, scenario) in scenarios {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&driver)));
        eprintln!(
            "browser scenario {name}: {} in {:.1}s",
            if outcome.is_ok() { "ok" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
        if outcome.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "browser scenarios failed: {failed:?}");
}
