#include "vault/server/grpc/workers.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct tv_job {
  tv_job_fn fn;
  void *arg;
} tv_job;

struct tv_workers {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  tv_job *ring; /* jobs_max slots */
  size_t jobs_max;
  size_t head;
  size_t count;
  int stopping;
  pthread_t *threads;
  size_t threads_started;
};

static void *worker_main(void *arg) {
  tv_workers *w = arg;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (w->count == 0 && !w->stopping) {
      pthread_cond_wait(&w->wake, &w->lock);
    }
    if (w->count == 0) {
      break; /* stopping and drained */
    }
    tv_job job = w->ring[w->head];
    w->head = (w->head + 1) % w->jobs_max;
    w->count--;
    pthread_mutex_unlock(&w->lock);
    job.fn(job.arg);
    pthread_mutex_lock(&w->lock);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

tv_status tv_workers_new(tv_workers **out_workers, size_t threads, size_t jobs_max) {
  TV_ENSURE(out_workers != NULL && threads > 0 && jobs_max > 0, TV_E_INVALID_ARGUMENT);
  tv_workers *w = calloc(1, sizeof *w);
  TV_ENSURE(w != NULL, TV_E_NO_MEMORY);
  w->ring = calloc(jobs_max, sizeof *w->ring);
  w->threads = calloc(threads, sizeof *w->threads);
  w->jobs_max = jobs_max;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->wake, NULL);
  if (w->ring == NULL || w->threads == NULL) {
    tv_workers_free(w);
    return TV_E_NO_MEMORY;
  }
  for (size_t i = 0; i < threads; i++) {
    if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) {
      tv_workers_free(w);
      return TV_E_INTERNAL;
    }
    w->threads_started++;
  }
  *out_workers = w;
  return TV_OK;
}

tv_status tv_workers_submit(tv_workers *w, tv_job_fn fn, void *arg) {
  assert(w != NULL && fn != NULL);
  pthread_mutex_lock(&w->lock);
  tv_status st = TV_OK;
  if (w->stopping) {
    st = TV_E_SERVER_SHUTTING_DOWN;
  } else if (w->count == w->jobs_max) {
    st = TV_E_SERVER_BUSY;
  } else {
    w->ring[(w->head + w->count) % w->jobs_max] = (tv_job){fn, arg};
    w->count++;
    pthread_cond_signal(&w->wake);
  }
  pthread_mutex_unlock(&w->lock);
  return st;
}

void tv_workers_free(tv_workers *w) {
  if (w == NULL) {
    return;
  }
  pthread_mutex_lock(&w->lock);
  w->stopping = 1;
  pthread_cond_broadcast(&w->wake);
  pthread_mutex_unlock(&w->lock);
  for (size_t i = 0; i < w->threads_started; i++) {
    pthread_join(w->threads[i], NULL);
  }
  pthread_cond_destroy(&w->wake);
  pthread_mutex_destroy(&w->lock);
  free(w->threads);
  free(w->ring);
  free(w);
}
