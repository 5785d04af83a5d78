/*
 * The dump encoding of keys and values, which dump, load, list and -e share.
 *
 * The dump format (also printed by --help): one line per pair, "KEY VALUE\n", in key byte
 * order, after a first comment line "# bitask dump 1". In KEY and VALUE, the bytes 0x21 to
 * 0x7e other than backslash and double quote stand for themselves; every other byte is
 * written \xHH (two hex digits); a '#' that begins a KEY is written \x23 too; an empty value
 * is written "". load skips empty lines and lines starting with '#', reads CRLF line ends as
 * LF, refuses a version line "# bitask dump N" of another version than 1 (a dump without one
 * is read as version 1), and stops at the first malformed line (naming its line and column),
 * having stored the pairs before it. dump | load round-trips any keys and values.
 *
 * The escaped leading '#' is the one change to version 1 of the format, which keeps its
 * version line: load always decoded \x23, so old and new load read old and new dumps alike.
 * Earlier dumps wrote such a key raw, and load skipped its line as a comment; since dump
 * writes no comment but its first line, every later line of such a dump that starts with
 * '#' is a pair, and `sed '2,$s/^#/\\x23/'` makes the dump load whole.
 */
#ifndef BITASK_CLI_DUMP_FORMAT_H
#define BITASK_CLI_DUMP_FORMAT_H

#include "cli.h"

/* How encode writes: ENCODE_KEY escapes a leading '#' too, since a key is a line's first field
 * and load takes a line that starts with '#' for a comment. ENCODE_JSON writes the encoding
 * as the inside of a JSON string, its backslashes and quotes escaped again, so that a JSON
 * reader gets back the very text that list prints. */
enum { ENCODE_KEY = 1, ENCODE_JSON = 2 };

/* Writes n bytes in the dump encoding. The output goes through a local buffer because a value
 * may be hundreds of MiB of escapes. */
static void encode(FILE *out, const uint8_t *p, size_t n, unsigned how) {
    static const char hex[] = "0123456789abcdef";
    const char *backslash = how & ENCODE_JSON ? "\\\\" : "\\";
    char buf[8192];
    size_t o = 0;
    if (n == 0) {
        fputs(how & ENCODE_JSON ? "\\\"\\\"" : "\"\"", out);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (o > sizeof buf - 5) {
            fwrite(buf, 1, o, out);
            o = 0;
        }
        if (c >= 0x21 && c <= 0x7e && c != '\\' && c != '"' &&
            !((how & ENCODE_KEY) && i == 0 && c == '#')) {
            buf[o++] = (char)c;
        } else {
            for (const char *b = backslash; *b; b++)
                buf[o++] = *b;
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    fwrite(buf, 1, o, out);
}

static int hex_digit(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Where and why a string is not in the dump encoding, for messages that point at the byte. */
struct decode_error {
    size_t at; /* the offset of the byte at fault */
    char why[80];
};

/* Decodes the n characters at s in place (the result is never longer); its length, or -1
 * when s is not a valid encoded string, with *e telling why. */
static long decode(char *s, size_t n, struct decode_error *e) {
    if (n == 2 && s[0] == '"' && s[1] == '"')
        return 0;
    if (n == 0) {
        e->at = 0;
        snprintf(e->why, sizeof e->why, "nothing, where \"\" is the empty string");
        return -1;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') {
            int hi, lo;
            if (i + 3 >= n || s[i + 1] != 'x' || (hi = hex_digit(s[i + 2])) < 0 ||
                (lo = hex_digit(s[i + 3])) < 0) {
                e->at = i;
                snprintf(e->why, sizeof e->why, "\\ begins \\xHH, two hex digits");
                return -1;
            }
            s[o++] = (char)(hi * 16 + lo);
            i += 3;
        } else if (c >= 0x21 && c <= 0x7e && c != '"') {
            s[o++] = (char)c;
        } else {
            e->at = i;
            if (c == '"')
                snprintf(e->why, sizeof e->why,
                         "\" stands only in \"\", the empty value; a \" is \\x22");
            else if (c == ' ')
                snprintf(e->why, sizeof e->why, "a space inside a KEY or VALUE is written \\x20");
            else
                snprintf(e->why, sizeof e->why, "byte 0x%02x is written \\x%02x", c, c);
            return -1;
        }
    }
    return (long)o;
}

#endif
