/* UTF-8 as strict JSON readers (and CloudWatch's parser) want it. What a
 * record carries comes from anywhere: a process names itself "\xff\xfe",
 * the kernel cuts a command name after 15 bytes, mid-character. Invalid
 * bytes become U+FFFD; a sequence cut short at the very end of a string (a
 * truncation, ours or the kernel's) is dropped. Strict: no overlong forms,
 * no surrogates, nothing above U+10FFFF. Pure functions. */
#ifndef NODETRAIL_BASE_UTF8_H
#define NODETRAIL_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#define UTF8_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/* The bytes of the valid character at s (1 to 4), 0 when the bytes there are
 * not one; *cut (may be NULL): they are a valid start that n ends too early. */
size_t utf8_char_len(const unsigned char *s, size_t n, bool *cut);

/* s[0..n) is strict UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* The longest prefix of s[0..n) of at most max bytes that ends between
 * characters (s itself valid or not: only continuation bytes are looked at). */
size_t utf8_cut(const char *s, size_t n, size_t max);

/* in[0..n) into out (cap bytes, NUL included), repaired as above and cut on
 * a character boundary if out is too small. Returns the bytes written. */
size_t utf8_repair(const char *in, size_t n, char *out, size_t cap);

/* Every string and key of the tree repaired in place. Returns how many were
 * repaired, or -1 when memory ran out (the tree is whole either way). */
int utf8_repair_json(cJSON *o);

#endif
