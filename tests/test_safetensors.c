/* safetensors: round trips of every dtype, strict rejections, atomic writes, and a mutation
 * smoke test of the parser (no crash, no leak: run it under NITI_SANITIZE=ON).
 * argv[1]: a folder for temporary files (default /tmp). */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/safetensors.h"

static char tmpdir[4096];

static int has(const char *msg, const char *sub) { return strstr(msg, sub) != NULL; }

/* Parses an 8-byte length + json + data_len zero bytes (plus extra raw bytes appended). */
static niti_status parse_json(const char *json, size_t data_len)
{
    size_t jl = strlen(json), len = 8 + jl + data_len;
    unsigned char *b = calloc(len, 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)jl >> (8 * i));
    memcpy(b + 8, json, jl);
    niti_st *st = NULL;
    niti_status s = niti_st_parse(b, len, &st);
    if (s == NITI_OK) CHECK(st != NULL);
    else CHECK(st == NULL);
    niti_st_free(st);
    free(b);
    return s;
}

#define REJECT(json, dlen, sub)                                                                    \
    do {                                                                                           \
        niti_status s_ = parse_json(json, dlen);                                                   \
        CHECK_EQ(s_, NITI_ERR_FORMAT);                                                             \
        if (!has(niti_last_error(), sub)) {                                                        \
            fprintf(stderr, "%s:%d: message '%s' lacks '%s'\n", __FILE__, __LINE__,                \
                    niti_last_error(), sub);                                                       \
            CHECK(0);                                                                              \
        }                                                                                          \
    } while (0)

