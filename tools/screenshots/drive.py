# Drives the demo back-office in headless Chromium over raw WebDriver; saves screenshots.
import json, urllib.request, base64, time, sys, struct, hmac, hashlib
BASE = sys.argv[1]; OUT = sys.argv[2]; WD = "http://127.0.0.1:9515"
def call(method, path, body=None):
    req = urllib.request.Request(WD + path, method=method, data=json.dumps(body).encode() if body is not None else None, headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["value"]
def totp_code(secret):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8)); c = int(time.time() // 30)
    h = hmac.new(key, struct.pack(">Q", c), hashlib.sha1).digest(); o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o+4])[0] & 0x7fffffff) % 1000000)
def browser():
    caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"args": ["--headless=new", "--no-sandbox", "--window-size=1280,1000"]}}}}
    return "/session/" + call("POST", "/session", caps)["sessionId"]
class B:
    def __init__(s): s.S = browser()
    def go(s, p): call("POST", s.S + "/url", {"url": BASE + p})
    def find(s, css): return list(call("POST", s.S + "/element", {"using": "css selector", "value": css}).values())[0]
    def typ(s, css, t): call("POST", s.S + "/element/%s/value" % s.find(css), {"text": t})
    def click(s, css): call("POST", s.S + "/element/%s/click" % s.find(css), {})
    def scroll(s, y): call("POST", s.S + "/execute/sync", {"script": "window.scrollTo(0, %d)" % y, "args": []})
    def shot(s, name): open("%s/%s.png" % (OUT, name), "wb").write(base64.b64decode(call("GET", s.S + "/screenshot")))
    def login(s, user, totp=None):
        s.go("/lang/zh?back=/login"); s.typ("#username", user); s.typ("#password", user + "-demo")
        if totp: s.typ("#totp", totp)
        s.click("#login-submit"); time.sleep(0.3)
    def quit(s): call("DELETE", s.S)
b = B()
try:
    b.go("/lang/zh?back=/login"); b.shot("login")
    b.login("finance"); b.shot("dashboard")
    b.go("/txns"); b.shot("transactions")
    b.go("/txns?include_hidden=true"); b.shot("transactions-filtered")
    b.go("/txns/1"); b.shot("transaction")
    b.scroll(900); b.shot("transaction-evidence")
    b.go("/txns/2"); b.scroll(700); b.shot("transaction-voided-timeline")
    b.go("/review"); b.shot("review")
    b.go("/batches"); b.shot("batches")
    b.go("/audit?verify=true"); b.shot("audit")
    b.go("/channels"); b.shot("channels")
    b.go("/lang/en?back=/txns/4"); b.shot("transaction-en")
    b.go("/lang/zh?back=/dashboard")
finally:
    b.quit()
b = B()
try:
    b.login("admin2"); b.shot("totp-enrol")
finally:
    b.quit()
time.sleep(max(0, 31 - time.time() % 30))
b = B()
try:
    b.login("admin", totp_code(open("/tmp/shots/admin.secret").read().strip()))
    b.go("/channels"); b.shot("channels-admin")
    b.go("/users"); b.shot("users")
    b.go("/txns/7"); b.scroll(1200); b.shot("transaction-actions-admin")
finally:
    b.quit()
print("done")
