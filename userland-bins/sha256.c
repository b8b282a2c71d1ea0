/*
 * sha256: a compute kernel of 32-bit integer work: rotates, shifts, adds
 * and logic ops on registers, with byte loads and stores around them. It
 * checks our own SHA-256 (FIPS 180-4) against three published test vectors,
 * then hashes 64 KiB of generated data ITER times, each round feeding the
 * previous digest back into the data, and prints the final digest.
 *
 * Usage: sha256 [ITER]     (default 4; about 4500 run for a second natively)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sha256 {
    uint32_t h[8];
    uint64_t len;           /* bytes hashed so far */
    unsigned char buf[64];  /* a partial block */
    unsigned nbuf;
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* Start a new hash. */
static void sha_init(struct sha256 *s)
{
    static const uint32_t h0[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    memcpy(s->h, h0, sizeof h0);
    s->len = 0;
    s->nbuf = 0;
}

/* Mix one 64-byte block into the state. */
static void sha_block(struct sha256 *s, const unsigned char *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, h;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
    e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
    for (i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
    s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

/* Hash n more bytes. */
static void sha_update(struct sha256 *s, const void *data, size_t n)
{
    const unsigned char *p = data;

    s->len += n;
    while (n > 0) {
        if (s->nbuf == 0 && n >= 64) {
            sha_block(s, p);
            p += 64;
            n -= 64;
            continue;
        }
        size_t k = 64 - s->nbuf < n ? 64 - s->nbuf : n;
        memcpy(s->buf + s->nbuf, p, k);
        s->nbuf += k;
        p += k;
        n -= k;
        if (s->nbuf == 64) {
            sha_block(s, s->buf);
            s->nbuf = 0;
        }
    }
}

/* Pad, and write the 32-byte digest to out. */
static void sha_final(struct sha256 *s, unsigned char out[32])
{
    uint64_t bits = s->len * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    int i;

    sha_update(s, &pad, 1);
    while (s->nbuf != 56)
        sha_update(s, &zero, 1);
    for (i = 0; i < 8; i++)
        len[i] = bits >> (56 - 8 * i);
    sha_update(s, len, 8);
    for (i = 0; i < 32; i++)
        out[i] = s->h[i / 4] >> (24 - 8 * (i % 4));
}

/* Format a digest as 64 hex digits. */
static void hex(const unsigned char d[32], char out[65])
{
    int i;
    for (i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* Hash a string and compare with the published digest. */
static int check(const char *msg, const char *want)
{
    struct sha256 s;
    unsigned char d[32];
    char got[65];

    sha_init(&s);
    sha_update(&s, msg, strlen(msg));
    sha_final(&s, d);
    hex(d, got);
    printf("sha256(\"%.20s%s\") = %s %s\n", msg, strlen(msg) > 20 ? "..." : "",
           got, strcmp(got, want) == 0 ? "ok" : "WRONG");
    return strcmp(got, want) == 0;
}

int main(int argc, char **argv)
{
    static unsigned char data[65536];
    unsigned char d[32] = {0};
    char out[65];
    struct sha256 s;
    uint32_t x = 12345;
    long iter = argc > 1 ? atol(argv[1]) : 4, i;
    size_t j;
    int ok = 1;

    ok &= check("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ok &= check("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ok &= check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    for (j = 0; j < sizeof data; j++) {
        x = x * 1103515245 + 12345;
        data[j] = x >> 16;
    }
    for (i = 0; i < iter; i++) {
        memcpy(data + (i * 32) % (sizeof data - 32), d, 32);
        sha_init(&s);
        sha_update(&s, data, sizeof data - i % 61);   /* odd lengths too */
        sha_final(&s, d);
    }
    hex(d, out);
    printf("rounds %ld digest %s\n", iter, out);
    return ok ? 0 : 1;
}