static void test_reject(void)
{
    niti_st *st = NULL;
    unsigned char raw[16] = {0};
    /* truncated: shorter than the length field */
    CHECK_EQ(niti_st_parse(raw, 5, &st), NITI_ERR_FORMAT);
    CHECK(has(niti_last_error(), "truncated"));
    CHECK_EQ(niti_st_parse(raw, 0, &st), NITI_ERR_FORMAT);
    /* header length beyond the file */
    raw[0] = 100;
    CHECK_EQ(niti_st_parse(raw, 16, &st), NITI_ERR_FORMAT);
    CHECK(has(niti_last_error(), "runs past the end"));
    /* absurd header length */
    memset(raw, 0xff, 8);
    CHECK_EQ(niti_st_parse(raw, 16, &st), NITI_ERR_FORMAT);
    CHECK(has(niti_last_error(), "limit"));
    CHECK(st == NULL);

    REJECT("{\"a\":", 0, "not valid JSON");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}", 1, "not valid JSON");
    REJECT("[1,2]", 0, "not a JSON object");
    REJECT("\"x\"   ", 0, "not a JSON object");
    REJECT("{} x", 0, "after the JSON");
    REJECT("{\"a\xff\":1}", 0, "UTF-8");
    REJECT("{\"\xc0\xaf\":1}", 0, "UTF-8"); /* overlong */
    REJECT("{\"\xed\xa0\x80\":1}", 0, "UTF-8"); /* surrogate */
    REJECT("{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2,
           "unsupported dtype 'BF16'");
    REJECT("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
           "unsupported dtype 'F64'");
    REJECT("{\"a\":{\"dtype\":8,\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "dtype is not a string");
    REJECT("{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "no dtype");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"data_offsets\":[0,1]}}", 1, "no shape");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[1]}}", 1, "no data_offsets");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1,
           "unexpected key 'x'");
    REJECT("{\"a\":[1]}", 1, "not a JSON object");
    /* shapes */
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, "non-negative");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[1.5],\"data_offsets\":[0,1]}}", 1, "non-negative");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[\"1\"],\"data_offsets\":[0,1]}}", 1, "non-negative");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":1,\"data_offsets\":[0,1]}}", 1, "not an array");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
           "more than 8 dimensions");
    REJECT("{\"a\":{\"dtype\":\"I64\",\"shape\":[4294967296,4294967296,4294967296],"
           "\"data_offsets\":[0,8]}}", 8, "overflows");
    REJECT("{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "needs 8");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[2,3],\"data_offsets\":[0,5]}}", 5, "needs 6");
    /* offsets */
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 4, "beyond");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[3,2]}}", 4, "end before begin");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1, "[begin, end]");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,-1]}}", 1, "non-negative");
    REJECT("{\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 6, "overlaps");
    REJECT("{\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "overlaps");
    REJECT("{\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[6,8]}}", 8, "gap");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4, "gap");
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 6, "trailing");
    REJECT("{}", 1, "trailing");
    /* zero-size tensor inside another one */
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]},"
           "\"z\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[2,2]}}", 4, "overlaps");
    /* names */
    REJECT("{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]},"
           "\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2,
           "'a' is defined twice");
    REJECT("{\"\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "empty name");
    /* metadata */
    REJECT("{\"__metadata__\":{\"k\":1}}", 0, "'k' is not a string");
    REJECT("{\"__metadata__\":{\"k\":null}}", 0, "'k' is not a string");
    REJECT("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "'k' is not a string");
    REJECT("{\"__metadata__\":[\"k\"]}", 0, "__metadata__ is not a JSON object");
    REJECT("{\"__metadata__\":\"k\"}", 0, "__metadata__ is not a JSON object");
    REJECT("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "'k' twice");
    REJECT("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ given twice");
    /* a deeply nested header must fail cleanly, not overflow the stack */
    {
        size_t depth = 100000;
        char *j = malloc(2 * depth + 8);
        size_t n = 0;
        j[n++] = '{', j[n++] = '"', j[n++] = 'a', j[n++] = '"', j[n++] = ':';
        for (size_t i = 0; i < depth; i++) j[n++] = '[';
        j[n] = 0;
        CHECK_EQ(parse_json(j, 0), NITI_ERR_FORMAT);
        free(j);
    }

    /* accepted oddities: padding, empty header, zero-size tensors, out-of-order offsets */
    CHECK_EQ(parse_json("{}      ", 0), NITI_OK);
    CHECK_EQ(parse_json("{\"__metadata__\":{}}", 0), NITI_OK);
    CHECK_EQ(parse_json("{\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[4,6]},"
                        "\"z\":{\"dtype\":\"I64\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
                        6),
             NITI_OK);
}

static void test_meta_int(void)
{
    niti_st *st = niti_st_new();
    const char *ok[][2] = {{"a", "42"}, {"b", "-7"}, {"c", "0"},
                           {"d", "9223372036854775807"}, {"e", "-9223372036854775808"}};
    const int64_t want[] = {42, -7, 0, INT64_MAX, INT64_MIN};
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(niti_st_set_meta(st, ok[i][0], ok[i][1]), NITI_OK);
        int64_t v = 1;
        CHECK_EQ(niti_st_meta_int(st, ok[i][0], &v), NITI_OK);
        CHECK(v == want[i]);
    }
    const char *bad[] = {"", "-", "+5", " 5", "5 ", "1e3", "0x10", "9223372036854775808",
                         "-9223372036854775809", "abc"};
    for (int i = 0; i < 10; i++) {
        int64_t v;
        CHECK_EQ(niti_st_set_meta(st, "bad", bad[i]), NITI_OK);
        CHECK_EQ(niti_st_meta_int(st, "bad", &v), NITI_ERR_FORMAT);
        CHECK(has(niti_last_error(), "bad"));
    }
    int64_t v;
    CHECK_EQ(niti_st_meta_int(st, "nope", &v), NITI_ERR_FORMAT);
    CHECK(has(niti_last_error(), "'nope' is missing"));
    CHECK(niti_st_meta_get(st, "nope") == NULL);
    /* replacing */
    CHECK_EQ(niti_st_set_meta(st, "a", "43"), NITI_OK);
    CHECK(!strcmp(niti_st_meta_get(st, "a"), "43"));
    CHECK_EQ(st->n_meta, 6);
    niti_st_free(st);
}

static int files_with(const char *dir, const char *sub)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, sub)) n++;
    closedir(d);
    return n;
}

