#!/usr/bin/env python3
"""Reference natural-log tail probabilities for `tracemark_detect::stats`.

Computed with mpmath at 60 significant digits; writes `tails_mpmath.json` next to this
script. Every float argument is taken exactly as the IEEE double the Rust test will parse
(Python floats are doubles, and `json` writes them round-trip exact).

Binomial tails are exact sums of pmf terms, truncated only once a geometric bound proves
the remainder is below 1e-70 of the sum; for n <= 5000 they are cross-checked against
mpmath's regularized incomplete beta. Gamma tails use `gammainc(regularized=True)`,
cross-checked for integer shapes against the Poisson identity
Q(a, x) = P(Poisson(x) <= a - 1) (again an exact, geometrically truncated sum), for
shape 1/2 against erfc(sqrt(x)) and for tiny shapes against quadrature. Normal tails use `erfc`.

Run: python3 gen_tails_mpmath.py
"""
import json
import math
import os

import mpmath as mp

mp.mp.dps = 60
EPS = mp.mpf(10) ** -70


def ln_pmf(n, k, p):
    return (mp.loggamma(n + 1) - mp.loggamma(k + 1) - mp.loggamma(n - k + 1)
            + k * mp.log(p) + (n - k) * mp.log(1 - p))


def ratio_sum(start, step, ratio):
    """Sum of t_j / t_start for j = start, start + step, ..., where ratio(j) = t_{j+step}/t_j
    (None past the end of the support). The ratios must be < 1 and non-increasing from
    `start` on, so the remainder after a term t with next ratio r is at most t*r/(1-r)."""
    s, t, j = mp.mpf(0), mp.mpf(1), start
    while True:
        s += t
        r = ratio(j)
        if r is None:
            return s
        assert r < 1
        t *= r
        j += step
        if t * r / (1 - r) < EPS * s:
            return s + t  # the remainder is far below 60 digits


def binom_ln_sf(n, k, p):
    p = mp.mpf(p)
    q = 1 - p
    if k == 0:
        return mp.mpf(0)
    if k >= n * p:  # upper tail directly
        up = ratio_sum(k, +1, lambda j: None if j == n else mp.mpf(n - j) / (j + 1) * p / q)
        return ln_pmf(n, k, p) + mp.log(up)
    # complement of the lower tail P(X <= k-1)
    down = ratio_sum(k - 1, -1, lambda j: None if j == 0 else mp.mpf(j) / (n - j + 1) * q / p)
    return mp.log(1 - mp.exp(ln_pmf(n, k - 1, p)) * down)


def poisson_ln_cdf(a, x):
    """ln P(Poisson(x) <= a - 1) for integer a >= 1, by the same truncated sums."""
    x = mp.mpf(x)

    def ln_pmf(j):
        return j * mp.log(x) - x - mp.loggamma(j + 1)

    if a - 1 < x:  # lower tail directly: terms fall as j decreases
        down = ratio_sum(a - 1, -1, lambda j: None if j == 0 else j / x)
        return ln_pmf(a - 1) + mp.log(down)
    # complement of P(Poisson(x) >= a)
    return mp.log(1 - mp.exp(ln_pmf(a)) * ratio_sum(a, +1, lambda j: x / (j + 1)))


def binom_ln_sf_beta(n, k, p):
    if k == 0:
        return mp.mpf(0)
    return mp.log(mp.betainc(k, n - k + 1, 0, mp.mpf(p), regularized=True))


def s(v):
    return mp.nstr(v, 20, min_fixed=-5, max_fixed=5) if v != 0 else "0.0"


def main():
    binomial = []
    for n in [1, 10, 200, 1000, 5000, 100000, 10000000, 100000000]:
        for p in [0.1, 0.25, 0.5]:
            mean, sd = n * p, math.sqrt(n * p * (1 - p))
            ks = [mean - 3 * sd, mean, mean + 2 * sd, mean + 5 * sd, mean + 20 * sd,
                  n - max(1, n // 100), n - 1, n]
            ks = sorted({min(n, max(0, int(round(k)))) for k in ks})
            for k in ks:
                v = binom_ln_sf(n, k, p)
                if n <= 5000:
                    w = binom_ln_sf_beta(n, k, p)
                    assert abs(v - w) <= mp.mpf(10) ** -40 * max(1, abs(v)), (n, k, p, v, w)
                binomial.append({"n": n, "k": k, "p": p, "ln_sf": s(v)})

    gamma = []
    cases = [(a, a * f) for a in [1.0, 10.0, 200.0, 5000.0, 1e6]
             for f in [0.5, 1.0, 1.2, 2.0, 5.0, 20.0]]
    cases += [(5000.0, 60000.0), (1e8, 1e8), (1e8, 1.001e8), (1e8, 1e9), (0.5, 3.0)]
    cases += [(1e-300, 0.5), (1e-10, 0.5), (1e-10, 1.9), (1e-4, 1e-6), (1e-4, 1.0), (5e-4, 3.0)]
    for a, x in cases:
        v = mp.log(mp.gammainc(mp.mpf(a), mp.mpf(x), mp.inf, regularized=True))
        tol = mp.mpf(10) ** -40
        if a == int(a):
            w = poisson_ln_cdf(int(a), x)
        elif a == 0.5:
            w = mp.log(mp.erfc(mp.sqrt(x)))
        else:  # tiny shapes: quadrature of t^(a-1) e^-t over [x, inf), less precise
            f = lambda t: t ** (a - 1) * mp.exp(-t)
            w = mp.log(mp.quad(f, [x, 2 * x, x + 1, x + 10, mp.inf]) / mp.gamma(a))
            tol = mp.mpf(10) ** -15
        assert abs(v - w) <= tol * max(1, abs(v)), (a, x, v, w)
        gamma.append({"shape": a, "x": x, "ln_sf": s(v)})

    normal = []
    for z in [-8.0, -1.0, 0.0, 1.0, 3.0, 8.0, 20.0, 40.0, 100.0, 1000.0]:
        v = mp.log(mp.erfc(mp.mpf(z) / mp.sqrt(2)) / 2)
        normal.append({"z": z, "ln_sf": s(v)})

    out = {
        "generator": "gen_tails_mpmath.py (mpmath %s, dps=%d)" % (mp.__version__, mp.mp.dps),
        "binomial": binomial,
        "gamma": gamma,
        "normal": normal,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tails_mpmath.json")
    with open(path, "w") as f:  # one case per line
        f.write("{\n \"generator\": %s" % json.dumps(out["generator"]))
        for key in ["binomial", "gamma", "normal"]:
            rows = ",\n  ".join(json.dumps(c) for c in out[key])
            f.write(",\n \"%s\": [\n  %s\n ]" % (key, rows))
        f.write("\n}\n")
    print("wrote %d binomial, %d gamma, %d normal cases to %s"
          % (len(binomial), len(gamma), len(normal), path))


if __name__ == "__main__":
    main()
