/*
 * lmdb_ceiling.c — the physical ceiling fieldsync's durable ingest is held
 * against (BENCHMARKS.md, workload "limit"): LMDB's own rate for N records
 * of V bytes written under random keys in ONE write transaction, committed
 * durably (LMDB's default: fdatasync at commit), in a fresh environment.
 *
 *   lmdb_ceiling DIR N V      prints {"records":N,"seconds":S,"records_per_s":R}
 *
 * A bench tool, so it includes lmdb.h itself (the server's only includer is
 * server/store/store_lmdb.c).
 */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: fast random keys, seeded from the clock */
static uint64_t rng_state;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

#define CHECK(x)                                                               \
	do {                                                                   \
		int rc_ = (x);                                                 \
		if (rc_) {                                                     \
			fprintf(stderr, "lmdb_ceiling: %s: %s\n", #x,          \
			        mdb_strerror(rc_));                            \
			return 1;                                              \
		}                                                              \
	} while (0)

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: lmdb_ceiling DIR RECORDS VALUE_BYTES\n");
		return 2;
	}
	const char *dir = argv[1];
	long n = atol(argv[2]), vbytes = atol(argv[3]);
	if (n <= 0 || vbytes <= 0 || vbytes > 65536) {
		fprintf(stderr, "lmdb_ceiling: bad RECORDS or VALUE_BYTES\n");
		return 2;
	}
	rng_state = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL | 1;
	char *val = malloc((size_t)vbytes);
	if (!val)
		return 1;
	for (long i = 0; i < vbytes; i++)
		val[i] = (char)('a' + i % 26);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	CHECK(mdb_env_create(&env));
	CHECK(mdb_env_set_mapsize(env, (size_t)(n * (vbytes + 128) * 3 + (64 << 20))));
	CHECK(mdb_env_open(env, dir, MDB_NOTLS, 0600));
	double t0 = now_s();
	CHECK(mdb_txn_begin(env, NULL, 0, &txn));
	CHECK(mdb_dbi_open(txn, NULL, 0, &dbi));
	/* keys shaped like fieldsync's record keys: "task\0t-<16 hex>" */
	char key[32];
	memcpy(key, "task\0t-", 7);
	for (long i = 0; i < n; i++) {
		uint64_t r = rng();
		for (int k = 0; k < 16; k++)
			key[7 + k] = "0123456789abcdef"[(r >> (k * 4)) & 15];
		MDB_val k = {23, key}, v = {(size_t)vbytes, val};
		CHECK(mdb_put(txn, dbi, &k, &v, 0));
	}
	CHECK(mdb_txn_commit(txn));
	double t1 = now_s();
	mdb_env_close(env);
	free(val);
	printf("{\"records\":%ld,\"value_bytes\":%ld,\"seconds\":%.4f,"
	       "\"records_per_s\":%.1f}\n",
	       n, vbytes, t1 - t0, (double)n / (t1 - t0));
	return 0;
}
