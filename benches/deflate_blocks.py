#!/usr/bin/env python3
"""What a gzip file's deflate stream is made of, which decides how fast any inflater can be:
stored blocks are copied, while in Huffman blocks every literal byte is a symbol to decode
and a match copies up to 258 bytes for one. Walks the first member's blocks up to
MAX_OUTPUT bytes of output (a slow walk: about 0.5 MB/s) and prints the count and output
bytes of each block type, and the literals and matches with the bytes they give.

Usage: python3 benches/deflate_blocks.py FILE.gz [MAX_OUTPUT]   (docs/benchmarks.md#pcap-inflaters)
"""
import sys

LEN_EXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
            99, 115, 131, 163, 195, 227, 258]
DIST_EXTRA = [0, 0, 0, 0] + [n for n in range(1, 14) for _ in (0, 1)]
CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]


class Bits:
    def __init__(self, data, byte):
        self.data, self.pos = data, byte * 8

    def read(self, n):
        v = 0
        for i in range(n):
            v |= ((self.data[self.pos >> 3] >> (self.pos & 7)) & 1) << i
            self.pos += 1
        return v

    def decode(self, table):
        """One Huffman symbol: codes are read most significant bit first (RFC 1951 3.1.1)."""
        code = length = 0
        while True:
            code = (code << 1) | self.read(1)
            length += 1
            symbol = table.get((length, code))
            if symbol is not None:
                return symbol


def canonical(lengths):
    """The canonical Huffman code of RFC 1951 3.2.2, as (length, code) -> symbol."""
    count = [0] * (max(lengths) + 1)
    for n in lengths:
        if n:
            count[n] += 1
    code, next_code = 0, [0] * (len(count) + 1)
    for n in range(1, len(count)):
        code = (code + count[n - 1]) << 1
        next_code[n] = code
    table = {}
    for symbol, n in enumerate(lengths):
        if n:
            table[(n, next_code[n])] = symbol
            next_code[n] += 1
    return table


FIXED = (canonical([8] * 144 + [9] * 112 + [7] * 24 + [8] * 8), canonical([5] * 30))


def dynamic_tables(bits):
    hlit, hdist, hclen = bits.read(5) + 257, bits.read(5) + 1, bits.read(4) + 4
    code_lengths = [0] * 19
    for i in range(hclen):
        code_lengths[CODE_LENGTH_ORDER[i]] = bits.read(3)
    table, lengths = canonical(code_lengths), []
    while len(lengths) < hlit + hdist:
        s = bits.decode(table)
        if s < 16:
            lengths.append(s)
        elif s == 16:
            lengths += [lengths[-1]] * (3 + bits.read(2))
        elif s == 17:
            lengths += [0] * (3 + bits.read(3))
        else:
            lengths += [0] * (11 + bits.read(7))
    return canonical(lengths[:hlit]), canonical(lengths[hlit:])


def main():
    data = open(sys.argv[1], "rb").read()
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 62
    if data[:2] != b"\x1f\x8b" or data[2] != 8:
        sys.exit("not a gzip file")
    flags, at = data[3], 10
    if flags & 4:
        at += 2 + int.from_bytes(data[at:at + 2], "little")
    for flag in (8, 16):
        if flags & flag:
            at = data.index(0, at) + 1
    if flags & 2:
        at += 2
    bits = Bits(data, at)
    blocks = {"stored": [0, 0], "fixed": [0, 0], "dynamic": [0, 0]}
    literals = matches = match_bytes = out = 0
    final = 0
    while not final and out < limit:
        final, kind = bits.read(1), bits.read(2)
        start = out
        if kind == 0:
            bits.pos = (bits.pos + 7) & ~7
            n = int.from_bytes(data[bits.pos // 8:bits.pos // 8 + 2], "little")
            bits.pos += 32 + 8 * n
            out += n
            name = "stored"
        elif kind == 3:
            sys.exit(f"reserved block type at bit {bits.pos}")
        else:
            name = "fixed" if kind == 1 else "dynamic"
            lit_table, dist_table = FIXED if kind == 1 else dynamic_tables(bits)
            while (s := bits.decode(lit_table)) != 256:
                if s < 256:
                    literals += 1
                    out += 1
                else:
                    n = LEN_BASE[s - 257] + bits.read(LEN_EXTRA[s - 257])
                    bits.read(DIST_EXTRA[bits.decode(dist_table)])
                    matches += 1
                    match_bytes += n
                    out += n
        blocks[name][0] += 1
        blocks[name][1] += out - start
    print(f"{sys.argv[1]}: {out} bytes of output walked")
    for name, (count, n) in blocks.items():
        print(f"  {name} blocks: {count}, {n} bytes ({100 * n / max(out, 1):.1f} %)")
    print(f"  literals: {literals} ({100 * literals / max(out, 1):.1f} % of the bytes)")
    print(f"  matches: {matches}, {match_bytes} bytes ({100 * match_bytes / max(out, 1):.1f} %)")


if __name__ == "__main__":
    main()
