/* test_fts_text.c - unit tests for the IMAP backend's stored message text
 * (imap-ext/fts-mailsift-text.c, Dovecot-free): segments per part (TEXT
 * finds a key across a part's headers and body, BODY only in the body,
 * neither across parts), the size limit, and damaged stored text (bad
 * LZ4 blocks, segment lengths past the end, a size over the limit)
 * reported as damaged, never read out of bounds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>

#include "fts-mailsift-text.h"
#include "support_util.h"

static struct msf_text_codec *z;
static ms_buf packed;

static void setup(void)
{
	z = msf_text_codec_new();
	ck_assert_ptr_nonnull(z);
	ms_buf_reset(&packed);
}

static void teardown(void)
{
	msf_text_codec_free(&z);
	ck_assert_ptr_null(z);
	ms_buf_free(&packed);
}

static void add(struct msf_text *t, bool body, const char *s)
{
	msf_text_add(t, body, s, strlen(s));
}

static int find(const char *key, bool body_only)
{
	return msf_text_find(z, packed.data, packed.len, key, strlen(key),
			     body_only);
}

/* Two parts: the message's headers and body, then a MIME part. */
static void two_parts(void)
{
	struct msf_text t;

	msf_text_init(&t);
	msf_text_part(&t);
	add(&t, false, "SUBJECT: HELLO WORLD\r\n");
	add(&t, false, "FROM: A@B\r\n");
	add(&t, true, "THE CARD IS ");
	add(&t, true, "HERE");
	msf_text_part(&t);
	add(&t, false, "CONTENT-TYPE: TEXT/PLAIN\r\n");
	add(&t, true, "SECOND PART");
	ck_assert_int_eq(msf_text_pack(&t, z, &packed), 1);
	msf_text_free(&t);
}

START_TEST(test_segments)
{
	two_parts();
	ck_assert_int_eq(find("THE CARD", true), 1);
	ck_assert_int_eq(find("CARD IS HERE", true), 1); /* across adds */
	ck_assert_int_eq(find("HELLO WORLD", false), 1);
	ck_assert_int_eq(find("HELLO WORLD", true), 0); /* a header */
	ck_assert_int_eq(find("A@B\r\nTHE", false), 1); /* header to body */
	ck_assert_int_eq(find("A@B\r\nTHE", true), 0);
	ck_assert_int_eq(find("HERECONTENT", false), 0); /* across parts */
	ck_assert_int_eq(find("SECOND", true), 1);
	ck_assert_int_eq(find("TEXT/PLAIN", true), 0);
	ck_assert_int_eq(find("TEXT/PLAIN", false), 1);
	ck_assert_int_eq(find("the card", true), 0); /* bytes, as native */
	ck_assert_int_eq(find("", false), -1);
}
END_TEST

/* Header text after body text of a segment starts a new one (a part's
 * headers never follow its body; if they did, no key spans them). */
START_TEST(test_header_after_body)
{
	struct msf_text t;

	msf_text_init(&t);
	add(&t, true, "BODY"); /* no part started: one is */
	add(&t, false, "X: Y");
	ck_assert_int_eq(msf_text_pack(&t, z, &packed), 1);
	msf_text_free(&t);
	ck_assert_int_eq(find("BODY", true), 1);
	ck_assert_int_eq(find("BODYX", false), 0);
	ck_assert_int_eq(find("X: Y", false), 1);
	ck_assert_int_eq(find("X: Y", true), 0);
}
END_TEST

START_TEST(test_limit)
{
	struct msf_text t;
	size_t n = 1024 * 1024;
	char *big = malloc(n);

	ck_assert_ptr_nonnull(big);
	memset(big, 'A', n);
	msf_text_init(&t);
	msf_text_part(&t);
	for (size_t i = 0; i < MSF_TEXT_MAX / n + 1; i++)
		msf_text_add(&t, true, big, n);
	ck_assert(t.over);
	ck_assert_int_eq(msf_text_pack(&t, z, &packed), 0);
	ck_assert_uint_eq(packed.len, 0);
	msf_text_part(&t); /* nothing more is kept */
	add(&t, true, "X");
	ck_assert_int_eq(msf_text_pack(&t, z, &packed), 0);
	msf_text_free(&t);
	/* an empty text packs (no part at all) and holds nothing */
	msf_text_init(&t);
	ck_assert_int_eq(msf_text_pack(&t, z, &packed), 1);
	ck_assert_int_eq(find("A", false), 0);
	msf_text_free(&t);
	free(big);
}
END_TEST

/* Stored text holding plain[0..n) as it is (the size, then the block). */
static void pack_raw(const char *plain, size_t n)
{
	int bound = LZ4_compressBound((int)n), c;

	ms_buf_reset(&packed);
	ck_assert_int_eq(ms_buf_reserve(&packed, 4 + (size_t)bound), MS_OK);
	for (int i = 0; i < 4; i++)
		packed.data[i] = (char)((n >> (8 * i)) & 0xFF);
	c = LZ4_compress_default(plain, packed.data + 4, (int)n, bound);
	ck_assert_int_gt(c, 0);
	packed.len = 4 + (size_t)c;
}

START_TEST(test_damaged)
{
	static const char past_end[] = "\x05\0\0\0\x05\0\0\0ABCDEFGH";
	static const char short_head[] = "\x01\0\0";
	static const char huge[] = "\xff\xff\xff\xff\0\0\0\0A";
	static const char ok[] = "\x01\0\0\0\x01\0\0\0AB";

	pack_raw(past_end, sizeof(past_end) - 1);
	ck_assert_int_eq(find("A", false), -1);
	pack_raw(short_head, sizeof(short_head) - 1);
	ck_assert_int_eq(find("A", false), -1);
	pack_raw(huge, sizeof(huge) - 1);
	ck_assert_int_eq(find("A", false), -1);
	pack_raw(ok, sizeof(ok) - 1);
	ck_assert_int_eq(find("B", true), 1);
	ck_assert_int_eq(find("AB", true), 0);
	ck_assert_int_eq(find("AB", false), 1);
	/* not stored text; a block cut short; garbage in the block; a size
	   that does not match the block */
	ms_buf_reset(&packed);
	ck_assert_int_eq(ms_buf_append(&packed, "hello world", 11), MS_OK);
	ck_assert_int_eq(find("A", false), -1);
	two_parts();
	packed.len /= 2;
	ck_assert_int_eq(find("SECOND", false), -1);
	two_parts();
	memset(packed.data + 6, 0x5a, packed.len - 6);
	ck_assert_int_lt(find("SECOND", false), 1);
	pack_raw(ok, sizeof(ok) - 1);
	packed.data[0]++;
	ck_assert_int_eq(find("B", true), -1);
	ck_assert_int_eq(msf_text_find(z, "", 0, "A", 1, false), -1);
}
END_TEST

/* Text larger than the limit is not unpacked. */
START_TEST(test_oversized_frame)
{
	size_t n = MSF_TEXT_MAX + 16;
	char *plain = calloc(1, n);

	ck_assert_ptr_nonnull(plain);
	pack_raw(plain, n);
	ck_assert_int_eq(find("A", false), -1);
	free(plain);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fts_text");
	TCase *tc = tcase_create("all");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_segments);
	tcase_add_test(tc, test_header_after_body);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_damaged);
	tcase_add_test(tc, test_oversized_frame);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
