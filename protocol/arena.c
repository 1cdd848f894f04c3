/*
 * arena.c — bump allocator in chunks.  Large requests get a chunk of their
 * own, linked behind the current one, so the current chunk's free space is
 * not wasted.
 */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_CHUNK (16 * 1024)

struct chunk {
	struct chunk *next;
	size_t cap;  /* usable bytes from data */
	size_t used; /* bytes handed out from data */
	unsigned char *data; /* 16-byte aligned start inside this allocation */
};

struct arena {
	struct chunk *head;  /* the chunk allocations bump from */
	struct chunk *first; /* kept by arena_reset() */
	size_t chunk;        /* size of new ordinary chunks */
	size_t used;         /* bytes handed out (for metrics) */
};

/* Round n up to the alignment; 0 on overflow. */
static size_t round_up(size_t n)
{
	if (n > SIZE_MAX - (ARENA_ALIGN - 1))
		return 0;
	return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static struct chunk *chunk_new(size_t cap)
{
	size_t hdr = sizeof(struct chunk) + ARENA_ALIGN;
	struct chunk *c;
	uintptr_t d;

	if (cap > SIZE_MAX - hdr)
		return NULL;
	c = malloc(hdr + cap);
	if (!c)
		return NULL;
	d = (uintptr_t)(c + 1);
	d = (d + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
	c->data = (unsigned char *)d;
	c->next = NULL;
	c->cap = cap;
	c->used = 0;
	return c;
}

arena *arena_new(size_t chunk)
{
	arena *a = malloc(sizeof *a);

	if (!a)
		return NULL;
	if (chunk == 0)
		chunk = ARENA_DEFAULT_CHUNK;
	chunk = round_up(chunk);
	if (chunk == 0) {
		free(a);
		return NULL;
	}
	a->first = chunk_new(chunk);
	if (!a->first) {
		free(a);
		return NULL;
	}
	a->head = a->first;
	a->chunk = chunk;
	a->used = 0;
	return a;
}

void arena_free(arena *a)
{
	struct chunk *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void arena_reset(arena *a)
{
	struct chunk *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		if (c != a->first)
			free(c);
	}
	a->first->next = NULL;
	a->first->used = 0;
	a->head = a->first;
	a->used = 0;
}

void *arena_alloc(arena *a, size_t n)
{
	struct chunk *c;
	size_t need = round_up(n ? n : 1);
	void *p;

	if (!a || need == 0)
		return NULL;
	c = a->head;
	if (c->cap - c->used >= need) {
		p = c->data + c->used;
		c->used += need;
		a->used += need;
		return p;
	}
	if (need > a->chunk / 4) {
		/* Big: a chunk of its own, behind the current one. */
		c = chunk_new(need);
		if (!c)
			return NULL;
		c->used = need;
		c->next = a->head->next;
		a->head->next = c;
		a->used += need;
		return c->data;
	}
	c = chunk_new(a->chunk);
	if (!c)
		return NULL;
	c->next = a->head;
	a->head = c;
	c->used = need;
	a->used += need;
	return c->data;
}

void *arena_calloc(arena *a, size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = arena_alloc(a, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

int arena_grow(arena *a, void **v, uint32_t *cap, uint32_t n, size_t need,
               size_t size, uint32_t first)
{
	if (need <= *cap)
		return 0;
	uint64_t nc = *cap ? *cap : (first ? first : 1);
	while (nc < need)
		nc *= 2;
	if (nc > UINT32_MAX)
		return -1;
	void *o = arena_calloc(a, (size_t)nc, size);
	if (!o)
		return -1;
	if (n)
		memcpy(o, *v, (size_t)n * size);
	*v = o;
	*cap = (uint32_t)nc;
	return 0;
}

void *arena_dup(arena *a, const void *p, size_t n)
{
	void *q = arena_alloc(a, n);

	if (q && n)
		memcpy(q, p, n);
	return q;
}

char *arena_strndup(arena *a, const char *p, size_t n)
{
	char *q;

	if (n == SIZE_MAX)
		return NULL;
	q = arena_alloc(a, n + 1);
	if (!q)
		return NULL;
	if (n)
		memcpy(q, p, n);
	q[n] = '\0';
	return q;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
	va_list ap;
	int len;
	char *q;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return NULL;
	q = arena_alloc(a, (size_t)len + 1);
	if (!q)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(q, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return q;
}

size_t arena_used(const arena *a)
{
	return a ? a->used : 0;
}
