#include "vault/store/opqueue.h"

#include <assert.h>
#include <stdlib.h>

tv_status tv_opqueue_init(tv_opqueue *q, size_t items_max) {
  assert(items_max >= 2 && (items_max & (items_max - 1)) == 0);
  q->cells = calloc(items_max, sizeof *q->cells);
  TV_ENSURE(q->cells != NULL, TV_E_NO_MEMORY);
  for (size_t i = 0; i < items_max; i++) {
    atomic_init(&q->cells[i].seq, i);
  }
  q->mask = items_max - 1;
  atomic_init(&q->tail, 0);
  atomic_init(&q->head, 0);
  return TV_OK;
}

void tv_opqueue_cleanup(tv_opqueue *q) {
  free(q->cells);
  q->cells = NULL;
}

int tv_opqueue_push(tv_opqueue *q, tv_store_op *op) {
  size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
  for (;;) {
    tv_opq_cell *cell = &q->cells[pos & q->mask];
    size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
    ptrdiff_t diff = (ptrdiff_t)(seq - pos);
    if (diff == 0) {
      if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed)) {
        cell->op = op;
        atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
        return 1;
      }
    } else if (diff < 0) {
      return 0; /* the cell still holds an op from one lap ago: full */
    } else {
      pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    }
  }
}

tv_store_op *tv_opqueue_pop(tv_opqueue *q) {
  size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
  tv_opq_cell *cell = &q->cells[pos & q->mask];
  size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
  if (seq != pos + 1) {
    return NULL; /* empty, or the producer has claimed but not published */
  }
  tv_store_op *op = cell->op;
  atomic_store_explicit(&cell->seq, pos + q->mask + 1, memory_order_release);
  atomic_store_explicit(&q->head, pos + 1, memory_order_relaxed);
  return op;
}

size_t tv_opqueue_size(tv_opqueue *q) {
  size_t head = atomic_load(&q->head);
  size_t tail = atomic_load(&q->tail);
  return tail > head ? tail - head : 0;
}

int tv_opqueue_empty(tv_opqueue *q) {
  size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
  return atomic_load(&q->cells[pos & q->mask].seq) != pos + 1;
}
