/* tokmeter's optional accelerator for capture logs (tokmeter.extract._accel; binding: accel.py).
 *
 * Each function is the exact counterpart of Python code, which stays the reference, and gives None
 * where it is not certain (the Python code then runs). A wrong answer here is a wrong bill.
 *
 *   read_body(line)                  a capture record's bytes -> (start, end, sse): line[start:end] is the
 *                                    content of its one top-level "body" string, checked to be what
 *                                    orjson accepts (no control character, known escapes, paired
 *                                    surrogates, valid UTF-8); sse: it starts "data:" or "event:" and the
 *                                    functions below can read it. None: not an object, no or two "body"
 *                                    keys, an escaped key, a body that is no (valid) string.
 *   head(line, start, end, count)    the first count characters of the body, decoded.
 *   select(line, start, end, markers)  sse.select_events: the events of the blocks it chooses (decoded,
 *                                    then parsed as sse.parse_sse parses text without CR).
 *   chat_spans(line, start, end)     fastpath._chat_spans, with the first event of each block it names.
 *   set_event_type(SSEEvent)         the class the events are made of (accel.py, at import).
 *
 * The text functions read the body as it is in the line, escaped, and decode only the blocks they return.
 * They need every character that matters to them spelled one way: so read_body says sse only when the
 * body has no \r (a CR: Python's fast path gives up too) and no \u escape of an ASCII character. Then
 * each ASCII character of the decoded text is one byte of the escaped text, or two for '"', '\\', '\n',
 * '\t', '/', '\b', '\f' (a backslash first); a needle without '/' (the one printable character spelled
 * either way) is found in the decoded text exactly where its escaped spelling is found at a token
 * boundary (not after an escaping backslash, not inside a \u escape), and offsets of boundaries map one
 * to one and in order, offset 0 to offset 0. A span is returned in escaped offsets from the body's
 * start, which only Python's ordering and its "starts the body" test read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* SSE2 (every x86-64) for the scans; elsewhere, or built with -DTOKMETER_NO_SIMD, the same byte by byte */
#if defined(__SSE2__) && !defined(TOKMETER_NO_SIMD)
#define USE_SSE2 1
#include <emmintrin.h>
#endif

typedef const unsigned char *cbytes;


/* ------------------------------------------------------------------------------------------------ */
/* The record: find the top-level "body" string and check it                                         */

