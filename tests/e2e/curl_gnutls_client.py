#!/usr/bin/env python3
"""A libcurl3-gnutls client for the e2e tests: Debian's libcurl-gnutls.so.4
(GnuTLS, HTTP/2 through nghttp2) driven through ctypes, no -dev package.

  curl_gnutls_client.py --url URL --cafile PEM --body JSON|@FILE [--http2]
                        [--header 'Name: value']...

Prints one JSON line: {"pid", "status", "http_version", "body",
"pretransfer_ms", "starttransfer_ms", "total_ms", "error"}; exit 0 when
the transfer finished, 1 otherwise.
"""

import argparse
import ctypes
import json
import os
import sys

CURLOPT_WRITEDATA = 10001
CURLOPT_URL = 10002
CURLOPT_WRITEFUNCTION = 20011
CURLOPT_POSTFIELDS = 10015
CURLOPT_HTTPHEADER = 10023
CURLOPT_POSTFIELDSIZE = 60
CURLOPT_CAINFO = 10065
CURLOPT_HTTP_VERSION = 84
CURL_HTTP_VERSION_1_1 = 2
CURL_HTTP_VERSION_2TLS = 4
CURLINFO_RESPONSE_CODE = 0x200002
CURLINFO_PRETRANSFER_TIME = 0x300006
CURLINFO_STARTTRANSFER_TIME = 0x300011
CURLINFO_TOTAL_TIME = 0x300003
CURLINFO_HTTP_VERSION = 0x20002E
WRITE_CB = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                            ctypes.c_size_t, ctypes.c_void_p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--http2", action="store_true")
    ap.add_argument("--header", action="append", default=[])
    args = ap.parse_args()

    lib = ctypes.CDLL("libcurl-gnutls.so.4")
    lib.curl_easy_init.restype = ctypes.c_void_p
    lib.curl_easy_setopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.curl_easy_perform.argtypes = [ctypes.c_void_p]
    lib.curl_easy_getinfo.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.curl_easy_strerror.restype = ctypes.c_char_p
    lib.curl_slist_append.restype = ctypes.c_void_p
    lib.curl_slist_append.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.curl_easy_cleanup.argtypes = [ctypes.c_void_p]
    lib.curl_slist_free_all.argtypes = [ctypes.c_void_p]

    h = lib.curl_easy_init()
    chunks = []

    @WRITE_CB
    def on_data(ptr, size, nmemb, _ud):
        chunks.append(ctypes.string_at(ptr, size * nmemb))
        return size * nmemb

    headers = None
    for line in ["Content-Type: application/json"] + args.header:
        headers = lib.curl_slist_append(headers, line.encode())
    if args.body.startswith("@"):
        with open(args.body[1:], "rb") as f:
            body = f.read()
    else:
        body = args.body.encode()
    url, cafile = args.url.encode(), args.cafile.encode()
    lib.curl_easy_setopt(h, CURLOPT_URL, url)
    lib.curl_easy_setopt(h, CURLOPT_CAINFO, cafile)
    lib.curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers)
    lib.curl_easy_setopt(h, CURLOPT_POSTFIELDS, body)
    lib.curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, ctypes.c_void_p(len(body)))
    lib.curl_easy_setopt(h, CURLOPT_HTTP_VERSION, ctypes.c_void_p(
        CURL_HTTP_VERSION_2TLS if args.http2 else CURL_HTTP_VERSION_1_1))
    lib.curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ctypes.cast(on_data, ctypes.c_void_p))
    rc = lib.curl_easy_perform(h)

    def info_long(what):
        v = ctypes.c_long(0)
        lib.curl_easy_getinfo(h, what, ctypes.byref(v))
        return v.value

    def info_ms(what):
        v = ctypes.c_double(0)
        lib.curl_easy_getinfo(h, what, ctypes.byref(v))
        return v.value * 1e3

    out = {"pid": os.getpid(), "status": info_long(CURLINFO_RESPONSE_CODE),
           "http_version": {2: "1.1", 3: "2"}.get(info_long(CURLINFO_HTTP_VERSION), "?"),
           "body": b"".join(chunks).decode("utf-8", "replace"),
           "pretransfer_ms": info_ms(CURLINFO_PRETRANSFER_TIME),
           "starttransfer_ms": info_ms(CURLINFO_STARTTRANSFER_TIME),
           "total_ms": info_ms(CURLINFO_TOTAL_TIME),
           "error": None if rc == 0 else lib.curl_easy_strerror(rc).decode()}
    lib.curl_easy_cleanup(h)
    lib.curl_slist_free_all(headers)
    print(json.dumps(out), flush=True)
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
