#!/usr/bin/python3
"""Reference figures for the LIME core (src/core/lime.c), from NumPy, SciPy and scikit-learn.

Writes test/unit/lime_reference.h, a C header that test/unit/test_lime.c includes:

- the quartile bins of small arrays as lime's QuartileDiscretizer computes them (lime 0.2,
  lime/discretize.py: np.percentile(x, [25, 50, 75]), np.unique, np.searchsorted, per bin
  np.mean and np.std + 1e-11, mins = [min] + qts, maxs = qts + [max]), re-stated here since
  the lime package is not installed;
- scikit-learn's Ridge(alpha, fit_intercept=True) with sample weights (what lime's LimeBase
  fits): coefficients, intercept and Ridge.score with the same weights, on three small
  datasets built from integer formulas whose values are exact in binary, so that the C test
  builds the very same numbers;
- the truncated normal: its quantile at a few (a, b, u), tails included, solved with mpmath
  at 50 digits (scipy.stats.truncnorm.ppf of SciPy 1.10 is off by 1e-6 relative at u = 1 - 1e-12
  on [-2, 40], so it is not the reference there; it agrees to 1e-15 elsewhere), and the mean and
  standard deviation of a few truncated normals from scipy.stats.truncnorm.stats.

Run with Debian's python3 (numpy, scipy and scikit-learn installed): /usr/bin/python3
test/reference/lime_reference.py
"""
import os
import shutil
import subprocess

import mpmath
import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.linear_model import Ridge

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER_PATH = os.path.join(HERE, "..", "unit", "lime_reference.h")

# ------------------------------------------------------------------ quartile bins

QUARTILE_ARRAYS = [
    [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5],  # n = 11: integer positions
    [0.5, 2.25, -1, 7, 3.5, 3.5, 10, 0],  # n = 8: interpolation 0.75, 0.5, 0.25
    [1.5, -2.25, 8, 4.125, 0.75, 3],  # n = 6: interpolation 0.25, 0.5, 0.75
    [0, 0, 0, 0, 0, 1, 2, 3],  # q1 = q2 = 0: np.unique leaves two quartiles
    [0, 0, 0, 0, 0, 0, 0, 1],  # q1 = q2 = q3 = 0: one quartile, the top bin has the 1
    [0, 0, 1, 1, 1, 1, 1, 1, 1, 1],  # a binary column: the interpolated bin is empty
    [4.2],  # one value
    [1, 2],  # two values
    [0.1, 0.7, 0.2, 0.9, 0.3, 0.35, 0.6, 0.15, 0.8],  # decimal fractions
]


def lime_quartile_bins(x):
    """lime's QuartileDiscretizer for one column, as lime/discretize.py computes it."""
    x = np.asarray(x, dtype=float)
    qts = np.unique(np.array(np.percentile(x, [25, 50, 75])))
    disc = np.searchsorted(qts, x)
    counts, means, stds = [], [], []
    for b in range(len(qts) + 1):
        sel = x[disc == b]
        counts.append(len(sel))
        means.append(0 if len(sel) == 0 else np.mean(sel))
        stds.append((0 if len(sel) == 0 else np.std(sel)) + 0.00000000001)
    mins = [np.min(x)] + qts.tolist()
    maxs = qts.tolist() + [np.max(x)]
    return qts, counts, means, stds, mins, maxs


# ------------------------------------------------------------------ ridge


def ridge_data(case):
    """The datasets, from integer formulas (the C test repeats them)."""
    if case == 0:
        n, p, alpha = 40, 4, 1.0
        X = np.array([[((i * (2 * j + 3) + 5 * j) % 13) / 4.0 for j in range(p)] for i in range(n)])
        y = np.array([((i * 7 + 3) % 19) / 16.0 + 0.25 * X[i, 0] - 0.5 * X[i, 2] for i in range(n)])
        w = np.array([((i * 5) % 9 + 1) / 8.0 for i in range(n)])
    elif case == 1:
        n, p, alpha = 60, 5, 1.0
        X = np.array([[1.0 if (i * (j + 2) + j * j) % 5 < 2 else 0.0 for j in range(p)]
                      for i in range(n)])
        y = np.array([((i * 11) % 23) / 32.0 + 0.125 * X[i, 0] - 0.25 * X[i, 3] for i in range(n)])
        w = np.array([((i * 3) % 7 + 1) / 8.0 for i in range(n)])
    else:
        n, p, alpha = 30, 3, 0.5
        X = np.array([[1.0 if j == 1 else ((i + j) % 4) / 2.0 for j in range(p)] for i in range(n)])
        y = np.array([((i * 5) % 11) / 8.0 for i in range(n)])
        w = np.array([0.0 if i % 6 == 5 else (i % 4 + 1) / 4.0 for i in range(n)])
    return X, y, w, alpha


