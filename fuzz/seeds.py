#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ (a few small
valid inputs each, in the input format each target's header comment describes).

Run from anywhere: python3 fuzz/seeds.py. Files are named by content, so running it again
only adds what changed. The corpus also keeps, as found-*, inputs that fuzzing found to
break the crate once (each fixed, with a unit test), so every CI run replays them."""
import hashlib
import hmac
import json
import os
import pickle
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pyframe(payload):  # multiprocessing.connection's send_bytes framing
    return struct.pack("!i", len(payload)) + payload


KEY = b"Do not let eve find us!"

# open_segment: even first byte = raw file, odd = a valid ring with bytes laid over it.
put("open_segment", b"\x01")
put("open_segment", b"\x00SHMRING\x00\x02\x00\x00\x00")
put("open_segment", b"\x21" + b"\xff" * 16)
# consume_hostile: 10-byte steps (op, offset, 8 bytes): send, receive, poke.
put("consume_hostile", b"\x01\x05" + b"\x00" * 8 + b"\x02" + b"\x00" * 9)
put("consume_hostile", b"\x01\x40" + b"\x00" * 8 + b"\x00\x01" + b"\xff" * 8 + b"\x02" + b"\x00" * 9)

# socket_frames: byte 0 picks max_frame (5: 4096), bytes 1-2 seed the piece sizes.
for stream in [
    pyframe(b"hello") + pyframe(b""),
    struct.pack("!i", -1) + struct.pack("!Q", 3) + b"abc",  # the large-frame escape
    pyframe(b"x" * 300) + struct.pack("!i", -2),  # a negative length
    pyframe(b"cut short")[:7],
]:
    put("socket_frames", b"\x05\x12\x34" + stream)
put("socket_frames", b"\x02\x00\x01" + pyframe(b"too long for max_frame 7"))

# socket_auth: mode, key length, key, then the mode's bytes.
def auth(mode, rest, key=KEY):
    return bytes([mode, len(key)]) + key + rest


legacy = bytes(range(20))
modern = b"{sha256}" + bytes(range(40))
put("socket_auth", auth(0, legacy))
put("socket_auth", auth(0, modern))
put("socket_auth", auth(0, b"{sha384}" + bytes(40)))
put("socket_auth", auth(0, b"{sha3_256}" + bytes(40)))
for msg in (legacy, modern):
    put("socket_auth", auth(1, pyframe(b"#CHALLENGE#" + msg) + pyframe(b"#WELCOME#")))
put("socket_auth", auth(1, pyframe(b"#CHALLENGE#" + modern) + pyframe(b"#FAILURE#")))
# Delivering: selector (0 legacy, 1 sha256, 2 sha384; 0x80 = answer right), message bytes,
# and the peer's reply.
put("socket_auth", auth(2, b"\x80" + legacy))
put("socket_auth", auth(2, b"\x81" + bytes(range(40))))
put("socket_auth", auth(2, b"\x00" + legacy + pyframe(hmac.new(KEY, legacy, "md5").digest())))
m = b"{sha256}" + bytes(range(40))
put("socket_auth", auth(2, b"\x01" + bytes(range(40)) + pyframe(b"{sha256}" + hmac.new(KEY, m, "sha256").digest())))
put("socket_auth", auth(2, b"\x01" + bytes(range(40)) + pyframe(hmac.new(KEY, m, "md5").digest())))

# pickle: what Python's Connection.send(obj) carries, several protocols.
objs = [None, True, 7, -2**70, 1.5, "text", b"bytes", [8, 8], (1, "two"), {"a": [1, 2]},
        {1, 2}, frozenset({3}), {"nested": {"list": [[], [None]]}}, bytearray(b"ba")]
for proto in (0, 2, 3, 4, 5):
    for o in objs:
        put("pickle", pickle.dumps(o, protocol=proto))

# rpc_json: requests, a batch, a notification, replies.
for doc in [
    {"jsonrpc": "2.0", "method": "add", "params": [2, 5], "id": 1},
    {"jsonrpc": "2.0", "method": "note", "params": {"x": "y"}},
    [{"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": "a"},
     {"jsonrpc": "2.0", "method": "sub"}, 5],
    {"jsonrpc": "2.0", "result": 7, "id": 1},
    {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found", "data": "sub"}, "id": 2},
    {"jsonrpc": "2.0", "error": {"code": -32000, "message": "m", "data": [1]}, "id": None},
]:
    put("rpc_json", json.dumps(doc).encode())


# rpc_binary: kind byte, LEB128 varints, strings, postcard values.
def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def s(t):
    return varint(len(t)) + t


put("rpc_binary", b"\xb1" + varint(1) + s(b"add") + b"\x04\x0a")  # add(2, 5)
put("rpc_binary", b"\xb2" + s(b"log") + s(b"hello"))
put("rpc_binary", b"\xb3" + varint(300) + b"\x0e")  # result 7
put("rpc_binary", b"\xb4" + varint(2) + varint(2 * 32601 - 1) + s(b"Method not found") + b"\x01" + s(b"sub"))
put("rpc_binary", b"\xb4" + varint(0) + varint(1) + s(b"m") + b"\x00")

# mailbox: the article's shared.json, as Python's json.dump(indent=2) writes it.
for doc in [
    {"commands": {}},
    {"commands": {"5d1e-uuid4": {"command": "add", "args": [2, 5], "result": 7},
                  "9b0c-uuid4": {"command": "add", "args": ["bad", "data"],
                                 "error": "Yeah, we are only going to add numbers"},
                  "77aa-uuid4": {"command": "mul", "args": [1.5, 2]}},
     "other": True},
]:
    put("mailbox", json.dumps(doc, indent=2).encode())
put("mailbox", b'{"commands": {}}   trailing bytes of a longer document')


# file_log: a log file (64-byte header, records with CRC-32), or a valid log with an overlay.
def log(msgs):
    body = b""
    for m in msgs:
        ln = struct.pack("<I", len(m))
        rec = ln + struct.pack("<I", zlib.crc32(ln + m)) + m
        body += rec + b"\x00" * (-len(rec) % 8)
    end = 64 + len(body)
    hdr = b"SHMRLOG\x00" + struct.pack("<IIQQQ", 1, 64, end, len(msgs), 1)
    return hdr + b"\x00" * (64 - len(hdr)) + body


put("file_log", b"\x00\x02" + log([b"first", b"", b"third message"]))
put("file_log", b"\x00\x00" + log([b"x" * 40]))  # over max_message 16
cursor = struct.pack("<QQ", 64 + 16, (64 + 16) ^ 0x53484D5243555253)
put("file_log", b"\x00\x06" + cursor + log([b"first", b"second"]))
put("file_log", b"\x07\x02")  # a valid log of four records, nothing laid over it
put("file_log", b"\x83\x02" + b"\xff" * 8)


# pipe_frames: "SP", version 1, flags 0, u32 length.
def sp(payload):
    return b"SP\x01\x00" + struct.pack("<I", len(payload)) + payload


put("pipe_frames", b"\x02\x12\x34" + sp(b"Howdy") + sp(b""))
put("pipe_frames", b"\x02\x00\x07" + sp(b"a") + b"XX\x01\x00\x00\x00\x00\x00" + sp(b"b"))
put("pipe_frames", b"\x01\x00\x07" + sp(b"over nine bytes"))
put("pipe_frames", b"\x03\x99\x01" + sp(b"cut")[:9])

# mq_messages: maxmsg, msgsize (2 bytes), then (length, priority u16, bytes)...
put("mq_messages", b"\x09\x01\x00" + b"\x05\x00\x00hello" + b"\x06\x09\x00urgent" + b"\x00\x00\x00")
put("mq_messages", b"\x01\x00\x03" + b"\x04\xff\x7fabcd")


# redis_streams: RESP replies to XREADGROUP and XAUTOCLAIM.
def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def arr(*items):
    return b"*%d\r\n" % len(items) + b"".join(items)


entry = arr(bulk(b"1-0"), arr(bulk(b"data"), bulk(b"hello")))
put("redis_streams", arr(arr(bulk(b"orders"), arr(entry, arr(bulk(b"2-0"), b"*-1\r\n")))))
put("redis_streams", b"*-1\r\n")
put("redis_streams", arr(bulk(b"0-0"), arr(entry), arr(bulk(b"3-0"))))
put("redis_streams", arr(b"+5-1\r\n", arr(arr(bulk(b"5-1"), arr(bulk(b"k"), b":1\r\n", bulk(b"data"), bulk(b""))))))

# seqlock_hostile and broadcast_hostile: mode 0 raw file, 1 valid + overlay, 2 live script.
put("seqlock_hostile", b"\x01")
put("seqlock_hostile", b"\x0d\xff\xff\xff\xff")
put("seqlock_hostile", b"\x00SHMRING\x00")
put("seqlock_hostile", b"\x02" + b"\x01\x00abcdefgh" + b"\x02" + b"\x00" * 9 + b"\x00\x00\x01" + b"\x00" * 7 + b"\x02" + b"\x00" * 9)
put("broadcast_hostile", b"\x01")
put("broadcast_hostile", b"\x19\x00\x00\x00\x00\xff\xff\xff\xff")
put("broadcast_hostile", b"\x00SHMRING\x00")
put("broadcast_hostile", b"\x02" + b"\x01\x05" + b"\x00" * 8 + b"\x02" + b"\x00" * 9 + b"\x01\x40" + b"\x00" * 8 + b"\x02" + b"\x00" * 9)
put("broadcast_hostile", b"\x02" + b"\x01\x05" + b"\x00" * 8 + b"\x06\x10\xff\xff\xff\xff" + b"\x02" + b"\x00" * 9)

# service_hostile: byte 0 bit 0 = auth key; then 10-byte steps (op, arg, 8 bytes): 0 poke
# the listener (offset arg*8), 1 poke the channel (offset arg*8; slot 0 at 512 = arg 64),
# 2 submit, 3 serve, 4 take an answer, 5 connect another client (arg%3: no key, wrong,
# right).
def svc(op, arg, word=b""):
    return bytes([op, arg]) + word.ljust(8, b"\0")


REQ1 = struct.unpack("<I", b"REQ1")[0]
put("service_hostile", b"\x00" + svc(2, 8) + svc(3, 5) + svc(4, 0))
put("service_hostile", b"\x01" + svc(5, 0) + svc(5, 1) + svc(5, 2) + svc(2, 8) + svc(3, 8) + svc(4, 0))
# A request header whose length runs past the slot, then the server polls.
put("service_hostile", b"\x00" + svc(1, 64, struct.pack("<II", 0xFFFFFFFF, REQ1)) + svc(3, 0) + svc(2, 1))
# Garbage in entry 1's state and challenge (entries at 512 + 64 e), then a new client.
put("service_hostile", b"\x01" + svc(0, 72, struct.pack("<II", 2, 0)) + svc(0, 74, b"\xff" * 8) + svc(5, 2) + svc(3, 0))
# The client's proof and the closed flag changed under it, then calls.
put("service_hostile", b"\x01" + svc(1, 20, b"\x01" * 8) + svc(1, 32, struct.pack("<I", 1)) + svc(2, 3) + svc(3, 3) + svc(4, 0))
