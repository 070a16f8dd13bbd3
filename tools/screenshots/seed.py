# Seeds a running demo back-office (serve --demo) with sales, requests, evidence, a hidden
# record and a disabled channel, over the API. Usage: python3 seed.py http://127.0.0.1:8080
# Writes the enrolled admin's TOTP secret to /tmp/shots/admin.secret for drive.py.
import json, urllib.request, http.cookiejar, struct, zlib, hmac, hashlib, base64, time, sys
BASE = sys.argv[1]
def client():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
def call(op, method, path, body=None, csrf=None, ctype="application/json", raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None: req.add_header("Content-Type", ctype)
    if csrf: req.add_header("X-CSRF-Token", csrf)
    try:
        r = op.open(req); t = r.read()
        return json.loads(t) if t else None
    except urllib.error.HTTPError as e:
        print("ERR", path, e.code, e.read()[:200]); return None
def login(user, totp=None):
    op = client(); body = {"username": user, "password": user + "-demo"}
    if totp: body["totp"] = totp
    s = call(op, "POST", "/api/v1/session", body); return op, s["csrf_token"], s
def totp_code(secret, t=None):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8)); c = int((t or time.time()) // 30)
    h = hmac.new(key, struct.pack(">Q", c), hashlib.sha1).digest(); o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o+4])[0] & 0x7fffffff) % 1000000)
def png(w, h):
    raw = b"".join(b"\0" + b"".join(bytes([x * 255 // w, 90, y * 255 // h]) for x in range(w)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
cash, cc, _ = login("cashier"); sup, sc, _ = login("supervisor"); fin, fc, _ = login("finance")
for a in [8800, 12000, 3650, 49900, 1500, 26800, 99900]:
    call(cash, "POST", "/api/v1/payments", {"kind": "sale", "amount": a, "card": {"pan": "6222021234567890128"}}, cc)
call(sup, "POST", "/api/v1/payments", {"kind": "sale", "amount": "66.00", "wallet": {"id": "alipay-demo-001"}}, sc)
call(sup, "POST", "/api/v1/payments", {"kind": "sale", "amount": "23.50", "wallet": {"id": "wechat-demo-001"}}, sc)
call(cash, "POST", "/api/v1/requests", {"kind": "void", "transaction_id": 2, "reason": "顾客取消订单", "customer_consent": True}, cc)
call(sup, "POST", "/api/v1/requests/1/approve", {"comment": "核实无误"}, sc)
call(cash, "POST", "/api/v1/requests", {"kind": "refund", "transaction_id": 4, "amount": "100.00", "reason": "部分退货"}, cc)
call(fin, "POST", "/api/v1/requests/2/approve", {"comment": "同意"}, fc)
call(cash, "POST", "/api/v1/requests", {"kind": "void", "transaction_id": 1, "reason": "重复刷卡", "customer_consent": True}, cc)
call(cash, "POST", "/api/v1/requests", {"kind": "refund", "transaction_id": 7, "amount": "999.00", "reason": "商品退回"}, cc)
b = "----seedboundary"; img = png(320, 180)
body = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"柜台照片.png\"\r\nContent-Type: image/png\r\n\r\n" % b).encode() + img + ("\r\n--%s--\r\n" % b).encode()
call(cash, "POST", "/api/v1/transactions/1/evidence", raw=body, csrf=cc, ctype="multipart/form-data; boundary=" + b)
adm, ac, s = login("admin")
offer = call(adm, "GET", "/api/v1/totp"); secret = offer["secret"]
call(adm, "POST", "/api/v1/totp", {"code": totp_code(secret)}, ac)
call(adm, "POST", "/api/v1/channels/lakala/disable", {"password": "admin-demo", "reason": "合同到期 contract ended"}, ac)
call(adm, "POST", "/api/v1/transactions/3/hide", {"reason": "测试记录"}, ac)
__import__("os").makedirs("/tmp/shots", exist_ok=True); open("/tmp/shots/admin.secret", "w").write(secret)
print("seeded")