def ridge_fit(case):
    X, y, w, alpha = ridge_data(case)
    model = Ridge(alpha=alpha, fit_intercept=True)
    model.fit(X, y, sample_weight=w)
    score = model.score(X, y, sample_weight=w)
    return model.coef_, model.intercept_, score, alpha


# ------------------------------------------------------------------ truncated normal

PPF_CASES = [(-1.0, 1.0), (0.5, 3.0), (-3.0, -0.5), (-10.0, -9.0), (8.0, 9.5), (-2.0, 40.0),
             (-40.0, -38.0), (37.0, 39.0), (-1e11, 0.0), (-0.1, 0.2)]
PPF_U = [1e-12, 0.001, 0.1, 0.5, 0.9, 0.999, 1 - 1e-12]
# (mean, sd, lo, hi): each bin of lime's undiscretize is one such
STAT_CASES = [(0.0, 1.0, -1.0, 1.0), (5.0, 2.0, 6.0, 20.0), (10.0, 3.0, -100.0, 9.0),
              (0.0, 1.0, -10.0, -9.0), (100.0, 25.0, 60.0, 180.0)]


def truncnorm_ppf(a, b, u):
    """The u-quantile of the standard normal truncated to [a, b], to 50 digits."""
    mp = mpmath.mp
    mp.dps = 50
    a, b, u = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(u)
    if a > 0:  # the upper tail: the mirror image of the lower one
        return -truncnorm_ppf(-b, -a, 1 - u)
    mass = mpmath.ncdf(b) - mpmath.ncdf(a) if b <= 0 else \
        1 - mpmath.ncdf(a) - mpmath.ncdf(-b)
    lo, hi = a, b
    # an increasing function of x, zero at the quantile
    if u <= 0.5:  # the mass below x is u mass
        f = lambda x: (mpmath.ncdf(x) - mpmath.ncdf(a)) - u * mass
    elif b <= 0:  # the mass above x is (1 - u) mass
        f = lambda x: (1 - u) * mass - (mpmath.ncdf(b) - mpmath.ncdf(x))
    else:
        f = lambda x: (1 - u) * mass - (mpmath.ncdf(-x) - mpmath.ncdf(-b))
    for _ in range(400):  # bisection: slow, sure
        mid = (lo + hi) / 2
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return float((lo + hi) / 2)


def c_array(name, ctype, values, fmt="%.17g", per_line=4):
    """A C array, per_line values a row (a trailing comma keeps clang-format's hands off)."""
    rows = [", ".join(fmt % v for v in values[i:i + per_line])
            for i in range(0, len(values), per_line)]
    return "static const %s %s[%d] = {\n\t%s,\n};\n" % (ctype, name, len(values),
                                                          ",\n\t".join(rows))


