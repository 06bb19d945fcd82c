/*
 * pool.c - a fork-join thread pool for the training kernels.
 *
 * The threads are created once per training with every signal blocked (the
 * training worker's signal handlers must only ever run in its main thread)
 * and wait on a condition variable between jobs.  A job is n tasks handed
 * out through an atomic counter; each task writes only its own output, so
 * results never depend on which thread ran which task.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "cs_trees.h"

typedef struct pool_worker
{
	cs_pool  *pool;
	int       thread;
	pthread_t handle;
} pool_worker;

struct cs_pool
{
	int             n_threads;
	int             n_started; /* worker threads actually running */
	pool_worker    *workers;
	pthread_mutex_t lock;
	pthread_cond_t  wake;
	pthread_cond_t  done;
	uint64_t        generation; /* bumped for each job */
	int             busy;       /* workers still in the current job */
	int             stopping;
	cs_task_fn      fn;
	void           *arg;
	size_t          n_tasks;
	atomic_size_t   next;
};

/* Runs tasks of the current job until none is left. */
static void
run_tasks(cs_pool *pool, int thread)
{
	for (;;)
	{
		size_t task = atomic_fetch_add(&pool->next, 1);

		if (task >= pool->n_tasks)
			break;
		pool->fn(pool->arg, task, thread);
	}
}

/* A worker thread: waits for a job, runs its share, reports, repeats. */
static void *
worker_main(void *arg)
{
	pool_worker *w = arg;
	cs_pool     *pool = w->pool;
	uint64_t     seen = 0;

	pthread_mutex_lock(&pool->lock);
	for (;;)
	{
		while (!pool->stopping && pool->generation == seen)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->stopping)
			break;
		seen = pool->generation;
		pthread_mutex_unlock(&pool->lock);
		run_tasks(pool, w->thread);
		pthread_mutex_lock(&pool->lock);
		if (--pool->busy == 0)
			pthread_cond_signal(&pool->done);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Creates a pool of threads (the caller counts as one); threads < 1 means 1. */
cs_status
cs_pool_new(int threads, cs_pool **out, cs_error *err)
{
	cs_pool *pool = cs_calloc(1, sizeof(cs_pool));
	sigset_t all;
	sigset_t old;
	int      t;

	*out = NULL;
	if (pool == NULL)
		return cs_fail(err, CS_ERR_NOMEM, "out of memory creating a thread pool");
	pool->n_threads = threads < 1 ? 1 : threads;
	atomic_init(&pool->next, 0);
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->done, NULL);
	if (pool->n_threads > 1)
	{
		pool->workers = cs_calloc((size_t) pool->n_threads, sizeof(pool_worker));
		if (pool->workers == NULL)
		{
			cs_pool_free(pool);
			return cs_fail(err, CS_ERR_NOMEM, "out of memory creating a thread pool");
		}
		/* the threads inherit a full signal mask */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		for (t = 1; t < pool->n_threads; t++)
		{
			pool->workers[t].pool = pool;
			pool->workers[t].thread = t;
			if (pthread_create(&pool->workers[t].handle, NULL, worker_main, &pool->workers[t]) != 0)
				break;
			pool->n_started = t;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (pool->n_started != pool->n_threads - 1)
		{
			cs_pool_free(pool);
			return cs_fail(err, CS_ERR_NOMEM, "could not start %d threads", threads);
		}
	}
	*out = pool;
	return CS_OK;
}

/* The number of threads, the caller's included. */
int
cs_pool_threads(const cs_pool *pool)
{
	return pool == NULL ? 1 : pool->n_threads;
}

/* Runs fn for every task in [0, n_tasks) and waits for all of them. */
void
cs_pool_run(cs_pool *pool, size_t n_tasks, cs_task_fn fn, void *arg)
{
	size_t task;

	if (n_tasks == 0)
		return;
	if (pool == NULL || pool->n_started == 0 || n_tasks == 1)
	{
		for (task = 0; task < n_tasks; task++)
			fn(arg, task, 0);
		return;
	}
	pthread_mutex_lock(&pool->lock);
	pool->fn = fn;
	pool->arg = arg;
	pool->n_tasks = n_tasks;
	atomic_store(&pool->next, 0);
	pool->busy = pool->n_started;
	pool->generation++;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);

	run_tasks(pool, 0);

	pthread_mutex_lock(&pool->lock);
	while (pool->busy > 0)
		pthread_cond_wait(&pool->done, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
}

/* Stops and joins the threads and frees the pool; NULL is fine. */
void
cs_pool_free(cs_pool *pool)
{
	int t;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (t = 1; t <= pool->n_started; t++)
		pthread_join(pool->workers[t].handle, NULL);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->wake);
	pthread_cond_destroy(&pool->done);
	cs_free(pool->workers);
	cs_free(pool);
}
