/* Publishing the current policy. A mutex guards only the pointer and the
 * reference taken under it, so a reload that swaps the pointer can never
 * free a policy between a reader's load and its retain; the policy itself
 * is immutable and read without locks. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

#include "vault/policy/policy.h"
#include "vault/policy/policy_internal.h"

struct policy_handle {
  pthread_mutex_t lock;
  const tv_policy *current;
};

tv_status policy_handle_new(tv_policy *policy, policy_handle **out_handle) {
  TV_ENSURE(policy != NULL && out_handle != NULL && policy->frozen, TV_E_INVALID_ARGUMENT);
  policy_handle *h = calloc(1, sizeof(*h));
  TV_ENSURE(h != NULL, TV_E_NO_MEMORY);
  if (pthread_mutex_init(&h->lock, NULL) != 0) {
    free(h);
    return TV_E_NO_MEMORY;
  }
  h->current = policy;
  *out_handle = h;
  return TV_OK;
}

void policy_handle_free(policy_handle *handle) {
  if (handle == NULL) {
    return;
  }
  policy_release(handle->current);
  pthread_mutex_destroy(&handle->lock);
  free(handle);
}

const tv_policy *policy_handle_acquire(policy_handle *handle) {
  assert(handle != NULL);
  pthread_mutex_lock(&handle->lock);
  const tv_policy *p = policy_retain(handle->current);
  pthread_mutex_unlock(&handle->lock);
  return p;
}

tv_status policy_handle_swap(policy_handle *handle, tv_policy *policy) {
  TV_ENSURE(handle != NULL && policy != NULL && policy->frozen, TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&handle->lock);
  const tv_policy *old = handle->current;
  handle->current = policy;
  pthread_mutex_unlock(&handle->lock);
  /* Outside the lock: freeing may take a while, readers need not wait. */
  policy_release(old);
  return TV_OK;
}
