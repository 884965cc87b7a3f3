#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora from what the repository already holds.

Usage: python3 fuzz/seed.py [OUT]    (default OUT: fuzz/corpus; one folder per target)

Sources: the captures (captures/*.pcap*, ../shared/captures/ja4/* when present), the
recorded hellos (tests/golden/*.hex), the recorded exchanges (tests/exchanges/*.txt), the
client profiles (profiles/clients.txt), the key logs (captures/*.keys) and the test root
(captures/root.pem). Each seed is written in the input format of its target (see
fuzz/src/harness.rs): chunks with direction tags for `tracker`, link type and frames for
`link_layer`, and so on. Seeds are named by their content's hash, so running it again adds
nothing twice. The corpora are not committed (they are rebuilt from these sources).

The capture reading here is deliberately simple (Ethernet/VLAN, SLL, SLL2, null and raw
IPv4/IPv6 to TCP, segments ordered by sequence number): it only has to find the TLS bytes
in the repository's own captures.
"""

import base64
import hashlib
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "corpus")
# The link types `link_layer` picks from, in its order (harness.rs LINK_TYPES).
LINK_TYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276]
MAX_CAPTURE_SEED = 256 * 1024

written = {}


def put(target, data):
    """Writes one seed for `target` (skipping empty and duplicate ones)."""
    if not data:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    path = os.path.join(d, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        written[target] = written.get(target, 0) + 1


def read_pcap(data):
    """(linktype, frame) of every packet of a pcap or pcapng file."""
    out = []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        linktype = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
        off = 24
        while off + 16 <= len(data):
            incl = struct.unpack(e + "I", data[off + 8 : off + 12])[0]
            out.append((linktype, data[off + 16 : off + 16 + incl]))
            off += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        off, links = 0, []
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[off : off + 8])
            if blen < 12:
                break
            body = data[off + 8 : off + blen - 4]
            if btype == 0x0A0D0D0A:
                links = []
            elif btype == 1:
                links.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6:
                iface, _, _, caplen = struct.unpack(e + "IIII", body[:16])
                if iface < len(links):
                    out.append((links[iface], body[20 : 20 + caplen]))
            off += blen
    return out


def ip_payload(linktype, frame):
    """The IP packet inside a frame, or None."""
    if linktype == 1:
        off, et = 14, frame[12:14]
        while et in (b"\x81\x00", b"\x88\xa8") and len(frame) >= off + 4:
            et, off = frame[off + 2 : off + 4], off + 4
        return frame[off:] if et in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == 113:
        return frame[16:]
    if linktype == 276:
        return frame[20:]
    if linktype in (0, 108):
        return frame[4:]
    if linktype in (12, 14, 101, 228, 229):
        return frame
    return None


def tcp_segment(ip):
    """((src, sport), (dst, dport), seq, payload) of a TCP packet, or None."""
    if not ip:
        return None
    if ip[0] >> 4 == 4 and len(ip) >= 20:
        ihl, proto = (ip[0] & 15) * 4, ip[9]
        total = struct.unpack(">H", ip[2:4])[0] or len(ip)
        src, dst, l4 = ip[12:16], ip[16:20], ip[ihl:total]
    elif ip[0] >> 4 == 6 and len(ip) >= 40:
        proto, src, dst = ip[6], ip[8:24], ip[24:40]
        l4 = ip[40 : 40 + struct.unpack(">H", ip[4:6])[0]]
    else:
        return None
    if proto != 6 or len(l4) < 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", l4[:8])
    return (src, sport), (dst, dport), seq, l4[(l4[12] >> 4) * 4 :]


def conversations(packets):
    """Per TCP connection: its payload chunks in capture order as (dir, bytes), dir 0 for
    the side that spoke first, retransmissions dropped."""
    convs, seen = {}, set()
    for linktype, frame in packets:
        seg = tcp_segment(ip_payload(linktype, frame))
        if not seg or not seg[3]:
            continue
        a, b, seq, payload = seg
        key = tuple(sorted([a, b]))
        if (a, b, seq) in seen:
            continue
        seen.add((a, b, seq))
        conv = convs.setdefault(key, {"first": a, "chunks": []})
        conv["chunks"].append((0 if a == conv["first"] else 1, payload))
    return [c["chunks"] for c in convs.values()]


def records(stream):
    """The TLS records of a byte stream: (type, payload) until the first non-record."""
    out, off = [], 0
    while off + 5 <= len(stream) and stream[off] in range(20, 25) and stream[off + 1] == 3:
        n = struct.unpack(">H", stream[off + 3 : off + 5])[0]
        out.append((stream[off], stream[off + 5 : off + 5 + n]))
        off += 5 + n
    return out


def handshakes(stream):
    """The plaintext handshake messages of a stream (type, body), up to the first
    ChangeCipherSpec (what follows it is encrypted)."""
    buf = b""
    for typ, payload in records(stream):
        if typ == 20:
            break
        if typ == 22:
            buf += payload
    out, off = [], 0
    while off + 4 <= len(buf):
        n = int.from_bytes(buf[off + 1 : off + 4], "big")
        if off + 4 + n > len(buf):
            break
        out.append((buf[off], buf[off + 4 : off + 4 + n]))
        off += 4 + n
    return out


def chunks_input(chunks):
    """`tracker` / `probe_server` chunk format: tag (direction), u16 length, bytes."""
    out = b""
    for d, data in chunks:
        for i in range(0, len(data), 0xFFFF):
            part = data[i : i + 0xFFFF]
            out += bytes([d]) + struct.pack(">H", len(part)) + part
    return out


def certificates(body):
    """The DER certificates of a TLS 1.2 Certificate message body."""
    out, off = [], 3
    while off + 3 <= len(body):
        n = int.from_bytes(body[off : off + 3], "big")
        out.append(body[off + 3 : off + 3 + n])
        off += 3 + n
    return out


def seed_exchange(chunks):
    """Every target that reads TLS bytes, from one connection's chunks."""
    client = b"".join(d for s, d in chunks if s == 0)
    server = b"".join(d for s, d in chunks if s == 1)
    if not client.startswith((b"\x16\x03", b"\x80")) and not server.startswith(b"\x16\x03"):
        return
    put("tracker", chunks_input(chunks))
    put("probe_server", b"\x00" + chunks_input([c for c in chunks if c[0] == 1]))
    put("probe_server", b"\x01" + chunks_input([c for c in chunks if c[0] == 1]))
    for size in (0, 6, 255):
        put("record_layer", bytes([size]) + client[:20000])
        put("record_layer", bytes([size]) + server[:20000])
    put("decode_input", client[:4096])
    put("decode_input", server[:20000])
    for typ, body in handshakes(client):
        msg = bytes([typ]) + len(body).to_bytes(3, "big") + body
        if typ == 1:
            put("client_hello", msg)
            put("decode_input", body)
        put("decode_input", msg)
    for typ, body in handshakes(server):
        for v in (2, 3):
            put("server_messages", bytes([typ, v]) + body)
        put("decode_input", bytes([typ]) + len(body).to_bytes(3, "big") + body)
        if typ == 11:
            chain = certificates(body)
            for der in chain:
                put("certificate", der)
            put("certificate", b"\x01" + b"".join(struct.pack(">H", len(c)) + c for c in chain))


def seed_capture(path, data):
    packets = read_pcap(data)
    put("capture_file", data[:MAX_CAPTURE_SEED])
    frames = [(lt, f) for lt, f in packets][:48]
    if frames:
        lt = frames[0][0]
        if lt in LINK_TYPES:
            put("link_layer", link_input(LINK_TYPES.index(lt), [f for _, f in frames]))
        # The same packets under the other link layers pcap reads.
        ips = [ip_payload(l, f) for l, f in frames]
        ips = [ip for ip in ips if ip]
        if ips and len(written.get("link_layer_variants", [])) < 6:
            written.setdefault("link_layer_variants", []).append(path)
            family = lambda ip: b"\x08\x00" if ip[0] >> 4 == 4 else b"\x86\xdd"
            variants = {
                1: [b"\x00" * 12 + b"\x81\x00\x00\x05" + family(ip) + ip for ip in ips],
                101: ips,
                0: [struct.pack("<I", 2 if ip[0] >> 4 == 4 else 10) + ip for ip in ips],
                113: [b"\x00" * 14 + family(ip) + ip for ip in ips],
                276: [family(ip) + b"\x00" * 18 + ip for ip in ips],
            }
            for lt, fs in variants.items():
                put("link_layer", link_input(LINK_TYPES.index(lt), fs))
    for conv in conversations(packets):
        seed_exchange(conv)


def link_input(pick, frames):
    return bytes([pick]) + b"".join(b"\x01" + struct.pack(">H", len(f)) + f for f in frames)


def main():
    cap_dirs = [os.path.join(ROOT, "captures"), os.path.join(ROOT, "..", "shared", "captures", "ja4")]
    for d in cap_dirs:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if name.endswith((".pcap", ".pcapng")):
                with open(path, "rb") as f:
                    seed_capture(path, f.read())
            elif name.endswith(".keys"):
                with open(path, "rb") as f:
                    put("keylog", f.read())
            elif name.endswith(".pem"):
                text = open(path).read()
                for b64 in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END", text, re.S):
                    put("certificate", base64.b64decode("".join(b64.split())))
    golden = os.path.join(ROOT, "tests", "golden")
    for name in sorted(os.listdir(golden)):
        if name.endswith(".hex"):
            rec = bytes.fromhex(open(os.path.join(golden, name)).read().strip())
            seed_exchange([(0, rec)])
    exchanges = os.path.join(ROOT, "tests", "exchanges")
    for name in sorted(os.listdir(exchanges)):
        if name.endswith(".txt"):
            chunks = []
            for line in open(os.path.join(exchanges, name)):
                parts = line.split()
                if len(parts) == 3 and parts[0] in ("C", "S"):
                    chunks.append((0 if parts[0] == "C" else 1, bytes.fromhex(parts[2])))
            seed_exchange(chunks)
    profiles = open(os.path.join(ROOT, "profiles", "clients.txt"), "rb").read()
    put("profiles", profiles)
    for block in re.split(rb"\n(?=\[profile )", profiles):
        put("profiles", block)
        m = re.search(rb"^hello = ([0-9a-f]+)", block, re.M)
        if m:
            seed_exchange([(0, bytes.fromhex(m.group(1).decode()))])
    # quic_initial: its input is frames the harness seals, not captured bytes: the kept
    # inputs (tests/fuzz/quic_initial/: a real hello and flight with a key log, hostile
    # CRYPTO offsets, coalesced and truncated packets, flipped bits, hostile frames).
    kept = os.path.join(ROOT, "tests", "fuzz", "quic_initial")
    for name in sorted(os.listdir(kept)):
        with open(os.path.join(kept, name), "rb") as f:
            put("quic_initial", f.read())
    written.pop("link_layer_variants", None)
    for target in sorted(written):
        print(f"{target}: {written[target]} new seeds")


main()
