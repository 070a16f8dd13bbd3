"""pyiso8583 4.0.1 packing and unpacking the same 0200 chip sale as
crates/iso8583/benches/codec.rs and crates/iso8583/examples/codec_rate.rs, for a side-by-side
rate. pyiso8583 computes no MAC: field 64 is packed and unpacked as opaque bytes, which favours
pyiso8583 in the comparison.

Run through scripts/bench-codec-vs-pyiso8583.sh (it makes a throwaway venv)."""

import sys
import time

import iso8583

BCD = {"data_enc": "b", "len_enc": "b", "len_type": 0, "len_count": "nibbles", "left_pad": "0"}
LL_BCD = {"data_enc": "b", "len_enc": "bcd", "len_type": 1, "len_count": "nibbles", "right_pad": "0"}
LLL_BCD = {"data_enc": "b", "len_enc": "bcd", "len_type": 2, "len_count": "nibbles", "right_pad": "0"}
LLL_BIN = {"data_enc": "b", "len_enc": "bcd", "len_type": 2, "len_count": "bytes"}
ASCII = {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "len_count": "bytes"}
BIN = {"data_enc": "b", "len_enc": "ascii", "len_type": 0, "len_count": "bytes"}


def field(base, max_len, desc, **extra):
    spec = dict(base)
    spec.update({"max_len": max_len, "desc": desc})
    spec.update(extra)
    return spec


SPEC = {
    "h": field(BIN, 11, "TPDU + header"),
    "t": field(BIN, 2, "MTI (BCD)"),
    "p": field(BIN, 8, "Bitmap"),
    "1": field(BIN, 8, "Secondary bitmap (never set)"),
    "3": field(BCD, 6, "Processing code"),
    "4": field(BCD, 12, "Amount"),
    "11": field(BCD, 6, "STAN"),
    "22": field(BCD, 3, "Entry mode", left_pad=None, right_pad="0"),
    "23": field(BCD, 3, "Card sequence"),
    "25": field(BCD, 2, "POS condition"),
    "26": field(BCD, 2, "PIN capture"),
    "35": field(LL_BCD, 37, "Track 2"),
    "41": field(ASCII, 8, "Terminal id"),
    "42": field(ASCII, 15, "Merchant id"),
    "49": field(ASCII, 3, "Currency"),
    "52": field(BIN, 8, "PIN block"),
    "53": field(BCD, 16, "Security control"),
    "55": field(LLL_BIN, 255, "ICC data"),
    "60": field(LLL_BCD, 17, "Reserved private"),
    "64": field(BIN, 8, "MAC"),
}
for spec in SPEC.values():
    if spec.get("left_pad") is None:
        spec.pop("left_pad", None)

SALE = {
    "h": "600003000060220000000000"[:22],
    "t": "0200",
    "3": "000000",
    "4": "000000012345",
    "11": "000123",
    "22": "051",
    "23": "001",
    "25": "00",
    "26": "12",
    "35": "6217001234567890123D28122011234567",
    "41": "12345678",
    "42": "898310048161234",
    "49": "156",
    "52": "2E31BB08A843460C",
    "53": "2600000000000000",
    "55": "9F" * 120,
    "60": "22000001000",
    "64": "3031323334353637",
}


def rate(fn, seconds):
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(1000):
            fn()
        n += 1000
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    raw, _ = iso8583.encode(dict(SALE), SPEC)
    decoded, _ = iso8583.decode(raw, SPEC)
    assert decoded["4"] == SALE["4"] and decoded["35"] == SALE["35"], decoded
    enc = rate(lambda: iso8583.encode(dict(SALE), SPEC), seconds)
    dec = rate(lambda: iso8583.decode(raw, SPEC), seconds)
    pair = 1.0 / (1.0 / enc + 1.0 / dec)
    print(f"pyiso8583 frame_bytes={len(raw)} encode_per_s={enc:.0f} decode_per_s={dec:.0f} pack_unpack_per_s={pair:.0f}")


if __name__ == "__main__":
    main()
