/*
 * linalg.c - BLAS and LAPACK from OpenBLAS, loaded at run time.
 *
 * The only file that includes cblas.h, and only for its types: the library
 * is opened with dlopen() so that a backend that only scores never loads it
 * (nor starts its thread pool).  OPENBLAS_NUM_THREADS is set before the load,
 * and every signal is blocked while the library initialises so that the pool
 * threads it starts inherit a full signal mask and never take a signal meant
 * for the backend.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#include "cs_core.h"

#define DEFAULT_LIBRARY "libopenblas.so.0"

typedef void (*dgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint,
						 blasint, blasint, double, const double *, blasint, const double *, blasint,
						 double, double *, blasint);
typedef void (*dgemv_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, blasint, blasint, double,
						 const double *, blasint, const double *, blasint, double, double *,
						 blasint);
/* Fortran LAPACK; the trailing size_t is gfortran's hidden length of uplo */
typedef void (*dposv_fn)(const char *, const blasint *, const blasint *, double *, const blasint *,
						 double *, const blasint *, blasint *, size_t);

static void    *blas_handle;
static dgemm_fn blas_dgemm;
static dgemv_fn blas_dgemv;
static dposv_fn lapack_dposv;

/* Opens library with all signals blocked; NULL on failure. */
static void *
open_blocking_signals(const char *library)
{
	sigset_t all;
	sigset_t old;
	void    *handle;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return handle;
}

/* Loads OpenBLAS (once) with the given thread count. */
cs_status
cs_linalg_load(const char *library, int threads, cs_error *err)
{
	char  count[16];
	void *handle;
	void *gemm;
	void *gemv;
	void *posv;

	if (blas_handle != NULL)
		return CS_OK;
	if (library == NULL || library[0] == '\0')
		library = DEFAULT_LIBRARY;
	if (threads < 1)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "the BLAS thread count must be at least 1, not %d",
					   threads);
	snprintf(count, sizeof(count), "%d", threads);
	setenv("OPENBLAS_NUM_THREADS", count, 1);
	handle = open_blocking_signals(library);
	if (handle == NULL)
		return cs_fail(err,
					   CS_ERR_BLAS,
					   "could not load the BLAS library \"%s\": %s; install libopenblas0",
					   library,
					   dlerror());
	gemm = dlsym(handle, "cblas_dgemm");
	gemv = dlsym(handle, "cblas_dgemv");
	posv = dlsym(handle, "dposv_");
	if (gemm == NULL || gemv == NULL || posv == NULL)
	{
		dlclose(handle);
		return cs_fail(err,
					   CS_ERR_BLAS,
					   "the library \"%s\" lacks cblas_dgemm, cblas_dgemv or dposv_; install "
					   "libopenblas0",
					   library);
	}
	/* POSIX guarantees that data and function pointers convert through dlsym */
	*(void **) &blas_dgemm = gemm;
	*(void **) &blas_dgemv = gemv;
	*(void **) &lapack_dposv = posv;
	blas_handle = handle;
	return CS_OK;
}

/* Whether cs_linalg_load has succeeded. */
int
cs_linalg_loaded(void)
{
	return blas_handle != NULL;
}

/* Whether every dimension fits in a BLAS integer. */
static int
fits_blasint(size_t a, size_t b, size_t c)
{
	return a <= INT_MAX && b <= INT_MAX && c <= INT_MAX;
}

/* C = alpha * A^T * B + beta * C; A is n x m, B is n x k, C is m x k, column-major. */
void
cs_gemm_tn(size_t n, size_t m, size_t k, double alpha, const double *A, const double *B,
		   double beta, double *C)
{
	size_t i;
	size_t j;
	size_t r;

	if (m == 0 || k == 0)
		return;
	if (blas_dgemm != NULL && n > 0 && fits_blasint(n, m, k))
	{
		blas_dgemm(CblasColMajor,
				   CblasTrans,
				   CblasNoTrans,
				   (blasint) m,
				   (blasint) k,
				   (blasint) n,
				   alpha,
				   A,
				   (blasint) n,
				   B,
				   (blasint) n,
				   beta,
				   C,
				   (blasint) m);
		return;
	}
	for (j = 0; j < k; j++)
		for (i = 0; i < m; i++)
		{
			double sum = 0.0;

			for (r = 0; r < n; r++)
				sum += A[i * n + r] * B[j * n + r];
			C[j * m + i] = alpha * sum + (beta == 0.0 ? 0.0 : beta * C[j * m + i]);
		}
}

