#!/usr/bin/env python3
"""Print what tshark sees in each recorded capture, one row per TCP connection.

This is the independent observation that expected.tsv was filled from (tshark's TLS
dissector, not shakedown's). With --check it compares the observable columns of
expected.tsv (history, alert_from, alert_description, version, cipher) against a fresh
observation, so a re-recording that changed behaviour is noticed. With a key log (NAME.keys,
written by the clients) tshark decrypts, and rows are named NAME.pcap+keylog.

Usage: observe.py [--keylog] [CAPTURE.pcap ...]  print observations (default: every *.pcap
                                                  here; --keylog: decrypt with NAME.keys)
       observe.py --check [CAPTURE.pcap ...]      compare with expected.tsv and
                                                  expected_keylog.tsv, exit 1 on a difference

Columns: capture, #N (connections in order of first packet), client port, history,
alert_from, alert_description, version, cipher, tcp_end, bytes, notes.

History letters follow Zeek's ssl_history: uppercase = client, lowercase = server,
C client_hello S server_hello J hello_retry_request X certificate K server_key_exchange
R certificate_request N server_hello_done Y certificate_verify G client_key_exchange
F finished T new_session_ticket O encrypted_extensions I change_cipher_spec L alert
B heartbeat (its declared payload length and record length go to the notes).
Only what is readable without keys gets a letter: encrypted records (TLS 1.2 after
ChangeCipherSpec, TLS 1.3 after ServerHello) add none, as in Zeek.
"""
import glob
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))

HANDSHAKE_LETTER = {
    0: "H", 1: "C", 2: "S", 3: "V", 4: "T", 5: "E", 6: "J", 8: "O", 11: "X", 12: "K",
    13: "R", 14: "N", 15: "Y", 16: "G", 20: "F", 21: "W", 22: "U", 23: "A", 24: "P",
    254: "M",
}
# RFC 8446 / 5246 alert names, only the ones a loopback test can plausibly produce plus
# common neighbours; anything else prints as alert_<code>.
ALERT_NAME = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
    42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
    45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter",
    48: "unknown_ca", 49: "access_denied", 50: "decode_error", 51: "decrypt_error",
    70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
    110: "unsupported_extension", 112: "unrecognized_name", 116: "certificate_required",
    120: "no_application_protocol",
}
VERSION_NAME = {0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2",
                0x0304: "TLSv1.3"}
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"


def fields(elem, name):
    return [f for f in elem.iter("field") if f.get("name") == name]


def first_show(elem, name):
    found = fields(elem, name)
    return found[0].get("show") if found else None


class Conn:
    def __init__(self, stream):
        self.stream = stream
        self.client = None  # (ip, port) of the side that sent the SYN / ClientHello
        self.history = []
        self.alert = None  # (from, description) of the first cleartext alert
        self.version = None
        self.cipher = None
        self.ends = []
        self.payload = {"c": 0, "s": 0}
        self.tls_bytes = {"c": 0, "s": 0}
        self.notes = []


def keylog_for(path):
    return path[: -len(".pcap")] + ".keys"


# starttls_<protocol>.pcap (record_starttls.sh): the servers listen on ephemeral ports, so
# tshark is told which dissector follows the plaintext preamble to the TLS upgrade.
STARTTLS_DISSECTOR = {"smtp": "smtp", "imap": "imap", "pop3": "pop", "ftp": "ftp",
                      "ldap": "ldap", "xmpp": "xmpp", "postgres": "pgsql", "mysql": "mysql"}


def decode_as(path):
    name = os.path.basename(path)
    if not name.startswith("starttls_"):
        return []
    dissector = STARTTLS_DISSECTOR[name[len("starttls_"):-len(".pcap")]]
    port = subprocess.run(["tshark", "-r", path, "-c", "1", "-T", "fields", "-e", "tcp.dstport"],
                          check=True, capture_output=True, text=True).stdout.strip()
    return ["-d", "tcp.port==%s,%s" % (port, dissector)]


def observe(path, keylog=False):
    cmd = ["tshark", "-r", path, "-T", "pdml"] + decode_as(path)
    if keylog:
        cmd += ["-o", "tls.keylog_file:" + keylog_for(path)]
    xml = subprocess.run(cmd, check=True, capture_output=True).stdout
    conns = {}
    for packet in ET.fromstring(xml).iter("packet"):
        protos = {p.get("name"): p for p in packet.iter("proto")}
        tcp = protos.get("tcp")
        if tcp is None:
            continue
        stream = int(first_show(tcp, "tcp.stream"))
        conn = conns.setdefault(stream, Conn(stream))
        src = (first_show(packet, "ip.src"), int(first_show(tcp, "tcp.srcport")))
        flags = int(first_show(tcp, "tcp.flags"), 16)
        syn, ack, fin, rst = flags & 2, flags & 16, flags & 1, flags & 4
        if conn.client is None and syn and not ack:
            conn.client = src
        side = "c" if src == conn.client else "s"
        conn.payload[side] += int(first_show(tcp, "tcp.len") or 0)
        for proto in packet.iter("proto"):
            if proto.get("name") != "tls":
                continue
            for record in [f for f in proto if f.get("name") == "tls.record"]:
                read_record(conn, side, record)
        if fin:
            conn.ends.append("fin:" + side)
        if rst:
            conn.ends.append("rst:" + side)
    return [conns[k] for k in sorted(conns)]