static niti_st *make_sample(void)
{
    niti_st *st = niti_st_new();
    const int8_t i8[6] = {-128, -127, -1, 0, 1, 127};
    const uint8_t u8[4] = {0, 1, 128, 255};
    const int16_t i16[3] = {INT16_MIN, -2, INT16_MAX};
    const int32_t i32[4] = {INT32_MIN, -1, 0x12345678, INT32_MAX};
    const int64_t i64[3] = {INT64_MIN, -0x0102030405060708LL, INT64_MAX};
    const float f32[2] = {1.5f, -0.25f};
    const int32_t scalar = 77;
    int64_t s23[2] = {2, 3}, s4 = 4, s3 = 3, s22[2] = {2, 2}, s2 = 2, s05[2] = {0, 5};
    CHECK_EQ(niti_st_add(st, "w.i8", NITI_I8, 2, s23, i8), NITI_OK);
    CHECK_EQ(niti_st_add(st, "u8", NITI_U8, 1, &s4, u8), NITI_OK);
    CHECK_EQ(niti_st_add(st, "i16", NITI_I16, 1, &s3, i16), NITI_OK);
    CHECK_EQ(niti_st_add(st, "i32", NITI_I32, 2, s22, i32), NITI_OK);
    CHECK_EQ(niti_st_add(st, "i64", NITI_I64, 1, &s3, i64), NITI_OK);
    CHECK_EQ(niti_st_add(st, "f32", NITI_F32, 1, &s2, f32), NITI_OK);
    CHECK_EQ(niti_st_add(st, "scalar", NITI_I32, 0, NULL, &scalar), NITI_OK);
    CHECK_EQ(niti_st_add(st, "empty", NITI_I64, 2, s05, NULL), NITI_OK);
    CHECK_EQ(niti_st_add(st, "quote\"back\\slash\nnewline \xc3\xa9", NITI_U8, 1, &s4, u8), NITI_OK);
    CHECK_EQ(niti_st_set_meta(st, "kind", "test"), NITI_OK);
    CHECK_EQ(niti_st_set_meta(st, "odd \"key\"", "tab\there\\ \xe2\x82\xac \x01"), NITI_OK);
    CHECK_EQ(niti_st_set_meta(st, "n", "-12"), NITI_OK);
    return st;
}

static void check_same(const niti_st *a, const niti_st *b)
{
    CHECK_EQ(a->n_tensors, b->n_tensors);
    CHECK_EQ(a->n_meta, b->n_meta);
    for (int i = 0; i < a->n_tensors && i < b->n_tensors; i++) {
        const niti_st_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        CHECK(!strcmp(x->name, y->name)); /* file order kept */
        CHECK_EQ(x->dtype, y->dtype);
        CHECK_EQ(x->ndim, y->ndim);
        for (int d = 0; d < x->ndim; d++) CHECK_EQ(x->shape[d], y->shape[d]);
        CHECK_EQ(x->count, y->count);
        CHECK_EQ(x->nbytes, y->nbytes);
        CHECK(x->nbytes == y->nbytes && !memcmp(x->data, y->data, x->nbytes));
    }
    for (int i = 0; i < a->n_meta; i++) {
        const char *v = niti_st_meta_get(b, a->meta[i].key);
        CHECK(v && !strcmp(v, a->meta[i].value));
    }
}

