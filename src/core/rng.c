/*
 * rng.c - hashing and pseudo-random numbers: the splitmix64 finaliser, 64-bit
 * FNV-1a and xoshiro256** (Blackman and Vigna, https://prng.di.unimi.it/).
 */
#include "cs_core.h"

/* splitmix64's output function applied to z (mod 2^64 arithmetic). */
uint64_t
cs_mix64(uint64_t z)
{
	z += UINT64_C(0x9E3779B97F4A7C15);
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* 64-bit FNV-1a of len bytes. */
uint64_t
cs_fnv1a64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t             h = UINT64_C(0xCBF29CE484222325);
	size_t               i;

	for (i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= UINT64_C(0x100000001B3);
	}
	return h;
}

/* Seeds the four state words from successive splitmix64 outputs. */
void
cs_rng_seed(cs_rng *rng, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
	{
		rng->s[i] = cs_mix64(seed);
		seed += UINT64_C(0x9E3779B97F4A7C15);
	}
}

/* Rotates x left by k bits. */
static inline uint64_t
rotate_left(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* The next xoshiro256** output. */
uint64_t
cs_rng_next(cs_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t  result = rotate_left(s[1] * 5, 7) * 9;
	uint64_t  t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotate_left(s[3], 45);
	return result;
}

/* A double uniform on [0, 1) from the top 53 bits of the next output. */
double
cs_rng_uniform(cs_rng *rng)
{
	return (double) (cs_rng_next(rng) >> 11) * 0x1.0p-53;
}