def read_record(conn, side, record):
    # TLS 1.3 protected records show their outer type as opaque_type.
    content_type = int(first_show(record, "tls.record.content_type")
                       or first_show(record, "tls.record.opaque_type"))
    conn.tls_bytes[side] += 5 + int(first_show(record, "tls.record.length"))
    letter = (lambda ch: ch.upper() if side == "c" else ch.lower())
    if content_type == 20:
        conn.history.append(letter("I"))
    elif content_type == 21:
        desc = first_show(record, "tls.alert_message.desc")
        if desc is None:
            conn.notes.append("encrypted_alert:" + side)
            return
        conn.history.append(letter("L"))
        code = int(desc)
        # close_notify ends a session, it does not fail a handshake: not "the" alert.
        if conn.alert is None and code != 0:
            conn.alert = ("client" if side == "c" else "server",
                          ALERT_NAME.get(code, "alert_%d" % code))
    elif content_type == 24:
        # Heartbeat (RFC 6520): a letter as Zeek gives it, and the message's declared
        # payload length beside its record's length (a request declaring more than its
        # record carries is a Heartbleed probe; a longer response, an over-read).
        conn.history.append(letter("B"))
        kind = {"1": "request", "2": "response"}.get(
            first_show(record, "tls.heartbeat_message.type"), "encrypted")
        declared = first_show(record, "tls.heartbeat_message.payload_length") or "?"
        conn.notes.append("heartbeat_%s:%s:declared=%s:record=%s" % (
            kind, side, declared, first_show(record, "tls.record.length")))
    elif content_type == 22:
        for hs in [f for f in record if f.get("name") == "tls.handshake"]:
            typ = first_show(hs, "tls.handshake.type")
            if typ is None:
                continue  # encrypted handshake message
            typ = int(typ)
            ch = HANDSHAKE_LETTER.get(typ, "Z")
            if typ == 2:
                random = (first_show(hs, "tls.handshake.random") or "").replace(":", "")
                if random == HRR_RANDOM:
                    ch = "J"
                else:
                    read_server_hello(conn, hs)
            conn.history.append(letter(ch))


def read_server_hello(conn, hs):
    version = int(first_show(hs, "tls.handshake.version"), 16)
    chosen = first_show(hs, "tls.handshake.extensions.supported_version")
    if chosen is not None:
        version = int(chosen, 16)
    conn.version = VERSION_NAME.get(version, "0x%04x" % version)
    suite = fields(hs, "tls.handshake.ciphersuite")[0].get("showname")
    # showname: "Cipher Suite: TLS_AES_128_GCM_SHA256 (0x1301)"
    conn.cipher = suite.split(": ", 1)[1].rsplit(" (", 1)[0]


def rows(path, keylog=False):
    out = []
    name = os.path.basename(path) + ("+keylog" if keylog else "")
    for n, conn in enumerate(observe(path, keylog), 1):
        alert_from, alert_desc = conn.alert or ("-", "-")
        notes = list(conn.notes)
        for side in "cs":
            if conn.payload[side] > conn.tls_bytes[side]:
                notes.append("non_tls_bytes:%s=%d" % (side, conn.payload[side] - conn.tls_bytes[side]))
        out.append([
            name, "#%d" % n, str(conn.client[1]) if conn.client else "-",
            "".join(conn.history) or "-", alert_from, alert_desc, conn.version or "-",
            conn.cipher or "-", ",".join(conn.ends) or "-",
            "c=%d,s=%d" % (conn.payload["c"], conn.payload["s"]), ";".join(notes) or "-",
        ])
    return out


def read_expected(filename):
    expected = {}
    with open(os.path.join(HERE, filename)) as f:
        for line in f:
            if line.startswith("#") or line.startswith("capture\t") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            expected[(cols[0], cols[1])] = cols
    return expected


def check(paths):
    """Compare the observable columns of expected*.tsv with a fresh observation."""
    failures = 0
    for filename, keylog in (("expected.tsv", False), ("expected_keylog.tsv", True)):
        expected = read_expected(filename)
        seen = set()
        names = set()
        for path in paths:
            if keylog and not os.path.exists(keylog_for(path)):
                continue
            for row in rows(path, keylog):
                names.add(row[0])
                key = (row[0], row[1])
                seen.add(key)
                want = expected.get(key)
                got = row[3:8]  # history, alert_from, alert_description, version, cipher
                if want is None:
                    print(filename, "UNEXPECTED connection", key, got)
                    failures += 1
                elif want[3:8] != got:
                    print(filename, "DIFFERS", key, "expected", want[3:8], "observed", got)
                    failures += 1
        for key in expected:
            if key[0] in names and key not in seen:
                print(filename, "MISSING connection", key)
                failures += 1
    print("check: %d difference(s)" % failures)
    return failures == 0


def main():
    args = sys.argv[1:]
    do_check = "--check" in args
    keylog = "--keylog" in args
    paths = [a for a in args if not a.startswith("--")]
    paths = paths or sorted(glob.glob(os.path.join(HERE, "*.pcap")))
    if do_check:
        sys.exit(0 if check(paths) else 1)
    print("\t".join(["capture", "conn", "client_port", "history", "alert_from",
                     "alert_description", "version", "cipher", "tcp_end", "bytes", "notes"]))
    for path in paths:
        if keylog and not os.path.exists(keylog_for(path)):
            continue
        for row in rows(path, keylog):
            print("\t".join(row))


if __name__ == "__main__":
    main()