def main():
    parts = [
        "/*\n * lime_reference.h - generated by test/reference/lime_reference.py with NumPy %s,\n"
        " * SciPy %s and scikit-learn %s; do not edit.\n */\n" % (
            np.__version__, scipy.__version__, sklearn.__version__),
        "#ifndef LIME_REFERENCE_H\n#define LIME_REFERENCE_H\n\n#include <stdint.h>\n\n",
    ]

    # quartile bins: the arrays concatenated, then per array its figures padded to 4 bins
    values, starts, lens, nbins = [], [], [], []
    qts_all, counts_all, means_all, stds_all, mins_all, maxs_all = [], [], [], [], [], []
    for x in QUARTILE_ARRAYS:
        starts.append(len(values))
        lens.append(len(x))
        values.extend(float(v) for v in x)
        qts, counts, means, stds, mins, maxs = lime_quartile_bins(x)
        nbins.append(len(qts) + 1)
        pad = 4 - (len(qts) + 1)
        qts_all.extend(list(qts) + [0.0] * (3 - len(qts)))
        counts_all.extend(counts + [0] * pad)
        means_all.extend(list(means) + [0.0] * pad)
        stds_all.extend(list(stds) + [0.0] * pad)
        mins_all.extend(list(mins) + [0.0] * pad)
        maxs_all.extend(list(maxs) + [0.0] * pad)
    parts.append("/* lime's QuartileDiscretizer on small columns (figures padded to 4 bins) */\n")
    parts.append("#define LIME_REF_ARRAYS %d\n" % len(QUARTILE_ARRAYS))
    parts.append(c_array("lime_ref_values", "double", values))
    parts.append(c_array("lime_ref_start", "int32_t", starts, "%d"))
    parts.append(c_array("lime_ref_len", "int32_t", lens, "%d"))
    parts.append(c_array("lime_ref_bins", "int32_t", nbins, "%d"))
    parts.append(c_array("lime_ref_quartiles", "double", qts_all))
    parts.append(c_array("lime_ref_counts", "uint64_t", counts_all, "%d"))
    parts.append(c_array("lime_ref_means", "double", means_all))
    parts.append(c_array("lime_ref_stds", "double", stds_all))
    parts.append(c_array("lime_ref_mins", "double", mins_all))
    parts.append(c_array("lime_ref_maxs", "double", maxs_all))

    # ridge
    parts.append("\n/* scikit-learn's Ridge with sample weights on the datasets of ridge_data() */\n")
    parts.append("#define LIME_REF_RIDGES 3\n")
    coefs, intercepts, scores, alphas = [], [], [], []
    for case in range(3):
        coef, intercept, score, alpha = ridge_fit(case)
        coefs.extend(list(coef) + [0.0] * (5 - len(coef)))
        intercepts.append(intercept)
        scores.append(score)
        alphas.append(alpha)
    parts.append(c_array("lime_ref_ridge_coef", "double", coefs))
    parts.append(c_array("lime_ref_ridge_intercept", "double", intercepts))
    parts.append(c_array("lime_ref_ridge_score", "double", scores))
    parts.append(c_array("lime_ref_ridge_alpha", "double", alphas))

    # truncated normal
    parts.append("\n/* the u-quantile of the normal truncated to [a, b] (mpmath, 50 digits) */\n")
    parts.append("#define LIME_REF_PPF_CASES %d\n#define LIME_REF_PPF_U %d\n" % (
        len(PPF_CASES), len(PPF_U)))
    parts.append(c_array("lime_ref_ppf_a", "double", [a for a, _ in PPF_CASES]))
    parts.append(c_array("lime_ref_ppf_b", "double", [b for _, b in PPF_CASES]))
    parts.append(c_array("lime_ref_ppf_u", "double", PPF_U))
    ppf = [truncnorm_ppf(a, b, u) for a, b in PPF_CASES for u in PPF_U]
    scipy_ppf = [float(scipy.stats.truncnorm.ppf(u, a, b)) for a, b in PPF_CASES for u in PPF_U]
    print("scipy.stats.truncnorm.ppf against mpmath: worst relative difference %.2g" % max(
        abs(x - y) / max(1, abs(y)) for x, y in zip(scipy_ppf, ppf)))
    parts.append(c_array("lime_ref_ppf", "double", ppf))
    parts.append("\n/* scipy.stats.truncnorm(a, b, loc=mean, scale=sd).stats(): mean, sd */\n")
    parts.append("#define LIME_REF_STAT_CASES %d\n" % len(STAT_CASES))
    flat = [v for case in STAT_CASES for v in case]
    parts.append(c_array("lime_ref_stat_params", "double", flat))
    moments = []
    for mean, sd, lo, hi in STAT_CASES:
        m, v = scipy.stats.truncnorm.stats((lo - mean) / sd, (hi - mean) / sd, loc=mean, scale=sd,
                                           moments="mv")
        moments.extend([float(m), float(np.sqrt(v))])
    parts.append(c_array("lime_ref_stat_moments", "double", moments))
    parts.append("\n#endif\n")

    with open(HEADER_PATH, "w") as f:
        f.write("".join(parts))
    if shutil.which("clang-format"):  # make lint checks test/unit/*.h
        subprocess.run(["clang-format", "-i", HEADER_PATH], check=True)


if __name__ == "__main__":
    main()
