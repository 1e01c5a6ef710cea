/*
 * xml.c: a small XML reader for AWS's Query API answers (see xml.h).
 */
#include <stdlib.h>
#include <string.h>

#include "finops/buf.h"
#include "aws/xml.h"

#define MAX_DEPTH 64

struct parser {
	const char *p, *end, *what, *start;
	fo_err *err;
};

static int
bad(struct parser *x, const char *why)
{
	return fo_err_set(x->err, FO_EXIT_FAILURE, "%s: malformed XML answer (%s at byte %zu)",
			  x->what, why, (size_t)(x->p - x->start));
}

static int
starts(const struct parser *x, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(x->end - x->p) >= n && memcmp(x->p, s, n) == 0;
}

/* Skips past the next occurrence of s; -1 when it never comes. */
static int
skip_past(struct parser *x, const char *s)
{
	size_t n = strlen(s);

	for (; x->end - x->p >= (ptrdiff_t)n; x->p++)
		if (memcmp(x->p, s, n) == 0) {
			x->p += n;
			return 0;
		}
	return -1;
}

static void
put_utf8(fo_buf *b, unsigned long c)
{
	if (c < 0x80) {
		fo_buf_putc(b, (char)c);
	} else if (c < 0x800) {
		fo_buf_putc(b, (char)(0xC0 | c >> 6));
		fo_buf_putc(b, (char)(0x80 | (c & 0x3F)));
	} else if (c < 0x10000) {
		fo_buf_putc(b, (char)(0xE0 | c >> 12));
		fo_buf_putc(b, (char)(0x80 | (c >> 6 & 0x3F)));
		fo_buf_putc(b, (char)(0x80 | (c & 0x3F)));
	} else {
		fo_buf_putc(b, (char)(0xF0 | c >> 18));
		fo_buf_putc(b, (char)(0x80 | (c >> 12 & 0x3F)));
		fo_buf_putc(b, (char)(0x80 | (c >> 6 & 0x3F)));
		fo_buf_putc(b, (char)(0x80 | (c & 0x3F)));
	}
}