static Py_ssize_t skip_ws(cbytes s, Py_ssize_t i, Py_ssize_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* s[i] is the opening quote: the index just past the closing one, -1 if unterminated. Validity is
 * orjson's to check (the caller decodes everything but the body with it). */
static Py_ssize_t skip_string(cbytes s, Py_ssize_t i, Py_ssize_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return -1;
}

/* Any JSON value from s[i]: the index just past it, -1 when it cannot be told. */
static Py_ssize_t skip_value(cbytes s, Py_ssize_t i, Py_ssize_t n)
{
    if (i >= n)
        return -1;
    if (s[i] == '"')
        return skip_string(s, i, n);
    if (s[i] == '{' || s[i] == '[') {
        Py_ssize_t depth = 0;
        while (i < n) {
            unsigned char c = s[i];
            if (c == '"') {
                i = skip_string(s, i, n);
                if (i < 0)
                    return -1;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return i + 1;
            }
            i++;
        }
        return -1;
    }
    Py_ssize_t start = i;
    while (i < n && !memchr(",}] \t\n\r", s[i], 7))
        i++;
    return i > start ? i : -1;
}

static int hex4(cbytes s, unsigned int *out)
{
    unsigned int v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* The length of the valid UTF-8 sequence at s[0] (a byte >= 0x80), 0 when invalid (RFC 3629, as orjson
 * and Python require: no overlong forms, no surrogates, nothing above U+10FFFF). */
static int utf8_length(cbytes s, Py_ssize_t left)
{
    unsigned char c = s[0];
    int len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    }
    else
        return 0;
    if (left < len || s[1] < lo || s[1] > hi)
        return 0;
    for (int k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return len;
}

static char *put_code_point(char *o, unsigned int cp)
{
    if (cp < 0x80)
        *o++ = (char)cp;
    else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* What follows a backslash: the character it stands for, 1 for \u, 0 for an invalid escape. */
static const unsigned char ESCAPES[256] = {
    ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f',
    ['n'] = '\n', ['r'] = '\r', ['t'] = '\t', ['u'] = 1,
};

#define FLAG_CR 1         /* a \r escape */
#define FLAG_ASCII_U 2    /* a \u escape of an ASCII character */

/* One token of string content at s[*i] (not the closing quote), decoded to *o when o is not NULL, *i
 * moved past it, *flags told of a CR or an ASCII \u. 0 when orjson would refuse it (a control character,
 * an unknown escape, an unpaired surrogate, invalid UTF-8). */
static inline int token(cbytes s, Py_ssize_t *i, Py_ssize_t n, char **o, int *flags)
{
    Py_ssize_t at = *i;
    unsigned char c = s[at];
    if (c < 0x20)
        return 0;
    if (c >= 0x80) {
        int len = utf8_length(s + at, n - at);
        if (!len)
            return 0;
        if (o) {
            memcpy(*o, s + at, (size_t)len);
            *o += len;
        }
        *i = at + len;
        return 1;
    }
    if (c != '\\') {
        if (o)
            *(*o)++ = (char)c;
        *i = at + 1;
        return 1;
    }
    unsigned char e = at + 1 < n ? ESCAPES[s[at + 1]] : 0;
    if (e > 1) {
        if (e == '\r')
            *flags |= FLAG_CR;
        if (o)
            *(*o)++ = (char)e;
        *i = at + 2;
        return 1;
    }
    unsigned int cp, low;
    if (e == 0 || at + 6 > n || !hex4(s + at + 2, &cp) || (cp >= 0xDC00 && cp <= 0xDFFF))
        return 0;
    at += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (at + 6 > n || s[at] != '\\' || s[at + 1] != 'u' || !hex4(s + at + 2, &low) || low < 0xDC00 ||
            low > 0xDFFF)
            return 0;
        at += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (cp < 0x80)
        *flags |= FLAG_ASCII_U;
    if (o)
        *o = put_code_point(*o, cp);
    *i = at;
    return 1;
}

#ifdef USE_SSE2
#define BLOCK 64
#define ODD_BITS 0xAAAAAAAAAAAAAAAAULL

static uint64_t mask_of(__m128i a, __m128i b, __m128i c, __m128i d)
{
    return (uint64_t)(unsigned)_mm_movemask_epi8(a) | (uint64_t)(unsigned)_mm_movemask_epi8(b) << 16 |
           (uint64_t)(unsigned)_mm_movemask_epi8(c) << 32 | (uint64_t)(unsigned)_mm_movemask_epi8(d) << 48;
}

/* The 64 bytes at s[*i] (a token boundary) checked; *i moved to the next token boundary past them, or to
 * the closing quote (then 0). -1 when orjson would refuse them. The escaping backslashes are told apart
 * from escaped ones with simdjson's bit arithmetic (in a run of backslashes, every other one escapes
 * the next byte), so only the blocks with something other than '"', '\\' and 'n' after a backslash, a
 * control character or a byte >= 0x80 are walked byte by byte. */
static int scan_block(cbytes s, Py_ssize_t *i, Py_ssize_t n, int *flags)
{
    Py_ssize_t base = *i;
    __m128i v[4];
    for (int k = 0; k < 4; k++)
        v[k] = _mm_loadu_si128((const __m128i *)(s + base + 16 * k));
#define MASK(expr) mask_of(expr(v[0]), expr(v[1]), expr(v[2]), expr(v[3]))
#define IS_BACKSLASH(x) _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))
#define IS_QUOTE(x) _mm_cmpeq_epi8(x, _mm_set1_epi8('"'))
#define IS_N(x) _mm_cmpeq_epi8(x, _mm_set1_epi8('n'))
#define IS_SPECIAL(x) _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)) /* signed: controls and bytes >= 0x80 */
    uint64_t bs = MASK(IS_BACKSLASH), q = MASK(IS_QUOTE), special = MASK(IS_SPECIAL);
    uint64_t escape_and_code = (((bs << 1) | ODD_BITS) - bs) ^ ODD_BITS;
    uint64_t escaped = escape_and_code ^ bs, escapes = escape_and_code & bs;
    uint64_t quote = q & ~escaped;
    uint64_t before = quote ? (quote & (0 - quote)) - 1 : ~0ULL; /* the bytes before the closing quote */
    uint64_t odd = ((escaped & ~(q | bs | MASK(IS_N))) | (special & ~escaped)) & before;
    if (odd) {
        /* walk this block's tokens from its start */
        Py_ssize_t at = base;
        while (at < base + BLOCK) {
            if (s[at] == '"') {
                *i = at;
                return 0;
            }
            if (!token(s, &at, n, NULL, flags))
                return -1;
        }
        *i = at;
        return 1;
    }
    if (quote) {
        *i = base + __builtin_ctzll(quote);
        return 0;
    }
    *i = base + BLOCK;
    if (escapes >> 63) { /* the last byte starts an escape: its code is the next block's first byte */
        Py_ssize_t at = base + BLOCK - 1;
        if (!token(s, &at, n, NULL, flags))
            return -1;
        *i = at;
    }
    return 1;
}
#endif

/* The string content s[i:] checked up to its closing quote, as orjson would check it: its index, or -1
 * when orjson would refuse it (or it is unterminated). */
static Py_ssize_t scan_string(cbytes s, Py_ssize_t i, Py_ssize_t n, int *flags)
{
#ifdef USE_SSE2
    while (i + BLOCK <= n) {
        int more = scan_block(s, &i, n, flags);
        if (more < 0)
            return -1;
        if (more == 0)
            return i;
    }
#endif
    while (i < n) {
        if (s[i] == '"')
            return i;
        if (!token(s, &i, n, NULL, flags))
            return -1;
    }
    return -1;
}

static int starts_with(cbytes s, Py_ssize_t n, const char *prefix)
{
    size_t m = strlen(prefix);
    return (size_t)n >= m && memcmp(s, prefix, m) == 0;
}

static PyObject *read_body(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "read_body expects bytes");
        return NULL;
    }
    cbytes s = (cbytes)PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg);
    Py_ssize_t i = skip_ws(s, 0, n), start = -1, end = -1;
    int flags = 0;
    if (i >= n || s[i] != '{')
        Py_RETURN_NONE;
    i = skip_ws(s, i + 1, n);
    if (i < n && s[i] == '}')
        Py_RETURN_NONE; /* {}: no body */
    for (;;) {
        if (i >= n || s[i] != '"')
            Py_RETURN_NONE;
        Py_ssize_t key = i + 1, after = skip_string(s, i, n);
        if (after < 0 || memchr(s + key, '\\', (size_t)(after - 1 - key)))
            Py_RETURN_NONE; /* an escaped key might spell "body" */
        int is_body = after - 1 - key == 4 && memcmp(s + key, "body", 4) == 0;
        i = skip_ws(s, after, n);
        if (i >= n || s[i] != ':')
            Py_RETURN_NONE;
        i = skip_ws(s, i + 1, n);
        if (is_body) {
            if (start >= 0 || i >= n || s[i] != '"')
                Py_RETURN_NONE; /* a second body (the last one counts), or one that is no string */
            start = i + 1;
            end = scan_string(s, start, n, &flags);
            i = end < 0 ? -1 : end + 1;
        }
        else
            i = skip_value(s, i, n);
        if (i < 0)
            Py_RETURN_NONE;
        i = skip_ws(s, i, n);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, i + 1, n);
            continue;
        }
        if (i < n && s[i] == '}')
            break;
        Py_RETURN_NONE;
    }
    if (skip_ws(s, i + 1, n) != n || start < 0)
        Py_RETURN_NONE;
    int sse = !flags && (starts_with(s + start, end - start, "data:") || starts_with(s + start, end - start, "event:"));
    return Py_BuildValue("nnO", start, end, sse ? Py_True : Py_False);
}

