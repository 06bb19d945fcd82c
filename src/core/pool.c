/*
 * pool.c - a fork-join thread pool for the training kernels.
 *
 * The threads are created once per training with every signal blocked (the
 * training worker's signal handlers must only ever run in its main thread).
 * Between jobs a thread spins for a few tens of microseconds, watching for
 * the next job (boosting runs several jobs per tree level, each soon after
 * the last), then sleeps on a condition variable; the caller waits for the
 * end of a job the same way.  A job is n tasks handed out through an atomic
 * counter; each task writes only its own output, so results never depend on
 * which thread ran which task.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "cs_trees.h"

typedef struct pool_worker
{
	cs_pool  *pool;
	int       thread;
	pthread_t handle;
} pool_worker;

#define SPIN_NS 50000 /* how long a thread watches for the next job before sleeping */

struct cs_pool
{
	int                   n_threads;
	int                   n_started; /* worker threads actually running */
	pool_worker          *workers;
	pthread_mutex_t       lock;
	pthread_cond_t        wake;
	pthread_cond_t        done;
	atomic_uint_least64_t generation; /* bumped for each job (under lock) */
	atomic_int            busy;       /* workers still in the current job */
	atomic_int            stopping;
	int                   sleeping; /* workers waiting on wake (under lock) */
	int                   waiting;  /* the caller waits on done (under lock) */
	cs_task_fn            fn;
	void                 *arg;
	size_t                n_tasks;
	atomic_size_t         next;
};

/* Nanoseconds on the monotonic clock. */
static int64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}

/* A pause in a spin loop. */
static inline void
spin_pause(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
	__builtin_ia32_pause();
#endif
}

/* Spins for up to SPIN_NS until done(pool) holds; returns whether it does. */
static int
spin_until(cs_pool *pool, int (*done)(cs_pool *, uint64_t), uint64_t arg)
{
	int64_t start = now_ns();
	int     i;

	for (;;)
	{
		for (i = 0; i < 64; i++)
		{
			if (done(pool, arg))
				return 1;
			spin_pause();
		}
		if (now_ns() - start > SPIN_NS)
			return done(pool, arg);
	}
}

/* Whether a job other than generation seen has started, or the pool stops. */
static int
new_job(cs_pool *pool, uint64_t seen)
{
	return atomic_load(&pool->stopping) || atomic_load(&pool->generation) != seen;
}

/* Whether every worker is done with the current job. */
static int
job_done(cs_pool *pool, uint64_t unused)
{
	(void) unused;
	return atomic_load(&pool->busy) == 0;
}

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

	for (;;)
	{
		if (!spin_until(pool, new_job, seen))
		{
			pthread_mutex_lock(&pool->lock);
			pool->sleeping++;
			while (!new_job(pool, seen))
				pthread_cond_wait(&pool->wake, &pool->lock);
			pool->sleeping--;
			pthread_mutex_unlock(&pool->lock);
		}
		if (atomic_load(&pool->stopping))
			break;
		seen = atomic_load(&pool->generation);
		run_tasks(pool, w->thread);
		if (atomic_fetch_sub(&pool->busy, 1) == 1)
		{
			pthread_mutex_lock(&pool->lock);
			if (pool->waiting)
				pthread_cond_signal(&pool->done);
			pthread_mutex_unlock(&pool->lock);
		}
	}
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
	atomic_init(&pool->generation, 0);
	atomic_init(&pool->busy, 0);
	atomic_init(&pool->stopping, 0);
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
	/* the job's description, then its generation, which publishes it */
	pool->fn = fn;
	pool->arg = arg;
	pool->n_tasks = n_tasks;
	atomic_store(&pool->next, 0);
	atomic_store(&pool->busy, pool->n_started);
	pthread_mutex_lock(&pool->lock);
	atomic_fetch_add(&pool->generation, 1);
	if (pool->sleeping > 0)
		pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);

	run_tasks(pool, 0);

	if (spin_until(pool, job_done, 0))
		return;
	pthread_mutex_lock(&pool->lock);
	pool->waiting = 1;
	while (atomic_load(&pool->busy) > 0)
		pthread_cond_wait(&pool->done, &pool->lock);
	pool->waiting = 0;
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
	atomic_store(&pool->stopping, 1);
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