/*
 * C = alpha op(A) op(B) + beta C, column-major, op(X) = X^T when its flag is
 * 'T' (else 'N'): C is m x n with leading dimension ldc, op(A) m x k, op(B)
 * k x n.  One cblas_dgemm call; plain loops when BLAS is not loaded or a
 * dimension does not fit its integers.
 */
void
cs_gemm(char ta, char tb, size_t m, size_t n, size_t k, double alpha, const double *A, size_t lda,
		const double *B, size_t ldb, double beta, double *C, size_t ldc)
{
	size_t i;
	size_t j;
	size_t r;

	if (m == 0 || n == 0)
		return;
	if (blas_dgemm != NULL && k > 0 && fits_blasint(m, n, k) && fits_blasint(lda, ldb, ldc))
	{
		blas_dgemm(CblasColMajor,
				   ta == 'T' ? CblasTrans : CblasNoTrans,
				   tb == 'T' ? CblasTrans : CblasNoTrans,
				   (blasint) m,
				   (blasint) n,
				   (blasint) k,
				   alpha,
				   A,
				   (blasint) lda,
				   B,
				   (blasint) ldb,
				   beta,
				   C,
				   (blasint) ldc);
		return;
	}
	for (j = 0; j < n; j++)
		for (i = 0; i < m; i++)
		{
			double sum = 0.0;

			for (r = 0; r < k; r++)
				sum += (ta == 'T' ? A[r + i * lda] : A[i + r * lda]) *
					   (tb == 'T' ? B[j + r * ldb] : B[r + j * ldb]);
			C[i + j * ldc] = alpha * sum + (beta == 0.0 ? 0.0 : beta * C[i + j * ldc]);
		}
}

/* y = alpha * A^T * x + beta * y; A is n x m, column-major. */
void
cs_gemv_t(size_t n, size_t m, double alpha, const double *A, const double *x, double beta,
		  double *y)
{
	size_t i;
	size_t r;

	if (m == 0)
		return;
	if (blas_dgemv != NULL && n > 0 && fits_blasint(n, m, 1))
	{
		blas_dgemv(CblasColMajor,
				   CblasTrans,
				   (blasint) n,
				   (blasint) m,
				   alpha,
				   A,
				   (blasint) n,
				   x,
				   1,
				   beta,
				   y,
				   1);
		return;
	}
	for (i = 0; i < m; i++)
	{
		double sum = 0.0;

		for (r = 0; r < n; r++)
			sum += A[i * n + r] * x[r];
		y[i] = alpha * sum + (beta == 0.0 ? 0.0 : beta * y[i]);
	}
}

/* Solves A x = b in place (Cholesky, LAPACK dposv); A symmetric positive definite. */
cs_status
cs_posv(size_t m, double *A, double *b, cs_error *err)
{
	blasint n = (blasint) m;
	blasint nrhs = 1;
	blasint info = 0;

	if (lapack_dposv == NULL)
		return cs_fail(err, CS_ERR_BLAS, "the BLAS library is not loaded");
	if (m == 0)
		return CS_OK;
	if (m > INT_MAX)
		return cs_fail(err, CS_ERR_INVALID, "a %zu x %zu system is too large", m, m);
	lapack_dposv("L", &n, &nrhs, A, &n, b, &n, &info, 1);
	if (info > 0)
		return cs_fail(err,
					   CS_ERR_NUMERIC,
					   "the matrix is not positive definite (leading minor %d)",
					   (int) info);
	if (info < 0)
		return cs_fail(err, CS_ERR_INVALID, "dposv argument %d is invalid", (int) -info);
	return CS_OK;
}