/* ------------------------------------------------------------------------------------------------ */
/* The body's text, escaped: str.find / str.rfind of a needle's escaped spelling at token boundaries   */

typedef struct {
    cbytes t; /* the body's content in the line: escaped, valid, no CR, no ASCII \u */
    Py_ssize_t n;
} Text;

/* Whether t[o] starts a token: not the code of an escape, not inside a \u escape's digits (it is never
 * inside a UTF-8 sequence: callers look at ASCII bytes only). */
static int boundary(const Text *x, Py_ssize_t o)
{
    Py_ssize_t run = 0;
    while (o - run > 0 && x->t[o - run - 1] == '\\')
        run++;
    if (run & 1)
        return 0;
    for (Py_ssize_t k = 2; k <= 5 && k <= o; k++)
        if (x->t[o - k] == '\\' && x->t[o - k + 1] == 'u' && boundary(x, o - k))
            return 0;
    return 1;
}

/* A needle's escaped bytes, and two of its bytes (a, b: the first and last that are neither '\\' nor
 * '"', the commonest bytes of a body) that a 16-byte comparison looks for first. */
typedef struct {
    const unsigned char *bytes;
    Py_ssize_t m, a, b;
} Needle;

static Needle needle_of(const unsigned char *bytes, Py_ssize_t m)
{
    Needle needle = {bytes, m, 0, m - 1};
    for (Py_ssize_t k = 0; k < m; k++)
        if (bytes[k] != '\\' && bytes[k] != '"') {
            needle.a = k;
            break;
        }
    for (Py_ssize_t k = m - 1; k >= 0; k--)
        if (bytes[k] != '\\' && bytes[k] != '"') {
            needle.b = k;
            break;
        }
    return needle;
}

#define NEEDLE(literal) needle_of((const unsigned char *)(literal), (Py_ssize_t)sizeof(literal) - 1)

/* whether the needle is at t[i] (a token boundary there) */
static int found_at(const Text *x, const Needle *needle, Py_ssize_t i)
{
    for (Py_ssize_t k = 0; k < needle->m; k++)
        if (x->t[i + k] != needle->bytes[k])
            return 0;
    return boundary(x, i);
}

