/*
 * arena.h — a bump allocator for everything that lives as long as one
 * request (or one batch apply).  Nothing allocated from an arena is freed
 * on its own: arena_free() releases all of it at once.
 *
 * Invariants: every pointer returned is 16-byte aligned; a failed
 * allocation (out of memory, or a size that overflows) returns NULL and
 * leaves the arena usable.  arena_free(NULL) is a no-op.
 */
#ifndef FS_ARENA_H
#define FS_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct arena arena;

/* A new arena whose first chunk holds at least `chunk` bytes (0: 16 KiB). */
arena *arena_new(size_t chunk);
void arena_free(arena *a);
/* Forget everything allocated but keep the first chunk for reuse. */
void arena_reset(arena *a);

void *arena_alloc(arena *a, size_t n);
/* n * size with an overflow check; memory is zeroed. */
void *arena_calloc(arena *a, size_t n, size_t size);
void *arena_dup(arena *a, const void *p, size_t n);
/* Copy of p[0..n) with a terminating NUL. */
char *arena_strndup(arena *a, const char *p, size_t n);
/* printf into the arena. */
char *arena_printf(arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The one growable array: make *v (of *cap elements of `size` bytes, n
 * of them used) hold at least `need`, doubling from `first` (the old
 * elements are copied, new ones zeroed; the old block stays in the arena
 * until it is freed).  0 on success, -1 when out of memory or when the
 * count would pass UINT32_MAX.  Usage:
 *     if (arena_grow(a, (void **)&v, &cap, n, n + 1, sizeof(*v), 16))
 *             return FS_E_UNAVAILABLE;
 *     v[n++] = x; */
int arena_grow(arena *a, void **v, uint32_t *cap, uint32_t n, size_t need,
               size_t size, uint32_t first);
/* Bytes handed out so far (for limits and metrics). */
size_t arena_used(const arena *a);

#endif