static void test_round_trip(void)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/rt.safetensors", tmpdir);
    niti_st *st = make_sample();
    CHECK_EQ(niti_st_write(st, path), NITI_OK);
    niti_st *back = NULL;
    CHECK_EQ(niti_st_read(path, &back), NITI_OK);
    if (back) check_same(st, back);
    const niti_st_tensor *t = back ? niti_st_find(back, "i64") : NULL;
    CHECK(t && ((const int64_t *)t->data)[0] == INT64_MIN);
    t = back ? niti_st_find(back, "scalar") : NULL;
    CHECK(t && t->ndim == 0 && t->count == 1 && *(const int32_t *)t->data == 77);
    t = back ? niti_st_find(back, "empty") : NULL;
    CHECK(t && t->count == 0 && t->nbytes == 0);
    CHECK(back && niti_st_find(back, "missing") == NULL);
    int64_t n = 0;
    CHECK_EQ(niti_st_meta_int(back, "n", &n), NITI_OK);
    CHECK_EQ(n, -12);

    /* raw layout: little-endian length, header a multiple of 8, padded with spaces, LE data */
    FILE *f = fopen(path, "rb");
    unsigned char buf[4096];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    CHECK(len > 8);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
    CHECK(hl % 8 == 0 && 8 + hl <= len);
    CHECK(buf[8] == '{');
    CHECK(buf[8 + hl - 1] == ' ' || buf[8 + hl - 1] == '}');
    /* the first tensor (w.i8) starts the data section */
    CHECK(len > 8 + hl && buf[8 + hl] == 0x80);
    /* i32 second element (-1) then 0x12345678 little-endian somewhere after */
    int found = 0;
    for (size_t i = 8 + hl; i + 4 <= len; i++)
        if (buf[i] == 0x78 && buf[i + 1] == 0x56 && buf[i + 2] == 0x34 && buf[i + 3] == 0x12)
            found = 1;
    CHECK(found);
    /* parse of the same bytes agrees; every shorter prefix is rejected */
    niti_st *p = NULL;
    CHECK_EQ(niti_st_parse(buf, len, &p), NITI_OK);
    if (p) check_same(st, p);
    niti_st_free(p);
    for (size_t l = 0; l < len; l++) {
        p = NULL;
        CHECK(niti_st_parse(buf, l, &p) != NITI_OK && p == NULL);
    }
    /* ... and a longer one too (trailing bytes) */
    buf[len] = 0;
    CHECK_EQ(niti_st_parse(buf, len + 1, &p), NITI_ERR_FORMAT);

    /* replace a tensor by name */
    int64_t s1 = 1;
    int8_t one = 5;
    int nt = st->n_tensors;
    CHECK_EQ(niti_st_add(st, "u8", NITI_I8, 1, &s1, &one), NITI_OK);
    CHECK_EQ(st->n_tensors, nt);
    t = niti_st_find(st, "u8");
    CHECK(t && t->dtype == NITI_I8 && t->count == 1 && *(const int8_t *)t->data == 5);
    /* invalid additions */
    int64_t neg = -1, big[2] = {INT64_MAX, INT64_MAX};
    CHECK_EQ(niti_st_add(st, "", NITI_I8, 1, &s1, &one), NITI_ERR_INVALID);
    CHECK_EQ(niti_st_add(st, "__metadata__", NITI_I8, 1, &s1, &one), NITI_ERR_INVALID);
    CHECK_EQ(niti_st_add(st, "x", NITI_I8, 1, &neg, &one), NITI_ERR_INVALID);
    CHECK_EQ(niti_st_add(st, "x", NITI_I8, 2, big, &one), NITI_ERR_INVALID);
    CHECK_EQ(niti_st_add(st, "x", NITI_I8, 9, big, &one), NITI_ERR_INVALID);
    CHECK_EQ(niti_st_add(st, "x", (niti_dtype)42, 1, &s1, &one), NITI_ERR_INVALID);
    CHECK_EQ(niti_st_add(st, "x", NITI_I8, 1, &s1, NULL), NITI_ERR_INVALID);
    CHECK_EQ(niti_st_add(st, "bad\xff", NITI_I8, 1, &s1, &one), NITI_ERR_INVALID);
    CHECK_EQ(niti_st_set_meta(st, "k", "bad\xff"), NITI_ERR_INVALID);
    CHECK_EQ(st->n_tensors, nt);

    /* an empty container round-trips too */
    niti_st *e = niti_st_new(), *eb = NULL;
    CHECK_EQ(niti_st_write(e, path), NITI_OK);
    CHECK_EQ(niti_st_read(path, &eb), NITI_OK);
    CHECK(eb && eb->n_tensors == 0 && eb->n_meta == 0);
    niti_st_free(e);
    niti_st_free(eb);

    niti_st_free(back);
    niti_st_free(st);
    CHECK_EQ(files_with(tmpdir, ".tmp"), 0);
    remove(path);
}

