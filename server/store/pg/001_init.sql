-- 001_init.sql — the fieldsync store on PostgreSQL (server/store/store_pg.c).
-- Keys and names are bytea, compared bytewise (memcmp order, as LMDB).

-- The one-row counter: every write transaction locks it (FOR UPDATE)
-- first, so writers of all nodes are serialised and seq order is commit
-- order.  hlc: the highest HLC stamp any node noted (store_clock).
CREATE TABLE fs_counter (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	seq     bigint  NOT NULL,
	hlc     bigint  NOT NULL,
	commits bigint  NOT NULL
);
INSERT INTO fs_counter (one, seq, hlc, commits) VALUES (true, 0, 0, 0);

-- Records with the bucket and seq of their (newest) index entry.
CREATE TABLE fs_records (
	c      bytea  NOT NULL,
	id     bytea  NOT NULL,
	bucket bytea  NOT NULL,
	seq    bigint NOT NULL,
	val    bytea  NOT NULL,
	PRIMARY KEY (c, id)
);
CREATE UNIQUE INDEX fs_records_bucket_seq ON fs_records (bucket, seq);

-- Removal entries: record (c, id) left `bucket` at `seq`.
CREATE TABLE fs_gone (
	bucket bytea  NOT NULL,
	c      bytea  NOT NULL,
	id     bytea  NOT NULL,
	seq    bigint NOT NULL,
	PRIMARY KEY (bucket, c, id)
);
CREATE UNIQUE INDEX fs_gone_bucket_seq ON fs_gone (bucket, seq);

-- Per bucket: head (highest seq ever assigned), floor (highest purged).
CREATE TABLE fs_buckets (
	bucket bytea  PRIMARY KEY,
	head   bigint NOT NULL,
	floor  bigint NOT NULL
);

-- The small tables of store.h's enum store_table (tb is its value).
CREATE TABLE fs_kv (
	tb smallint NOT NULL,
	k  bytea    NOT NULL,
	v  bytea    NOT NULL,
	PRIMARY KEY (tb, k)
);
