#!/usr/bin/env python3
"""pack_run.py: packs a memscope run directory into one fuzz_trace_reader input.

The container (docs/fuzz-targets.md): byte 0 holds flags, then parts until the end, each a
kind byte, a u32 little-endian length and the bytes:
  M meta.txt   P maps.txt   T a thread file   R memscope_rings.raw   S a suppressions file
The target writes the parts into a fresh directory (thread files named from the pid and tid
in their headers, as the tracker names them) and reads it as a run.

Options make near-valid variants of a real run (smaller, or damaged in one known way);
everything else stays byte for byte what the tracker wrote.

usage: pack_run.py RUN_DIR OUT [--flags N] [--shrink-rings] [--no-end] [--no-rings]
                   [--cut-threads BYTES] [--maps-only TEXT] [--suppressions FILE]
                   [--max-bytes N]
"""
import argparse
import os
import struct
import sys

FLAGS = {"symbolize": 0x01, "fix_crc": 0x02, "details": 0x04, "module": 0x08}

# ms_ring_hdr_t (format/ms_format.h): the offsets of the fields the shrink rewrites or reads.
RING_HDR = 256
REC = 32
OFF_POS, OFF_REC_CAP = 0, 76


def part(kind, data):
    return kind.encode() + struct.pack("<I", len(data)) + data


def meta_lines(meta):
    return meta.decode("utf-8", "surrogateescape").split("\n")


def shrink_rings(meta, rings):
    """Cuts every ring segment named by a ring=N line down to the records it holds: the same
    headers and records, rec_cap and ring_bytes lowered to match. A real segment is 53 KiB,
    mostly slots never written; a seed should be small."""
    lines = meta_lines(meta)
    seg = next((int(l.split("=", 1)[1]) for l in lines if l.startswith("ring_bytes=")), 0)
    idx = [int(l[5:]) for l in lines if l.startswith("ring=") and l[5:].isdigit()]
    if not seg or not idx:
        return meta, rings
    segs = {}
    for n in idx:
        s = rings[n * seg:(n + 1) * seg]
        if len(s) < RING_HDR:
            continue
        segs[n] = s
    if not segs:
        return meta, rings
    cap = max(max(struct.unpack_from("<I", s, OFF_POS)[0], 1) for s in segs.values())
    new_seg = RING_HDR + cap * REC
    out = bytearray(new_seg * (max(segs) + 1))
    for n, s in segs.items():
        s = bytearray(s[:new_seg].ljust(new_seg, b"\0"))
        struct.pack_into("<I", s, OFF_REC_CAP, cap)
        out[n * new_seg:(n + 1) * new_seg] = s
    lines = [("ring_bytes=%d" % new_seg) if l.startswith("ring_bytes=") else l for l in lines]
    return "\n".join(lines).encode("utf-8", "surrogateescape"), bytes(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("out")
    ap.add_argument("--flags", default="fix_crc",
                    help="comma-separated: " + ", ".join(FLAGS) + " (default fix_crc)")
    ap.add_argument("--shrink-rings", action="store_true",
                    help="cut ring segments down to the records they hold")
    ap.add_argument("--no-end", action="store_true",
                    help="drop meta.txt's end part (from end_reason= on): a cut-short run")
    ap.add_argument("--no-rings", action="store_true", help="leave memscope_rings.raw out")
    ap.add_argument("--cut-threads", type=int, default=None,
                    help="keep only the first BYTES of every thread file")
    ap.add_argument("--maps-only", metavar="TEXT",
                    help="keep only the maps.txt lines naming TEXT (and the snapshot lines): "
                         "a smaller seed, and symbolization of one module instead of the "
                         "C library's and the tracker's too")
    ap.add_argument("--suppressions", help="a suppressions file to add as an S part")
    ap.add_argument("--max-bytes", type=int, default=65536,
                    help="refuse to write a seed larger than this (default 64 KiB)")
    a = ap.parse_args()

    flags = 0
    for f in filter(None, a.flags.split(",")):
        if f not in FLAGS:
            sys.exit("pack_run.py: unknown flag %r; give %s" % (f, ", ".join(FLAGS)))
        flags |= FLAGS[f]

    def read(name):
        p = os.path.join(a.run_dir, name)
        if not os.path.isfile(p):
            return None
        with open(p, "rb") as f:
            return f.read()

    meta = read("meta.txt")
    if meta is None:
        sys.exit("pack_run.py: %s has no meta.txt: not a run directory" % a.run_dir)
    rings = None if a.no_rings else read("memscope_rings.raw")
    if rings is not None and a.shrink_rings:
        meta, rings = shrink_rings(meta, rings)
    if a.no_end:
        lines = meta_lines(meta)
        cut = next((i for i, l in enumerate(lines) if l.startswith("end_reason=")), len(lines))
        meta = ("\n".join(lines[:cut]) + "\n").encode("utf-8", "surrogateescape")

    out = bytes([flags]) + part("M", meta)
    maps = read("maps.txt")
    if maps is not None and a.maps_only:
        keep = [l for l in maps.split(b"\n")
                if l.startswith(b"# maps") or a.maps_only.encode() in l]
        maps = b"\n".join(keep) + b"\n"
    if maps is not None:
        out += part("P", maps)
    for name in sorted(os.listdir(a.run_dir)):
        if name.startswith("memscope_thread_") and name.endswith(".bin"):
            data = read(name)
            if a.cut_threads is not None:
                data = data[:a.cut_threads]
            out += part("T", data)
    if rings is not None:
        out += part("R", rings)
    if a.suppressions:
        with open(a.suppressions, "rb") as f:
            out += part("S", f.read())
    if len(out) > a.max_bytes:
        sys.exit("pack_run.py: %s would be %d bytes (limit %d); try --shrink-rings"
                 % (a.out, len(out), a.max_bytes))
    with open(a.out, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