static void test_read_errors(void)
{
    char path[8192];
    niti_st *st = NULL;
    snprintf(path, sizeof path, "%s/does_not_exist.safetensors", tmpdir);
    CHECK_EQ(niti_st_read(path, &st), NITI_ERR_IO);
    CHECK(has(niti_last_error(), "does_not_exist.safetensors"));
    CHECK_EQ(niti_st_read(tmpdir, &st), NITI_ERR_IO); /* a folder */
    snprintf(path, sizeof path, "%s/garbage.safetensors", tmpdir);
    FILE *f = fopen(path, "wb");
    static const char garbage[] = "\x10\0\0\0\0\0\0\0{\"a\":nope}      ";
    fwrite(garbage, 1, sizeof garbage - 1, f);
    fclose(f);
    CHECK_EQ(niti_st_read(path, &st), NITI_ERR_FORMAT);
    CHECK(has(niti_last_error(), "garbage.safetensors: "));
    CHECK(has(niti_last_error(), "not valid JSON"));
    CHECK(st == NULL);
    remove(path);
}

static int file_equals(const char *path, const niti_st *want)
{
    niti_st *st = NULL;
    if (niti_st_read(path, &st) != NITI_OK) return 0;
    int ok = st->n_tensors == want->n_tensors;
    for (int i = 0; ok && i < st->n_tensors; i++)
        ok = st->tensors[i].nbytes == want->tensors[i].nbytes &&
             !memcmp(st->tensors[i].data, want->tensors[i].data, st->tensors[i].nbytes);
    niti_st_free(st);
    return ok;
}

static void test_atomic_write(void)
{
    char path[8192], sub[8192], sdir[8192];
    snprintf(path, sizeof path, "%s/atomic.safetensors", tmpdir);
    niti_st *old = make_sample();
    CHECK_EQ(niti_st_write(old, path), NITI_OK);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
    chmod(path, 0640);

    /* A big new version that cannot be written: file size limit (works as root too). */
    niti_st *big = niti_st_new();
    int64_t n = 1 << 20;
    void *z = calloc((size_t)n, 1);
    CHECK_EQ(niti_st_add(big, "zeros", NITI_I8, 1, &n, z), NITI_OK);
    free(z);
    struct rlimit rl, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &rl) == 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = rl;
    lim.rlim_cur = 64 * 1024;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    niti_status s = niti_st_write(big, path);
    CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    signal(SIGXFSZ, prev);
    CHECK_EQ(s, NITI_ERR_IO);
    CHECK(has(niti_last_error(), "atomic.safetensors"));
    CHECK(file_equals(path, old));
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640);
    CHECK_EQ(files_with(tmpdir, ".tmp"), 0);

    /* The target is a folder: rename fails, the temp file is removed. */
    snprintf(sub, sizeof sub, "%s/adir.safetensors", tmpdir);
    mkdir(sub, 0755);
    CHECK_EQ(niti_st_write(old, sub), NITI_ERR_IO);
    CHECK_EQ(files_with(tmpdir, ".tmp"), 0);
    rmdir(sub);

    /* The folder does not exist. */
    snprintf(sub, sizeof sub, "%s/no/such/dir/x.safetensors", tmpdir);
    CHECK_EQ(niti_st_write(old, sub), NITI_ERR_IO);
    CHECK(has(niti_last_error(), "x.safetensors"));

    /* A folder we may not write to (only meaningful when not root: root may write anyway). */
    snprintf(sdir, sizeof sdir, "%s/ro", tmpdir);
    mkdir(sdir, 0755);
    snprintf(sub, sizeof sub, "%s/ro/f.safetensors", tmpdir);
    CHECK_EQ(niti_st_write(old, sub), NITI_OK);
    chmod(sdir, 0555);
    s = niti_st_write(big, sub);
    if (geteuid() != 0) CHECK_EQ(s, NITI_ERR_IO);
    CHECK(file_equals(sub, s == NITI_OK ? big : old));
    CHECK_EQ(files_with(sdir, ".tmp"), 0);
    chmod(sdir, 0755);
    remove(sub);
    rmdir(sdir);

    /* A successful write replaces the file and keeps its permissions. */
    CHECK_EQ(niti_st_write(big, path), NITI_OK);
    CHECK(file_equals(path, big));
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640);
    /* Relative path (no folder part). */
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) && chdir(tmpdir) == 0) {
        CHECK_EQ(niti_st_write(old, "rel.safetensors"), NITI_OK);
        CHECK(file_equals("rel.safetensors", old));
        remove("rel.safetensors");
        CHECK(chdir(cwd) == 0);
    }
    remove(path);
    niti_st_free(big);
    niti_st_free(old);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random mutations of a valid file: the parser must never crash or leak. */
