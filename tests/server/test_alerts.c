/* test_alerts.c — the pure parts of server/svc/alerts.h and webhook.h:
 * every rule's text in Chinese and English, the kinds and severities the
 * schema lists, webhook bodies in each format, the idempotency key, and
 * which addresses count as private. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/errors.h"
#include "schema/schema.h"
#include "server/svc/alerts.h"
#include "server/svc/webhook.h"

/* Any byte of a multi-byte UTF-8 sequence of a CJK ideograph (E4-E9 lead). */
static int has_cjk(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0xe4 && (unsigned char)*s <= 0xe9)
			return 1;
	return 0;
}

static int ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80 && strncmp(s, "\xe2\x80\x93", 3) &&
		    strncmp(s, "\xe2\x80\x94", 3))
			return 0;
		else if ((unsigned char)*s >= 0x80)
			s += 2;
	return 1;
}

static void every_rule_has_both_texts(void **state)
{
	(void)state;
	arena *a = arena_new(0);
	for (int k = 0; k < AK__COUNT; k++) {
		alert_facts f = {k, "subj-1", "Lift 2 stuck", "elevator_entrapment",
		                 "on_site", "g-li", "cp-07, cp-08", 2, "23:00", "23:15", NULL};
		char *zh = NULL, *en = NULL;
		assert_int_equal(alerts_text(a, &f, &zh, &en), FS_OK);
		assert_non_null(strstr(zh, "subj-1"));
		assert_non_null(strstr(en, "subj-1"));
		assert_true(has_cjk(zh));
		assert_true(ascii(en));
		/* the kind names are the schema's enum, in order */
		assert_string_equal(alerts_kind_name(k), schema_alert_kinds[k]);
		assert_true(!strcmp(alerts_severity(k), "warning") ||
		            !strcmp(alerts_severity(k), "critical"));
	}
	assert_null(schema_alert_kinds[AK__COUNT]);
	char *zh, *en;
	alert_facts bad;
	memset(&bad, 0, sizeof(bad));
	bad.kind = AK__COUNT;
	assert_int_equal(alerts_text(a, &bad, &zh, &en), FS_E_BAD_REQUEST);
	/* the details each text carries */
	alert_facts lone = {AK_LONE_WORKER, "sh1", NULL, NULL, NULL, "g-li", NULL,
	                    42, "10:20", NULL, NULL};
	assert_int_equal(alerts_text(a, &lone, &zh, &en), FS_OK);
	assert_non_null(strstr(en, "42 min"));
	assert_non_null(strstr(zh, "42 分钟"));
	assert_non_null(strstr(zh, "g-li"));
	/* a checkin's evidence: who, where, when and which shift */
	alert_facts tap = {AK_TAG_REPLAYED, "ck-9", "cp-06", NULL, NULL, "g-li",
	                   NULL, 0, NULL, "05-01 23:10", "sh-n"};
	assert_int_equal(alerts_text(a, &tap, &zh, &en), FS_OK);
	assert_non_null(strstr(en, "cp-06"));
	assert_non_null(strstr(en, "sh-n"));
	assert_non_null(strstr(en, "23:10"));
	assert_non_null(strstr(zh, "g-li"));
	assert_string_equal(alerts_severity(AK_TAG_REPLAYED), "critical");
	alert_facts warn = {AK_SLA_WARNING, "o1", "tap", "repair", "resolved",
	                    NULL, NULL, 80, NULL, "12-06 06:00", NULL};
	assert_int_equal(alerts_text(a, &warn, &zh, &en), FS_OK);
	assert_non_null(strstr(en, "80%"));
	assert_non_null(strstr(en, "resolution"));
	assert_non_null(strstr(zh, "维修"));
	assert_non_null(strstr(zh, "12-06 06:00"));
	arena_free(a);
}

static record alert_rec(arena *a)
{
	record r;
	rec_init(&r);
	stamp st = {1, "server", 6};
	const char *s[][2] = {{"site", "s1"}, {"kind", "urgent_order"},
	                      {"severity", "critical"}, {"text_zh", "紧急 \"引号\""},
	                      {"text_en", "Urgent\nline"}};
	for (size_t i = 0; i < 5; i++) {
		wval v = wv_of_str(s[i][1]);
		assert_int_equal(rec_set(a, &r, s[i][0], strlen(s[i][0]), &v, &st), FS_OK);
	}
	return r;
}

static void bodies_in_every_format(void **state)
{
	(void)state;
	arena *a = arena_new(0);
	record r = alert_rec(a);
	const char *fmts[] = {"json", "wecom", "dingtalk", "slack", NULL};
	const char *want[] = {"\"kind\":\"urgent_order\"", "\"msgtype\":\"markdown\"",
	                      "\"title\":\"fieldsync urgent_order\"", "\"text\":\"*fieldsync"};
	for (int i = 0; fmts[i]; i++) {
		wbuf b;
		wb_init(&b);
		assert_int_equal(webhook_body(fmts[i], "al:x", &r, &b), FS_OK);
		char *s = arena_strndup(a, (const char *)b.p, b.n);
		assert_non_null(strstr(s, want[i]));
		assert_non_null(strstr(s, "\\\"引号\\\"")); /* escaped */
		assert_null(strchr(s, '\n'));              /* newlines escaped */
		wb_free(&b);
	}
	arena_free(a);
}

static void key_is_stable_per_pair(void **state)
{
	(void)state;
	char k1[33], k2[33], k3[33];
	webhook_key("al:a", "wh1", k1);
	webhook_key("al:a", "wh1", k2);
	webhook_key("al:a", "wh2", k3);
	assert_int_equal(strlen(k1), 32);
	assert_string_equal(k1, k2);
	assert_string_not_equal(k1, k3);
	/* the separator keeps ("al:a", "bwh") apart from ("al:ab", "wh") */
	webhook_key("al:ab", "wh", k2);
	webhook_key("al:a", "bwh", k3);
	assert_string_not_equal(k2, k3);
}

static void private_addresses(void **state)
{
	(void)state;
	uint8_t v4[][4] = {{127, 0, 0, 1}, {10, 1, 2, 3}, {172, 16, 0, 1},
	                   {172, 31, 255, 255}, {192, 168, 1, 1}, {169, 254, 1, 1},
	                   {100, 64, 0, 1}, {0, 0, 0, 0}, {224, 0, 0, 1}};
	for (size_t i = 0; i < sizeof(v4) / 4; i++)
		assert_true(webhook_private_addr(v4[i], 4));
	uint8_t pub4[][4] = {{8, 8, 8, 8}, {172, 32, 0, 1}, {100, 128, 0, 1},
	                     {203, 0, 114, 1}};
	for (size_t i = 0; i < sizeof(pub4) / 4; i++)
		assert_false(webhook_private_addr(pub4[i], 4));
	uint8_t loop6[16] = {0};
	loop6[15] = 1;
	assert_true(webhook_private_addr(loop6, 16));
	uint8_t ula[16] = {0xfd, 0x12};
	assert_true(webhook_private_addr(ula, 16));
	uint8_t ll[16] = {0xfe, 0x80};
	assert_true(webhook_private_addr(ll, 16));
	uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
	assert_true(webhook_private_addr(mapped, 16));
	uint8_t pub6[16] = {0x24, 0x08, 0x80, 0x00};
	assert_false(webhook_private_addr(pub6, 16));
	assert_true(webhook_private_addr(pub6, 3)); /* not an address */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_rule_has_both_texts),
		cmocka_unit_test(bodies_in_every_format),
		cmocka_unit_test(key_is_stable_per_pair),
		cmocka_unit_test(private_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