/* An entity or character reference at x->p ('&'), decoded into b. */
static int
entity(struct parser *x, fo_buf *b)
{
	static const struct { const char *name; char c; } named[] = {
		{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
	};
	const char *semi;
	unsigned long c = 0;

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (starts(x, named[i].name)) {
			fo_buf_putc(b, named[i].c);
			x->p += strlen(named[i].name);
			return 0;
		}
	if (!starts(x, "&#"))
		return bad(x, "unknown entity");
	semi = memchr(x->p, ';', (size_t)(x->end - x->p) < 12 ? (size_t)(x->end - x->p) : 12);
	if (!semi)
		return bad(x, "unterminated character reference");
	for (const char *q = x->p + 2 + (x->p[2] == 'x'); q < semi; q++) {
		int hex = x->p[2] == 'x', d;

		if (*q >= '0' && *q <= '9')
			d = *q - '0';
		else if (hex && *q >= 'a' && *q <= 'f')
			d = *q - 'a' + 10;
		else if (hex && *q >= 'A' && *q <= 'F')
			d = *q - 'A' + 10;
		else
			return bad(x, "bad character reference");
		c = c * (hex ? 16 : 10) + (unsigned long)d;
		if (c > 0x10FFFF)
			return bad(x, "character reference out of range");
	}
	if (c == 0 || (c >= 0xD800 && c <= 0xDFFF))
		return bad(x, "bad character reference");
	put_utf8(b, c);
	x->p = semi + 1;
	return 0;
}

static struct fo_xml *
node(const char *name, size_t n)
{
	struct fo_xml *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->name = strndup(name, n);
	if (!e->name) {
		free(e);
		return NULL;
	}
	return e;
}

void
fo_xml_free(struct fo_xml *n)
{
	while (n) {
		struct fo_xml *next = n->next;

		fo_xml_free(n->child);
		free(n->name);
		free(n->text);
		free(n);
		n = next;
	}
}

static int
bad_tree(struct parser *x, struct fo_xml *root, fo_buf *text, const char *why)
{
	for (int i = 0; i < MAX_DEPTH; i++)
		fo_buf_free(&text[i]);
	fo_xml_free(root);
	return bad(x, why);
}

int
fo_xml_parse(const char *s, size_t len, const char *what, struct fo_xml **out, fo_err *err)
{
	struct parser x = {s, s + len, what, s, err};
	struct fo_xml *stack[MAX_DEPTH], *last[MAX_DEPTH], *root = NULL;
	fo_buf text[MAX_DEPTH];
	int depth = 0, rc = 0;

	*out = NULL;
	memset(text, 0, sizeof(text));
	if (memchr(s, '\0', len)) {
		x.p = memchr(s, '\0', len);
		return bad(&x, "a NUL byte");
	}
	while (x.p < x.end && rc == 0) {
		if (*x.p != '<') {
			if (depth == 0) {
				if (*x.p != ' ' && *x.p != '\t' && *x.p != '\r' && *x.p != '\n')
					rc = bad(&x, "text outside the root element");
				x.p++;
			} else if (*x.p == '&') {
				rc = entity(&x, &text[depth - 1]);
			} else {
				fo_buf_putc(&text[depth - 1], *x.p++);
			}
		} else if (starts(&x, "<?")) {
			if (skip_past(&x, "?>") < 0)
				rc = bad(&x, "unterminated processing instruction");
		} else if (starts(&x, "<!--")) {
			if (skip_past(&x, "-->") < 0)
				rc = bad(&x, "unterminated comment");
		} else if (starts(&x, "<![CDATA[")) {
			const char *from = x.p + 9;

			if (depth == 0 || skip_past(&x, "]]>") < 0)
				rc = bad(&x, "CDATA outside an element or unterminated");
			else
				fo_buf_append(&text[depth - 1], from, (size_t)(x.p - 3 - from));
		} else if (starts(&x, "<!")) {
			rc = bad(&x, "a DTD");
		} else if (starts(&x, "</")) {
			const char *name = x.p + 2, *colon, *gt;
			size_t n;

			gt = memchr(name, '>', (size_t)(x.end - name));
			if (!gt || depth == 0) {
				rc = bad(&x, "an end tag without its start");
				break;
			}
			n = (size_t)(gt - name);
			while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t' ||
					 name[n - 1] == '\r' || name[n - 1] == '\n'))
				n--;
			colon = memchr(name, ':', n);
			if (colon) {
				n -= (size_t)(colon + 1 - name);
				name = colon + 1;
			}
			if (strlen(stack[depth - 1]->name) != n ||
			    memcmp(stack[depth - 1]->name, name, n) != 0) {
				rc = bad(&x, "an end tag that does not match its start");
				break;
			}
			depth--;
			stack[depth]->text = strdup(fo_buf_str(&text[depth]));
			fo_buf_free(&text[depth]);
			if (!stack[depth]->text)
				rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
			x.p = gt + 1;
		} else {
			const char *name = x.p + 1, *q = name, *colon = NULL, *gt;
			struct fo_xml *e;
			int empty;

			while (q < x.end && *q != '>' && *q != '/' && *q != ' ' && *q != '\t' &&
			       *q != '\r' && *q != '\n') {
				if (*q == ':')
					colon = q;
				if ((unsigned char)*q < 0x20 || strchr("<&'\"=", *q)) {
					x.p = q;
					return bad_tree(&x, root, text, "a bad character in an element"
							" name");
				}
				q++;
			}
			/* the end of the tag, past attribute values that may hold '>' */
			for (gt = q; gt < x.end && *gt != '>'; gt++)
				if (*gt == '"' || *gt == '\'') {
					const char *close = memchr(gt + 1, *gt, (size_t)(x.end - gt - 1));

					if (!close)
						break;
					gt = close;
				}
			if (q == name || gt >= x.end) {
				rc = bad(&x, "an unterminated or empty start tag");
				break;
			}
			if (colon) {
				name = colon + 1;
				if (name == q) {
					rc = bad(&x, "an empty element name");
					break;
				}
			}
			empty = gt[-1] == '/';
			e = node(name, (size_t)(q - name));
			if (!e) {
				rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
				break;
			}
			if (depth == 0) {
				if (root) {
					fo_xml_free(e);
					rc = bad(&x, "a second root element");
					break;
				}
				root = e;
			} else {
				if (last[depth - 1])
					last[depth - 1]->next = e;
				else
					stack[depth - 1]->child = e;
				last[depth - 1] = e;
			}
			x.p = gt + 1;
			if (empty) {
				e->text = strdup("");
				if (!e->text)
					rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
				continue;
			}
			if (depth == MAX_DEPTH) {
				rc = bad(&x, "elements nested too deep");
				break;
			}
			stack[depth] = e;
			last[depth] = NULL;
			depth++;
		}
	}
	if (rc == 0 && (depth != 0 || !root))
		rc = bad(&x, depth ? "an element left open" : "no element");
	for (int i = 0; i < MAX_DEPTH; i++)
		fo_buf_free(&text[i]);
	if (rc < 0) {
		fo_xml_free(root);
		return -1;
	}
	*out = root;
	return 0;
}

const struct fo_xml *
fo_xml_child(const struct fo_xml *n, const char *name)
{
	for (const struct fo_xml *c = n ? n->child : NULL; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

const struct fo_xml *
fo_xml_at(const struct fo_xml *n, const char *path)
{
	char part[128];

	while (n && *path) {
		size_t len = strcspn(path, "/");

		if (len >= sizeof(part))
			return NULL;
		memcpy(part, path, len);
		part[len] = '\0';
		n = fo_xml_child(n, part);
		path += len + (path[len] == '/');
	}
	return n;
}

const char *
fo_xml_text(const struct fo_xml *n, const char *path)
{
	n = fo_xml_at(n, path);
	return n ? n->text : NULL;
}