/* str.find(needle, start, stop) in the decoded text: the first occurrence in t[start:stop] */
static Py_ssize_t find_in(const Text *x, Needle needle, Py_ssize_t start, Py_ssize_t stop)
{
    Py_ssize_t last = stop - needle.m, i = start < 0 ? 0 : start; /* the last place one can start */
    const unsigned char ca = needle.bytes[needle.a], cb = needle.bytes[needle.b];
#ifdef USE_SSE2
    const __m128i va = _mm_set1_epi8((char)ca), vb = _mm_set1_epi8((char)cb);
    for (; i + 15 <= last; i += 16) {
        __m128i ha = _mm_loadu_si128((const __m128i *)(x->t + i + needle.a));
        __m128i hb = _mm_loadu_si128((const __m128i *)(x->t + i + needle.b));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(ha, va), _mm_cmpeq_epi8(hb, vb)));
        while (mask) {
            Py_ssize_t at = i + __builtin_ctz(mask);
            mask &= mask - 1;
            if (found_at(x, &needle, at))
                return at;
        }
    }
#endif
    for (; i <= last; i++)
        if (x->t[i + needle.a] == ca && x->t[i + needle.b] == cb && found_at(x, &needle, i))
            return i;
    return -1;
}

static Py_ssize_t find(const Text *x, Needle needle, Py_ssize_t start)
{
    return find_in(x, needle, start, x->n);
}

/* str.rfind(needle, 0, end) in the decoded text: the last occurrence lying wholly before end */
static Py_ssize_t rfind(const Text *x, Needle needle, Py_ssize_t end)
{
    if (end > x->n)
        end = x->n;
    Py_ssize_t i = end - needle.m; /* the last place one can start */
    const unsigned char ca = needle.bytes[needle.a], cb = needle.bytes[needle.b];
#ifdef USE_SSE2
    const __m128i va = _mm_set1_epi8((char)ca), vb = _mm_set1_epi8((char)cb);
    for (; i - 15 >= 0; i -= 16) {
        Py_ssize_t low = i - 15;
        __m128i ha = _mm_loadu_si128((const __m128i *)(x->t + low + needle.a));
        __m128i hb = _mm_loadu_si128((const __m128i *)(x->t + low + needle.b));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(ha, va), _mm_cmpeq_epi8(hb, vb)));
        while (mask) {
            int k = 31 - __builtin_clz(mask);
            mask &= ~(1u << k);
            if (found_at(x, &needle, low + k))
                return low + k;
        }
    }
#endif
    for (; i >= 0; i--)
        if (x->t[i + needle.a] == ca && x->t[i + needle.b] == cb && found_at(x, &needle, i))
            return i;
    return -1;
}

/* an occurrence wholly within t[start:end] */
static int contains(const Text *x, Needle needle, Py_ssize_t start, Py_ssize_t end)
{
    return find_in(x, needle, start, end) >= 0;
}

typedef struct {
    Py_ssize_t start, end;
} Span;

typedef struct {
    Span *items;
    Py_ssize_t count, room;
} Spans;

static int spans_add(Spans *spans, Span span)
{
    if (spans->count == spans->room) {
        Py_ssize_t room = spans->room ? spans->room * 2 : 32;
        Span *grown = PyMem_Realloc(spans->items, (size_t)room * sizeof(Span));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        spans->items = grown;
        spans->room = room;
    }
    spans->items[spans->count++] = span;
    return 0;
}

#define BLANK NEEDLE("\\n\\n")

/* sse._block_around: the blank line before pos ends wholly by pos + 1 in decoded characters, that is
 * by pos + 2 in escaped bytes (its second line break starts at or before pos) */
static Span block_around(const Text *x, Py_ssize_t pos)
{
    Py_ssize_t start = rfind(x, BLANK, pos + 2);
    Py_ssize_t end = find(x, BLANK, pos);
    Span span = {start < 0 ? 0 : start + BLANK.m, end < 0 ? x->n : end + BLANK.m};
    return span;
}

/* sse._has_data of a block */
static int has_data(const Text *x, Span b)
{
    cbytes t = x->t + b.start;
    Py_ssize_t n = b.end - b.start;
    if (n <= 0)
        return 0;
    if (starts_with(t, n, "data:") || starts_with(t, n, "data\\n") || (n == 4 && memcmp(t, "data", 4) == 0))
        return 1;
    if (n >= 6 && memcmp(t + n - 6, "\\ndata", 6) == 0 && boundary(x, b.end - 6))
        return 1;
    return contains(x, NEEDLE("\\ndata:"), b.start, b.end) || contains(x, NEEDLE("\\ndata\\n"), b.start, b.end);
}

#define HEAD_EVENTS 3
#define HEAD_BLOCKS 16