static void test_mutations(void)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/mut.safetensors", tmpdir);
    niti_st *st = make_sample();
    CHECK_EQ(niti_st_write(st, path), NITI_OK);
    niti_st_free(st);
    FILE *f = fopen(path, "rb");
    unsigned char orig[4096], buf[4096];
    size_t len = f ? fread(orig, 1, sizeof orig, f) : 0;
    if (f) fclose(f);
    remove(path);
    CHECK(len > 64);
    const char *tokens[] = {"\"", "{", "}", "[", "]", ",", ":", "-1", "0", "1e300", "null",
                            "\"I64\"", "\\u0000", "\xff", "99999999999999999999", "1.5"};
    int ok = 0, rejected = 0;
    for (int it = 0; it < 30000; it++) {
        memcpy(buf, orig, len);
        size_t l = len;
        int muts = 1 + (int)(rnd() % 4);
        for (int m = 0; m < muts; m++) {
            size_t pos = (size_t)(rnd() % l);
            switch (rnd() % 4) {
            case 0: buf[pos] = (unsigned char)rnd(); break;
            case 1: buf[pos] ^= (unsigned char)(1u << (rnd() % 8)); break;
            case 2: { /* overwrite with a JSON-ish token */
                const char *t = tokens[rnd() % (sizeof tokens / sizeof *tokens)];
                size_t tl = strlen(t);
                if (pos >= 8 && pos + tl <= l) memcpy(buf + pos, t, tl);
                break;
            }
            default: l = pos + 1; break; /* truncate */
            }
        }
        niti_st *p = NULL;
        if (niti_st_parse(buf, l, &p) == NITI_OK) {
            ok++;
            /* whatever parsed must be self-consistent */
            for (int i = 0; i < p->n_tensors; i++)
                CHECK(p->tensors[i].nbytes == p->tensors[i].count *
                                                  niti_dtype_size(p->tensors[i].dtype));
            niti_st_free(p);
        } else {
            rejected++;
            CHECK(p == NULL);
        }
    }
    printf("mutations: %d parsed, %d rejected\n", ok, rejected);
    CHECK(rejected > 0);
}

int main(int argc, char **argv)
{
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/st_test_XXXXXX", argc > 1 ? argv[1] : "/tmp");
    if (!mkdtemp(tmpl)) {
        perror(tmpl);
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "%s", tmpl);
    test_reject();
    test_meta_int();
    test_round_trip();
    test_read_errors();
    test_atomic_write();
    test_mutations();
    rmdir(tmpdir);
    return check_report("test_safetensors");
}
