/* ms_gamma.c: the 95 % interval of a sampled total (Fay & Feuer's gamma interval) for the
 * engine's sampled-mode estimates (docs/analysis.md, "Sampled modes"). */
#include <math.h>

#include "ms_analysis_int.h"

/* ---- the interval of a sampled total (Fay & Feuer's gamma interval) ------------------------
 * A sampled total (allocations, bytes, leaked blocks or bytes) is y = sum of w*x over the
 * sampled blocks, with the variance estimate v = sum of (1-p)/p^2 * x^2. y +- 1.96 sqrt(v)
 * fails where the truth needs it most: with no sampled block y = v = 0 and the interval is
 * [0, 0] (a run leaking 7000 bytes under bytes:524288 showed that), and with a few the
 * distribution is skewed. Fay and Feuer's interval for weighted Poisson sums (Stat Med 1997,
 * "Confidence intervals for directly standardized rates: a method based on the gamma
 * distribution") takes y as a gamma variable with mean y and variance v, and for the upper
 * end adds one unseen sampled block (mean y_u, variance v_u, the largest one block can
 * bring): low = the 2.5 % quantile of gamma(mean y, variance v); high = the 97.5 % quantile
 * of gamma(mean y + y_u, variance v + v_u). With nothing sampled under bytes:N the upper end
 * is N * ln 40 = 3.69 N: the chance that L bytes hold no sample point is exp(-L/N), below
 * 2.5 % above that. The unseen block for each mode is in sampled_unit() (ms_analyze.c).
 * gamma quantiles are computed here (no library the analysis links has them: libm has lgamma
 * only). */

/* The regularized lower incomplete gamma function P(a, x): its series below x = a + 1, the
 * continued fraction of Q = 1 - P above (Numerical Recipes' gammp). */
static double gamma_p(double a, double x) {
  if (x <= 0)
    return 0;
  double front = exp(-x + a * log(x) - lgamma(a));
  if (x < a + 1) {
    double ap = a, del = 1.0 / a, sum = del;
    for (int n = 0; n < 100000 && fabs(del) > fabs(sum) * 1e-15; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
    }
    return fmin(1.0, sum * front);
  }
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 100000; i++) {
    double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    d = fabs(d) < tiny ? tiny : d;
    c = b + an / c;
    c = fabs(c) < tiny ? tiny : c;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1) < 1e-15)
      break;
  }
  return fmax(0.0, 1.0 - front * h);
}

/* The q quantile of gamma(shape a, scale 1). Large shapes by Wilson and Hilferty's cube-root
 * normal approximation (relative error below 1e-5 from a = 1000), else by bisection of P. */
static double gamma_quantile(double a, double q) {
  double z = q > 0.5 ? 1.959963984540054 : -1.959963984540054; /* q is 0.975 or 0.025 */
  if (a >= 1000) {
    double c = 1.0 / (9.0 * a), r = 1.0 - c + z * sqrt(c);
    return a * r * r * r;
  }
  double lo = 0, hi = a + 10 * sqrt(a) + 10;
  while (gamma_p(a, hi) < q)
    hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    double mid = 0.5 * (lo + hi);
    if (gamma_p(a, mid) < q)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

/* Fay-Feuer's 95 % interval of a sampled total y with variance estimate v, one unseen sampled
 * block being worth y_u with variance v_u (both > 0). */
void ms__gamma_interval(double y, double v, double y_u, double v_u, double *lo, double *hi) {
  if (!(y > 0))
    *lo = 0;
  else if (!(v > 0))
    *lo = y; /* every block of it was certain to be sampled: exact */
  else
    *lo = v / y * gamma_quantile(y * y / v, 0.025);
  double yh = (y > 0 ? y : 0) + y_u, vh = (v > 0 ? v : 0) + v_u;
  *hi = vh / yh * gamma_quantile(yh * yh / vh, 0.975);
}