/* sse.head_spans: 1 with the spans added, 0 when too many blocks come first, -1 on error */
static int head_spans(const Text *x, Spans *out)
{
    Py_ssize_t pos = 0, blocks = 0;
    int seen = 0;
    while (pos < x->n && seen < HEAD_EVENTS) {
        if (blocks == HEAD_BLOCKS)
            return 0;
        Span span = block_around(x, pos);
        if (spans_add(out, span) < 0)
            return -1;
        blocks++;
        seen += has_data(x, span);
        pos = span.end;
    }
    return 1;
}

/* sse.last_span: the text without its trailing line breaks ends at `end`; the block of its last
 * character starts after the last blank line wholly before `end` and ends with the first one from it */
static Span last_span(const Text *x)
{
    Py_ssize_t end = x->n;
    while (end >= 2 && x->t[end - 2] == '\\' && x->t[end - 1] == 'n' && boundary(x, end - 2))
        end -= 2;
    Py_ssize_t start = rfind(x, BLANK, end);
    Py_ssize_t stop = find(x, BLANK, end);
    Span span = {start < 0 ? 0 : start + BLANK.m, stop < 0 ? x->n : stop + BLANK.m};
    return span;
}

static int span_order(const void *a, const void *b)
{
    const Span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* sorted(set(spans)) */
static void sort_unique(Spans *spans)
{
    if (spans->count < 2)
        return;
    qsort(spans->items, (size_t)spans->count, sizeof(Span), span_order);
    Py_ssize_t kept = 1;
    for (Py_ssize_t k = 1; k < spans->count; k++) {
        Span *last = &spans->items[kept - 1];
        if (spans->items[k].start != last->start || spans->items[k].end != last->end)
            spans->items[kept++] = spans->items[k];
    }
    spans->count = kept;
}

/* sse.SSEEvent, given by accel.py (set_event_type), and the names of its fields */
static PyObject *EVENT_TYPE = NULL, *FIELDS[4] = {NULL, NULL, NULL, NULL};

static PyObject *set_event_type(PyObject *self, PyObject *type)
{
    (void)self;
    if (!PyType_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "expected sse.SSEEvent");
        return NULL;
    }
    static const char *const names[4] = {"event", "data", "id", "terminated"};
    for (int k = 0; k < 4; k++)
        if (FIELDS[k] == NULL && (FIELDS[k] = PyUnicode_InternFromString(names[k])) == NULL)
            return NULL;
    Py_INCREF(type);
    Py_XSETREF(EVENT_TYPE, type);
    Py_RETURN_NONE;
}

static int ready(void)
{
    if (EVENT_TYPE != NULL)
        return 1;
    PyErr_SetString(PyExc_RuntimeError, "_accel.set_event_type(sse.SSEEvent) was not called");
    return 0;
}

/* SSEEvent(event, data, id, terminated) made as its frozen dataclass __init__ makes it: object.__new__
 * and object.__setattr__ of each field */
static PyObject *new_event(PyObject *event, PyObject *data, PyObject *id, int terminated)
{
    PyTypeObject *type = (PyTypeObject *)EVENT_TYPE;
    PyObject *made = type->tp_alloc(type, 0);
    if (made == NULL)
        return NULL;
    PyObject *values[4] = {event ? event : Py_None, data, id ? id : Py_None, terminated ? Py_True : Py_False};
    for (int k = 0; k < 4; k++)
        if (PyObject_GenericSetAttr(made, FIELDS[k], values[k]) < 0) {
            Py_DECREF(made);
            return NULL;
        }
    return made;
}

static PyObject *utf8(const char *start, Py_ssize_t size)
{
    return PyUnicode_DecodeUTF8(start, size, "strict");
}

/* sse.parse_sse of a decoded run with no CR (its events appended to out; only the first when first_only):
 * lines split at LF; a blank line dispatches the event with data (its type reset, its id kept); ':'
 * starts a comment; "name: value" with one optional space after the colon; the data lines of an event
 * joined with LF; an id with a NUL is ignored; the last event is dispatched unterminated. */
