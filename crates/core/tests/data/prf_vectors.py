#!/usr/bin/env python3
"""Independent reference for the tracemark PRF (layout in crates/core/src/prf.rs).

Uses only the Python standard library: hmac/hashlib for HMAC-SHA256 and a from-scratch
ChaCha20 block function. Regenerate with: python3 prf_vectors.py > prf_vectors.json
"""
import hashlib, hmac, json, struct

def rotl(x, n):
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

def chacha20_block(key, counter):
    c = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    k = list(struct.unpack("<8I", key))
    # 64-bit block counter, 64-bit nonce = 0 (Bernstein layout).
    s = c + k + [counter & 0xFFFFFFFF, counter >> 32, 0, 0]
    x = s[:]
    def qr(a, b, cc, d):
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF; x[d] = rotl(x[d] ^ x[a], 16)
        x[cc] = (x[cc] + x[d]) & 0xFFFFFFFF; x[b] = rotl(x[b] ^ x[cc], 12)
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF; x[d] = rotl(x[d] ^ x[a], 8)
        x[cc] = (x[cc] + x[d]) & 0xFFFFFFFF; x[b] = rotl(x[b] ^ x[cc], 7)
    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return [(a + b) & 0xFFFFFFFF for a, b in zip(x, s)]

def word(seed, token):
    return chacha20_block(seed, token // 16)[token % 16]

def prf_seed(secret, scheme, seeding, h, ids):
    msg = b"tracemark/prf/v1" + bytes([scheme, seeding, h, len(ids)])
    msg += b"".join(struct.pack("<I", i) for i in ids)
    return hmac.new(secret, msg, hashlib.sha256).digest()

SECRET = bytes(range(32))
TOKENS = [0, 1, 15, 16, 17, 1000, 49151]
cases = []
for scheme, seeding, h, ids in [
    (1, 1, 0, []),               # kgw unigram
    (1, 1, 1, [42]),             # kgw lefthash h=1
    (1, 1, 4, [1, 2, 3, 4]),     # kgw lefthash h=4
    (1, 3, 3, [10, 20, 30, 40]), # kgw selfhash h=3 (window + candidate 40)
    (2, 1, 2, [49151, 7]),       # gumbel lefthash h=2
    (1, 4, 2, []),               # minhash rank stream, h=2
]:
    seed = prf_seed(SECRET, scheme, seeding, h, ids)
    cases.append({
        "scheme_tag": scheme, "seeding_tag": seeding, "h": h, "ids": ids,
        "seed": seed.hex(),
        "words": {str(t): word(seed, t) for t in TOKENS},
    })
key_id = hmac.new(SECRET, b"tracemark/key-id/v1", hashlib.sha256).digest()[:8].hex()

# Watermark-level vectors: KGW gamma=0.25 (threshold 2^30), MinHash h=2 over window [5, 9].
rank = prf_seed(SECRET, 1, 4, 2, [])
m = min([5, 9], key=lambda t: (word(rank, t), t))
mseed = prf_seed(SECRET, 1, 2, 2, [m])
minhash = {"window": [5, 9], "min_token": m, "token": 300, "word": word(mseed, 300),
           "green": word(mseed, 300) < (1 << 30)}

# Account codes (crates/core/src/account.rs): HMAC(secret, domain || u64 LE length || id),
# expanded by ChaCha20; digit j is bits j*log2(r) .. of the stream, least significant first.
def account_code(secret, account, colours, digits):
    idb = account.encode("utf-8")
    seed = hmac.new(secret, b"tracemark/account/v1" + struct.pack("<Q", len(idb)) + idb,
                    hashlib.sha256).digest()
    bits = colours.bit_length() - 1
    nwords = (digits * bits + 31) // 32
    words = []
    block = 0
    while len(words) < nwords:
        words += chacha20_block(seed, block)
        block += 1
    return [(words[(j * bits) // 32] >> ((j * bits) % 32)) & (colours - 1) for j in range(digits)]

accounts = []
for colours, digits in [(2, 1024), (4, 256), (256, 8)]:
    for account in ["alice", "", "ünïcødé-42", "user_0000123456789"]:
        accounts.append({"colours": colours, "digits": digits, "account": account,
                         "code": account_code(SECRET, account, colours, digits)})
print(json.dumps({"secret": SECRET.hex(), "key_id": key_id, "cases": cases, "minhash": minhash,
                  "accounts": accounts}, indent=1))
