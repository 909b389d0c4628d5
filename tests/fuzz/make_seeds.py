#!/usr/bin/env python3
"""Writes the seed corpus in tests/fuzz/corpus/ for capture_fuzzer.

Each seed is one selector byte followed by a request body. Selector bits:
0-1 Content-Type (0 JSON, 1 text/plain, 2 form, 3 none), 2-4 the compression
query parameter (0 none, 1 gzip-js, 2 gzip, 3 base64, 4 lz64), 6
Content-Encoding: gzip, 7 the webhook route instead of capture.
Rerun it after changing a seed below; gzip output is fixed with mtime=0.
"""
import base64
import gzip
import os
import urllib.parse


def selector(content_type=0, compression=0, content_encoding=False, webhook=False):
    value = content_type | (compression << 2)
    value |= 0x40 if content_encoding else 0
    value |= 0x80 if webhook else 0
    return bytes([value])


def gz(data):
    return gzip.compress(data, mtime=0)


EVENT = (b'{"event":"$identify","distinct_id":"ann@example.com","properties":{"$set":'
         b'{"email":"ann@example.com"},"token":"phc_fuzz"},"timestamp":"2026-01-01T00:00:00.000Z",'
         b'"uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}')
BATCH = (b'{"api_key":"phc_fuzz","batch":[' + EVENT +
         b',{"event":"signed_up","distinct_id":42,"timestamp":1767225600,'
         b'"sent_at":"2026-01-01T00:00:01Z"}],"sent_at":"2026-01-01T00:00:00.100Z"}')
# LZString.compressToBase64 of a $pageview event, from tests/ingest/capture_decoder_test.cc.
LZ64 = (b"N4IgpgbmB2AuIC4QBIAOBDA5pAlmA7iADQgAmOAzrDtAMawD6OpiIArhWAE4C0AjMRCouAe1TdqYColDJabLlxiMFAG1YA"
        b"LWLFQUEAen1gAHugC2qVWAB0tEWf0gAvk6A===")

SEEDS = {
    "json_event": selector() + EVENT,
    "json_batch": selector() + BATCH,
    "json_array": selector(content_type=1) + b"[" + EVENT + b"," + EVENT + b"]",
    "gzip_magic": selector(content_type=1) + gz(BATCH),
    "gzip_header": selector(compression=1, content_encoding=True) + gz(BATCH),
    "gzip_two_members": selector(compression=2) + gz(EVENT) + gz(b""),
    "base64_query": selector(compression=3) + base64.b64encode(EVENT),
    "base64_bare": selector(content_type=3) + base64.b64encode(gz(BATCH)),
    "lz64_query": selector(compression=4) + LZ64,
    "form_lz64": selector(content_type=2, compression=4) + b"data=" +
                 urllib.parse.quote(LZ64, safe="").encode(),
    "form_base64": selector(content_type=2) + b"data=" +
                   base64.b64encode(EVENT).replace(b"+", b" ") + b"&compression=base64",
    "form_json": selector(content_type=2) + b"data=" + urllib.parse.quote(EVENT, safe="").encode(),
    "webhook": selector(webhook=True) + b'{"event":' + EVENT +
               b',"person":{"properties":{"email":"ann@example.com"}}}',
    "offset_and_numbers": selector() +
        b'{"event":"e","properties":{"distinct_id":1.5e3,"$ignore_sent_at":true},'
        b'"offset":1500,"sent_at":1767225600000}',
    # Integers at and beyond the 64-bit limits, and digits inside strings. The
    # next seed contains a number beyond a double's range.
    "large_numbers": selector() +
        b'{"batch":[{"event":"e","distinct_id":-9223372036854775807,"properties":'
        b'{"a\\"1":"2\\\\","n":[18446744073709551615,18446744073709551616,'
        b'-9223372036854775809,12345678901234567890123,0.30000000000000004,1e-400]}}]}',
    "number_beyond_double": selector() +
        b'{"event":"e","distinct_id":"d","properties":{"seats":1e400}}',
    "deep_nesting": selector() + b'{"event":"e","distinct_id":"d","properties":' +
                    b'{"a":' * 200 + b"1" + b"}" * 200 + b"}",
    "unicode": selector() + '{"event":"\u00e9v\u00e8nement","distinct_id":"\U0001F600",'
                            '"properties":{"k":"\\ud83d\\ude00"}}'.encode(),
    "bom": selector() + b"\xef\xbb\xbf" + EVENT,
}

if __name__ == "__main__":
    corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(corpus, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(corpus, name), "wb") as seed:
            seed.write(data)