static int parse_sse(const char *text, Py_ssize_t n, int bom, PyObject *out, int first_only)
{
    const char *p = text, *end = text + n;
    if (bom && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    PyObject *event = NULL, *id = NULL;
    char *data = PyMem_Malloc((size_t)n + 1);
    Py_ssize_t data_len = 0;
    int has_data = 0, failed = 0;
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (;;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        Py_ssize_t len = line_end - p;
        if (len == 0) {
            if (eol == NULL)
                break; /* the text ended with a line break (or is empty): nothing pending on this "line" */
            if (has_data) {
                PyObject *value = utf8(data, data_len), *made = NULL;
                if (value != NULL)
                    made = new_event(event, value, id, 1);
                Py_XDECREF(value);
                if (made == NULL || PyList_Append(out, made) < 0) {
                    Py_XDECREF(made);
                    failed = 1;
                    break;
                }
                Py_DECREF(made);
                if (first_only)
                    break;
            }
            Py_CLEAR(event);
            has_data = 0;
            data_len = 0;
        }
        else if (p[0] != ':') {
            const char *colon = memchr(p, ':', (size_t)len);
            Py_ssize_t name_len = colon ? colon - p : len;
            const char *value = colon ? colon + 1 : line_end;
            if (colon && value < line_end && *value == ' ')
                value++;
            Py_ssize_t value_len = line_end - value;
            if (name_len == 4 && memcmp(p, "data", 4) == 0) {
                if (has_data)
                    data[data_len++] = '\n';
                memcpy(data + data_len, value, (size_t)value_len);
                data_len += value_len;
                has_data = 1;
            }
            else if (name_len == 5 && memcmp(p, "event", 5) == 0) {
                Py_XSETREF(event, utf8(value, value_len));
                if (event == NULL) {
                    failed = 1;
                    break;
                }
            }
            else if (name_len == 2 && memcmp(p, "id", 2) == 0 && !memchr(value, '\0', (size_t)value_len)) {
                Py_XSETREF(id, utf8(value, value_len));
                if (id == NULL) {
                    failed = 1;
                    break;
                }
            }
        }
        if (eol == NULL)
            break;
        p = eol + 1;
    }
    /* the text's last event, without its blank line */
    if (!failed && has_data && !(first_only && PyList_GET_SIZE(out) > 0)) {
        PyObject *value = utf8(data, data_len), *made = NULL;
        if (value != NULL)
            made = new_event(event, value, id, 0);
        Py_XDECREF(value);
        if (made == NULL || PyList_Append(out, made) < 0)
            failed = 1;
        Py_XDECREF(made);
    }
    PyMem_Free(data);
    Py_XDECREF(event);
    Py_XDECREF(id);
    return failed ? -1 : 0;
}

/* The decoded text of t[start:end] into a new buffer (whole tokens); *size its length. 16 bytes at a
 * time up to the next backslash or non-ASCII byte (the text is valid: no control characters). */
static char *decoded(const Text *x, Py_ssize_t start, Py_ssize_t end, Py_ssize_t *size)
{
    char *buffer = PyMem_Malloc((size_t)(end > start ? end - start : 0) + 16), *o = buffer;
    if (buffer == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    cbytes t = x->t;
    int flags = 0;
    Py_ssize_t i = start;
    while (i < end) {
#ifdef USE_SSE2
        if (i + 16 <= end) {
            __m128i v = _mm_loadu_si128((const __m128i *)(t + i));
            unsigned mask = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')), _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))));
            _mm_storeu_si128((__m128i *)o, v);
            if (!mask) {
                i += 16;
                o += 16;
                continue;
            }
            int plain = __builtin_ctz(mask);
            i += plain;
            o += plain;
        }
#endif
        unsigned char c = t[i];
        if (c < 0x80 && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c == '\\' && ESCAPES[t[i + 1]] > 1) {
            *o++ = (char)ESCAPES[t[i + 1]];
            i += 2;
            continue;
        }
        if (!token(t, &i, x->n, &o, &flags)) { /* checked by read_body: cannot happen */
            PyMem_Free(buffer);
            PyErr_SetString(PyExc_ValueError, "invalid body text");
            return NULL;
        }
    }
    *size = o - buffer;
    return buffer;
}

/* The decoded text of t[start:end] (whole tokens: spans start and end at boundaries) */
static PyObject *text_of(const Text *x, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t size;
    char *text = decoded(x, start, end, &size);
    if (text == NULL)
        return NULL;
    PyObject *made = utf8(text, size);
    PyMem_Free(text);
    return made;
}

/* the events of t[start:end] (appended to out; the first only when first_only) */
static int parse_span(const Text *x, Py_ssize_t start, Py_ssize_t end, PyObject *out, int first_only)
{
    Py_ssize_t size;
    char *text = decoded(x, start, end, &size);
    if (text == NULL)
        return -1;
    int failed = parse_sse(text, size, start == 0, out, first_only);
    PyMem_Free(text);
    return failed;
}

/* sse.parse_spans: the events of the spans, adjacent ones parsed together */
static PyObject *events_of(const Text *x, Spans *spans)
{
    PyObject *events = PyList_New(0);
    if (events == NULL)
        return NULL;
    Py_ssize_t run_start = -1, run_end = -1;
    for (Py_ssize_t k = 0; k <= spans->count; k++) {
        if (k < spans->count && spans->items[k].start == run_end) {
            run_end = spans->items[k].end;
            continue;
        }
        if (run_end > run_start && parse_span(x, run_start, run_end, events, 0) < 0) {
            Py_DECREF(events);
            return NULL;
        }
        if (k < spans->count) {
            run_start = spans->items[k].start;
            run_end = spans->items[k].end;
        }
    }
    return events;
}

/* (line, start, end): the body's content, which read_body said sse of (the text functions assume it) */
static int text_args(PyObject *args, Text *x, PyObject **extra)
{
    PyObject *line;
    Py_ssize_t start, end;
    if (extra != NULL) {
        if (!PyArg_ParseTuple(args, "O!nnO!", &PyBytes_Type, &line, &start, &end, &PyTuple_Type, extra))
            return -1;
    }
    else if (!PyArg_ParseTuple(args, "O!nn", &PyBytes_Type, &line, &start, &end))
        return -1;
    if (start < 0 || end < start || end > PyBytes_GET_SIZE(line)) {
        PyErr_SetString(PyExc_ValueError, "the body's span lies outside the line");
        return -1;
    }
    x->t = (cbytes)PyBytes_AS_STRING(line) + start;
    x->n = end - start;
    return 0;
}

static PyObject *head(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *line;
    Py_ssize_t start, end, count;
    if (!PyArg_ParseTuple(args, "O!nnn", &PyBytes_Type, &line, &start, &end, &count))
        return NULL;
    if (start < 0 || end < start || end > PyBytes_GET_SIZE(line) || count < 0) {
        PyErr_SetString(PyExc_ValueError, "the body's span lies outside the line");
        return NULL;
    }
    Text x = {(cbytes)PyBytes_AS_STRING(line) + start, end - start};
    Py_ssize_t i = 0;
    int flags = 0;
    for (Py_ssize_t k = 0; k < count && i < x.n; k++)
        if (!token(x.t, &i, x.n, NULL, &flags)) {
            PyErr_SetString(PyExc_ValueError, "invalid body text");
            return NULL;
        }
    return text_of(&x, 0, i);
}

/* An ASCII needle's escaped spelling ('"' and '\\' after a backslash); 0 when it has characters spelled
 * otherwise (controls, non-ASCII) or spelled two ways ('/' and '\\/'): no fast path then. */
static int escape_needle(PyObject *marker, unsigned char *out, Py_ssize_t room, Needle *needle)
{
    Py_ssize_t m;
    const char *text = PyUnicode_AsUTF8AndSize(marker, &m);
    if (text == NULL)
        return -1;
    Py_ssize_t k = 0;
    for (Py_ssize_t j = 0; j < m; j++) {
        unsigned char c = (unsigned char)text[j];
        if (c < 0x20 || c >= 0x7F || c == '/' || k + 2 > room)
            return 0;
        if (c == '"' || c == '\\')
            out[k++] = '\\';
        out[k++] = c;
    }
    if (k == 0)
        return 0;
    *needle = needle_of(out, k);
    return 1;
}

static PyObject *select_runs(PyObject *self, PyObject *args)
{
    (void)self;
    Text x;
    PyObject *markers;
    if (!ready() || text_args(args, &x, &markers) < 0)
        return NULL;
    Spans spans = {NULL, 0, 0};
    PyObject *result = NULL;
    int head_found = head_spans(&x, &spans);
    if (head_found <= 0) {
        PyMem_Free(spans.items);
        if (head_found < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(markers); k++) {
        unsigned char buffer[256];
        Needle marker;
        int usable = escape_needle(PyTuple_GET_ITEM(markers, k), buffer, sizeof buffer, &marker);
        if (usable <= 0) {
            if (usable == 0) {
                result = Py_None;
                Py_INCREF(result);
            }
            goto done;
        }
        Py_ssize_t pos = find(&x, marker, 0);
        while (pos >= 0) {
            Span span = block_around(&x, pos);
            if (spans_add(&spans, span) < 0)
                goto done;
            pos = find(&x, marker, span.end);
        }
    }
    if (spans_add(&spans, last_span(&x)) < 0)
        goto done;
    sort_unique(&spans);
    result = events_of(&x, &spans);
done:
    PyMem_Free(spans.items);
    return result;
}

/* ------------------------------------------------------------------------------------------------ */
/* Chat Completions: fastpath._chat_spans                                                            */

/* The decoded character of the token at t[*i] when it is ASCII (moving *i past it), else -1 */
static int ascii_at(const Text *x, Py_ssize_t *i)
{
    if (*i >= x->n)
        return -1;
    unsigned char c = x->t[*i];
    if (c >= 0x80)
        return -1;
    if (c != '\\') {
        *i += 1;
        return c;
    }
    unsigned char e = ESCAPES[x->t[*i + 1]];
    if (e > 1) {
        *i += 2;
        return e;
    }
    return -1; /* \u: not ASCII (read_body said so) */
}

/* Python's \s on ASCII (str.isspace) */
static int ascii_space(int c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
}

/* fastpath._NOT_NULL.match(text, pos), r"\s*:\s*(?!null)": 1, 0, or -1 when a non-ASCII character
 * comes before the colon (Unicode whitespace: not decided here). After the colon \s* may match nothing,
 * so the lookahead fails only when "null" follows the colon at once. */
static int not_null_at(const Text *x, Py_ssize_t pos)
{
    int c;
    for (;;) {
        Py_ssize_t at = pos;
        if (at >= x->n)
            return 0;
        c = ascii_at(x, &at);
        if (c < 0)
            return -1;
        if (!ascii_space(c))
            break;
        pos = at;
    }
    if (c != ':')
        return 0;
    pos++;
    return !(x->n - pos >= 4 && memcmp(x->t + pos, "null", 4) == 0);
}

static PyObject *span_value(Span span)
{
    return Py_BuildValue("(nn)", span.start, span.end);
}

/* texts[span] = the first event of the block, None when it has none (next(parse_sse(...), None)) */
static int add_event(PyObject *texts, const Text *x, Span span)
{
    PyObject *key = span_value(span), *events = NULL;
    int failed = -1;
    if (key == NULL)
        return -1;
    int has = PyDict_Contains(texts, key);
    if (has != 0) {
        failed = has < 0 ? -1 : 0;
        goto done;
    }
    events = PyList_New(0);
    if (events == NULL || parse_span(x, span.start, span.end, events, 1) < 0)
        goto done;
    failed = PyDict_SetItem(texts, key, PyList_GET_SIZE(events) ? PyList_GET_ITEM(events, 0) : Py_None);
done:
    Py_DECREF(key);
    Py_XDECREF(events);
    return failed;
}

/* the last block with the key set to something other than null: 1 (in *span), 0 none, -1 unsure */
static int last_set(const Text *x, Needle key, Span *span)
{
    Py_ssize_t end = x->n, pos;
    while ((pos = rfind(x, key, end)) >= 0) {
        int match = not_null_at(x, pos + key.m);
        if (match < 0)
            return -1;
        if (match) {
            *span = block_around(x, pos);
            return 1;
        }
        end = pos; /* as in Python: the next one lies wholly before this one's start */
    }
    return 0;
}

static PyObject *chat_spans(PyObject *self, PyObject *args)
{
    (void)self;
    Text x;
    if (!ready() || text_args(args, &x, NULL) < 0)
        return NULL;
    Spans head = {NULL, 0, 0};
    PyObject *texts = NULL, *head_list = NULL, *result = NULL, *found[3] = {NULL, NULL, NULL};
    int ok = head_spans(&x, &head);
    if (ok <= 0) {
        PyMem_Free(head.items);
        if (ok < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    texts = PyDict_New();
    head_list = PyList_New(0);
    if (texts == NULL || head_list == NULL)
        goto done;
    for (Py_ssize_t k = 0; k < head.count; k++) {
        PyObject *value = span_value(head.items[k]);
        if (value == NULL || PyList_Append(head_list, value) < 0) {
            Py_XDECREF(value);
            goto done;
        }
        Py_DECREF(value);
        if (add_event(texts, &x, head.items[k]) < 0)
            goto done;
    }
    const Needle keys[2] = {NEEDLE("\\\"usage\\\""), NEEDLE("\\\"finish_reason\\\"")};
    for (int k = 0; k < 2; k++) {
        Span span;
        int set = last_set(&x, keys[k], &span);
        if (set < 0) {
            result = Py_None;
            Py_INCREF(result);
            goto done;
        }
        if (set && ((found[k] = span_value(span)) == NULL || add_event(texts, &x, span) < 0))
            goto done;
    }
    Py_ssize_t done_at = rfind(&x, NEEDLE("[DONE]"), x.n);
    if (done_at >= 0) {
        Span span = block_around(&x, done_at);
        if ((found[2] = span_value(span)) == NULL || add_event(texts, &x, span) < 0)
            goto done;
    }
    Span final = last_span(&x);
    if (add_event(texts, &x, final) < 0)
        goto done;
    result = Py_BuildValue("(OOOO(nn)O)", head_list, found[0] ? found[0] : Py_None,
                           found[1] ? found[1] : Py_None, found[2] ? found[2] : Py_None, final.start, final.end,
                           texts);
done:
    PyMem_Free(head.items);
    Py_XDECREF(texts);
    Py_XDECREF(head_list);
    for (int k = 0; k < 3; k++)
        Py_XDECREF(found[k]);
    return result;
}

/* ------------------------------------------------------------------------------------------------ */

static PyMethodDef METHODS[] = {
    {"set_event_type", set_event_type, METH_O, "The class of the events select and chat_spans make."},
    {"read_body", read_body, METH_O, "A capture record's body: (start, end, sse) or None."},
    {"head", head, METH_VARARGS, "The first characters of a body, decoded."},
    {"select", select_runs, METH_VARARGS, "sse.select_events of a body, or None."},
    {"chat_spans", chat_spans, METH_VARARGS, "fastpath._chat_spans of a body with its blocks' events, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_accel", NULL, -1, METHODS, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__accel(void)
{
    return PyModule_Create(&MODULE);
}
