/* bench/pipeline.sh's C side: the kernel's own LZO, LZ4 and CRC-32 code
 * (lib/lzo, lib/lz4, lib/crc32.c from Debian's linux-source package)
 * over a file cut into 128 KiB chunks, as the hibernation code cuts its
 * stream, on 1..N threads. Prints one line per codec and thread count:
 *   kernel <what> <threads> <MB/s> <output/input>                     */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <linux/lzo.h>
#include <linux/lz4.h>
u32 crc32_le(u32 crc, unsigned char const *p, size_t len);

#define CHUNK 131072
static unsigned char *data; static long len; static long nchunks;
static unsigned char **cmp; static size_t *cmplen;
static int what, nthreads, reps;

static void *work(void *arg) {
    long t = (long)arg;
    unsigned char *out = malloc(CHUNK + CHUNK / 16 + 64 + 3 + 1024);
    void *wrk = malloc(LZO1X_1_MEM_COMPRESS > LZ4_MEM_COMPRESS ? LZO1X_1_MEM_COMPRESS : LZ4_MEM_COMPRESS);
    volatile u32 sink = 0;
    for (int r = 0; r < reps; r++)
        for (long c = t; c < nchunks; c += nthreads) {
            unsigned char *in = data + c * CHUNK;
            size_t n = len - c * CHUNK < CHUNK ? len - c * CHUNK : CHUNK, ol = 0;
            switch (what) {
            case 0: lzo1x_1_compress(in, n, out, &ol, wrk); cmplen[c] = ol; memcpy(cmp[c], out, ol); break;
            case 1: ol = CHUNK; lzo1x_decompress_safe(cmp[c], cmplen[c], out, &ol); break;
            case 2: cmplen[c] = LZ4_compress_default((const char *)in, (char *)cmp[c], n, CHUNK + 1024, wrk); break;
            case 3: LZ4_decompress_safe((const char *)cmp[c], (char *)out, cmplen[c], CHUNK); break;
            case 4: sink ^= crc32_le(0, in, n); break;
            }
        }
    free(out); free(wrk);
    return NULL;
}

int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END); len = ftell(f); fseek(f, 0, SEEK_SET);
    data = malloc(len); if (fread(data, 1, len, f) != (size_t)len) return 1;
    int maxt = argc > 2 ? atoi(argv[2]) : 1; reps = argc > 3 ? atoi(argv[3]) : 3;
    nchunks = (len + CHUNK - 1) / CHUNK;
    cmp = malloc(nchunks * sizeof *cmp); cmplen = malloc(nchunks * sizeof *cmplen);
    for (long c = 0; c < nchunks; c++) cmp[c] = malloc(CHUNK + CHUNK / 16 + 1024);
    const char *names[] = {"lzo-compress", "lzo-decompress", "lz4-compress", "lz4-decompress", "crc32"};
    for (what = 0; what < 5; what++)
        for (nthreads = 1; nthreads <= maxt; nthreads *= 2) {
            pthread_t th[64]; struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            for (long t = 0; t < nthreads; t++) pthread_create(&th[t], NULL, work, (void *)t);
            for (long t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
            clock_gettime(CLOCK_MONOTONIC, &b);
            double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
            size_t total = 0; for (long c = 0; c < nchunks; c++) total += cmplen[c];
            printf("kernel %s %d %.0f %.3f\n", names[what], nthreads, (double)reps * len / s / 1e6,
                   what == 0 || what == 2 ? (double)total / len : 1.0);
            if (what == 0 || what == 2) {
                /* The decoders on both sides read these same streams:
                 * PIPELINE_STREAMS=PREFIX writes PREFIX.lzo / PREFIX.lz4,
                 * each chunk as a 4-byte length and its bytes. */
                const char *pre = getenv("PIPELINE_STREAMS");
                if (pre) {
                    char path[4096];
                    snprintf(path, sizeof path, "%s.%s", pre, what == 0 ? "lzo" : "lz4");
                    FILE *o = fopen(path, "wb");
                    for (long c = 0; o && c < nchunks; c++) {
                        unsigned int l = cmplen[c];
                        fwrite(&l, 4, 1, o); fwrite(cmp[c], 1, l, o);
                    }
                    if (o) fclose(o);
                }
                break; /* one compression pass fills cmp[] for the decoder */
            }
        }
    return 0;
}
