#!/usr/bin/env bash
# Records captures/starttls_<protocol>.pcap: `openssl s_client -starttls PROTO` (a real
# client) through the upgrade of a real server — postfix (smtp), dovecot (imap, pop3),
# vsftpd (ftp), slapd (ldap), prosody (xmpp), PostgreSQL (postgres), MariaDB (mysql) —
# recorded with tcpdump on lo.
#
# The servers are the ones tests/starttls_servers.rs starts (loopback ephemeral ports, a
# throw-away self-signed certificate, their own configuration under target/tmp, stopped
# when the test binary exits); its test `captured_upgrades_of_a_real_client` records each
# session and checks that `pcap` reads it (protocol, version, suite), and with
# SHAKEDOWN_RECORD_STARTTLS set copies the captures here.
#
# Needs root (tcpdump on lo, the servers' users) and the packages .ci/run installs.
# Usage: sudo captures/record_starttls.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $EUID -eq 0 ]] || { echo "record_starttls.sh: needs root for tcpdump on lo" >&2; exit 2; }
cd "$HERE/.."
SHAKEDOWN_RECORD_STARTTLS="$HERE" cargo test --features live --test starttls_servers \
    captured_upgrades_of_a_real_client -- --exact
ls -l "$HERE"/starttls_*.pcap
