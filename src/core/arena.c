/* Block allocator with a size cap, used for everything a request handler allocates. */
#include "core/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
} block_t;

struct arena {
    block_t *head;
    size_t block_size;
    size_t max_total;
    size_t total;   /* bytes of all blocks, for the cap */
    size_t handed;  /* bytes returned to callers */
};

static block_t *block_new(size_t size)
{
    block_t *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

arena_t *arena_new(size_t block_size, size_t max_total)
{
    arena_t *a = malloc(sizeof(*a));
    if (a == NULL)
        return NULL;
    a->block_size = block_size < 256 ? 256 : block_size;
    a->max_total = max_total;
    a->head = block_new(a->block_size);
    if (a->head == NULL) {
        free(a);
        return NULL;
    }
    a->total = a->block_size;
    a->handed = 0;
    return a;
}

void arena_free(arena_t *arena)
{
    if (arena == NULL)
        return;
    block_t *b = arena->head;
    while (b != NULL) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
    free(arena);
}

void arena_reset(arena_t *arena)
{
    block_t *b = arena->head;
    while (b->next != NULL) {
        block_t *next = b->next;
        arena->total -= b->size;
        free(b);
        b = next;
    }
    b->used = 0;
    arena->head = b;
    arena->handed = 0;
}

void *arena_alloc(arena_t *arena, size_t n)
{
    if (n > SIZE_MAX - 16)
        return NULL;
    size_t need = (n + 15) & ~(size_t)15;
    block_t *b = arena->head;
    if (b->size - b->used < need) {
        size_t size = need > arena->block_size ? need : arena->block_size;
        if (arena->total + size > arena->max_total)
            return NULL;
        block_t *nb = block_new(size);
        if (nb == NULL)
            return NULL;
        nb->next = arena->head;
        arena->head = nb;
        arena->total += size;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    arena->handed += need;
    return p;
}

void *arena_calloc(arena_t *arena, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = arena_alloc(arena, count * size);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

char *arena_strndup(arena_t *arena, const char *s, size_t n)
{
    char *p = arena_alloc(arena, n + 1);
    if (p == NULL)
        return NULL;
    if (n > 0)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena_t *arena, const char *s)
{
    return s == NULL ? NULL : arena_strndup(arena, s, strlen(s));
}

char *arena_vprintf(arena_t *arena, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(arena, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(arena_t *arena, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(arena, fmt, ap);
    va_end(ap);
    return p;
}

size_t arena_used(const arena_t *arena)
{
    return arena->handed;
}
