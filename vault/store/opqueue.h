/* A bounded multi-producer, single-consumer queue of write operations
 * (Vyukov's array queue with a sequence number per cell): producers claim
 * a cell with one CAS and never wait on each other or on the writer. */
#ifndef TV_STORE_OPQUEUE_H
#define TV_STORE_OPQUEUE_H

#include <stdatomic.h>
#include <stddef.h>

#include "vault/store/store.h"

typedef struct tv_opq_cell {
  atomic_size_t seq;
  tv_store_op *op;
} tv_opq_cell;

typedef struct tv_opqueue {
  tv_opq_cell *cells;
  size_t mask;
  _Alignas(64) atomic_size_t tail; /* producers */
  _Alignas(64) atomic_size_t head; /* the consumer */
} tv_opqueue;

/* tv_opqueue_init allocates room for |items_max| (a power of two) ops. */
tv_status tv_opqueue_init(tv_opqueue *q, size_t items_max);

/* tv_opqueue_cleanup frees the cells; the queue must be empty. */
void tv_opqueue_cleanup(tv_opqueue *q);

/* tv_opqueue_push adds |op|; returns 0 if the queue is full. Any thread. */
int tv_opqueue_push(tv_opqueue *q, tv_store_op *op);

/* tv_opqueue_pop removes the oldest published op, or returns NULL. Only
 * the single consumer may call it. */
tv_store_op *tv_opqueue_pop(tv_opqueue *q);

/* tv_opqueue_size returns how many ops are queued (claimed cells count):
 * exact when producers and consumer are quiet, a snapshot otherwise. Any
 * thread. */
size_t tv_opqueue_size(tv_opqueue *q);

/* tv_opqueue_empty returns 1 if the consumer would find nothing to pop
 * now (a claimed but unpublished cell counts as empty). Consumer only. */
int tv_opqueue_empty(tv_opqueue *q);

#endif
