#!/usr/bin/python3
"""Reads the TensorBoard event files of a log directory without TensorFlow,
TensorBoard or protobuf, and prints the scalars TensorBoard would show.

    /usr/bin/python3 read_tfevents.py tfevents > tfevents.txt

Independent of golora's writer (runlog/tfevents.go): the CRC32C table is
computed here from the Castagnoli polynomial, and the protobuf wire format
of tensorflow/core/util/event.proto and summary.proto is decoded by hand:

    Event:      1 wall_time (double)  2 step (int64)  3 file_version (string)
                5 summary (Summary)   6 session_log (SessionLog)
    Summary:    1 value (repeated Value)
    Value:      1 tag (string)  2 simple_value (float)
    SessionLog: 1 status (enum; 1 = START)

Files are read in name order, as TensorBoard's directory loader does; each
record's length and data CRCs are checked. A SessionLog START at step s
drops the scalars read so far at steps >= s (TensorBoard's purge of
orphaned data after a restart; file_version "brain.Event:2" turns it on).
Output: the file_version of each file, then one line per scalar,
"step tag value wall_time", in the order written.
"""
import os
import struct
import sys


def crc32c_table():
    poly = 0x82F63B78  # 0x1EDC6F41 reflected
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def fields(buf):
    """Yields (field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        yield num, wire, v


def records(path):
    with open(path, "rb") as f:
        raw = f.read()
    i = 0
    while i < len(raw):
        header = raw[i:i + 8]
        (n,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", raw[i + 8:i + 12])
        if hcrc != masked(header):
            raise ValueError("%s: record at %d: bad length CRC" % (path, i))
        data = raw[i + 12:i + 12 + n]
        (dcrc,) = struct.unpack("<I", raw[i + 12 + n:i + 16 + n])
        if len(data) != n or dcrc != masked(data):
            raise ValueError("%s: record at %d: bad data CRC" % (path, i))
        yield data
        i += 16 + n


def main(logdir):
    scalars = []  # (step, tag, value, wall_time)
    out = []
    for name in sorted(os.listdir(logdir)):
        if not name.startswith("events.out.tfevents."):
            continue
        for data in records(os.path.join(logdir, name)):
            wall, step, version, summary, session = 0.0, 0, None, None, None
            for num, wire, v in fields(data):
                if num == 1 and wire == 1:
                    (wall,) = struct.unpack("<d", v)
                elif num == 2 and wire == 0:
                    step = v
                elif num == 3 and wire == 2:
                    version = v.decode()
                elif num == 5 and wire == 2:
                    summary = v
                elif num == 6 and wire == 2:
                    session = v
            if version is not None:
                out.append("%s file_version %s" % (name, version))
            if session is not None:
                status = dict((n, v) for n, w, v in fields(session)).get(1, 0)
                if status == 1:
                    scalars = [s for s in scalars if s[0] < step]
            if summary is not None:
                for num, wire, v in fields(summary):
                    if num != 1:
                        continue
                    tag, value = None, None
                    for n2, w2, v2 in fields(v):
                        if n2 == 1:
                            tag = v2.decode()
                        elif n2 == 2 and w2 == 5:
                            (value,) = struct.unpack("<f", v2)
                    if tag is not None and value is not None:
                        scalars.append((step, tag, value, wall))
    for line in out:
        print(line)
    for step, tag, value, wall in scalars:
        print("%d %s %.9g %.17g" % (step, tag, value, wall))


if __name__ == "__main__":
    main(sys.argv[1])
