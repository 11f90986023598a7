"""Reference values of stats/calibration_test.go, isotonic_test.go,
platt_test.go and selective_test.go, computed independently of the Go code.

Run with Debian's python3-sklearn (scikit-learn 1.2.1, NumPy 1.24, SciPy
1.10): /usr/bin/python3 stats/testdata/calibration_references.py
"""
import itertools
from fractions import Fraction

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, xlogy
from sklearn.calibration import _sigmoid_calibration, calibration_curve
from sklearn.datasets import make_regression
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss

np.set_printoptions(precision=17)


def show(name, v):
    print(name, repr(np.asarray(v).tolist()))


# IsotonicRegression documented example (make_regression, random_state=41).
X, y = make_regression(n_samples=10, n_features=1, random_state=41)
show("sk_doc_x", X.ravel())
show("sk_doc_y", y)
show("sk_doc_predict", IsotonicRegression().fit(X, y).predict([0.1, 0.2]))

# R's ?isoreg example, through scikit-learn.
ir = IsotonicRegression().fit(np.arange(1, 10), [1, 0, 4, 3, 3, 5, 4, 2, 0])
show("isoreg_fit", ir.predict(np.arange(1, 10)))

# Weighted fit with tied abscissae, predictions between and beyond them.
x = [3, 1, 2, 2, 4, 4, 5, 6, 7, 8, 8]
yy = [0.2, 0.9, 0.1, 0.5, 0.4, 0.0, 1.0, 0.3, 0.8, 0.6, 1.0]
w = [1, 2, 1, 3, 0.5, 1, 2, 1, 1, 1, 4]
iw = IsotonicRegression(out_of_bounds="clip").fit(x, yy, sample_weight=w)
q = [0, 1, 1.5, 2, 2.25, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 9]
show("weighted_predict", iw.predict(q))
show("weighted_thresholds_x", iw.X_thresholds_)
show("weighted_thresholds_y", iw.y_thresholds_)

# Platt scaling: scikit-learn's _sigmoid_calibration (BFGS, gtol 1e-5), then
# the same objective minimised to a tight tolerance.
def platt(F, yb):
    F = np.asarray(F, float)
    yb = np.asarray(yb)
    n1 = yb.sum()
    n0 = len(yb) - n1
    T = np.where(yb > 0, (n1 + 1.0) / (n1 + 2.0), 1.0 / (n0 + 2.0))

    def obj(ab):
        P = expit(-(ab[0] * F + ab[1]))
        return -(xlogy(T, P) + xlogy(1 - T, 1 - P)).sum()

    def grad(ab):
        P = expit(-(ab[0] * F + ab[1]))
        d = T - P
        return np.array([np.dot(d, F), d.sum()])

    a0, b0 = _sigmoid_calibration(F, yb)
    r = minimize(obj, [a0, b0], jac=grad, method="BFGS", options={"gtol": 1e-12})
    return (a0, b0), tuple(r.x)


F1 = [-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5]
y1 = [0, 0, 1, 0, 0, 1, 0, 1, 1, 1]
print("platt_overlap sklearn, tight", platt(F1, y1))
F2 = [1, 2, 3, 4, 5, 6]
y2 = [0, 0, 0, 1, 1, 1]
print("platt_separable sklearn, tight", platt(F2, y2))

# calibration_curve documented example, with quantile (equal-mass) bins.
yt = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
yp = np.array([0.1, 0.2, 0.3, 0.4, 0.65, 0.7, 0.8, 0.9, 1.0])
pt, pp = calibration_curve(yt, yp, n_bins=3, strategy="quantile")
show("cc_quantile_true", pt)
show("cc_quantile_pred", pp)
print("cc_quantile_ece (equal bins of 3)", float(np.mean(np.abs(pt - pp))))

# brier_score_loss documented example.
print("brier_doc", brier_score_loss([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3]))

# Murphy decomposition by exact fractions.
def murphy(p, o):
    p = [Fraction(v).limit_denominator(1000) for v in p]
    n = len(p)
    obar = Fraction(sum(o), n)
    bs = sum((pi - oi) ** 2 for pi, oi in zip(p, o)) / n
    rel = res = Fraction(0)
    for f in sorted(set(p)):
        idx = [i for i in range(n) if p[i] == f]
        ok = Fraction(sum(o[i] for i in idx), len(idx))
        rel += len(idx) * (f - ok) ** 2
        res += len(idx) * (ok - obar) ** 2
    return bs, rel / n, res / n, obar * (1 - obar)


mp = [0.1, 0.1, 0.1, 0.3, 0.3, 0.5, 0.5, 0.5, 0.5, 0.7, 0.9, 0.9]
mo = [0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1]
print("murphy (BS, REL, RES, UNC)", [str(v) for v in murphy(mp, mo)])

# Kumar, Liang and Ma (2019) debiased squared l2 calibration error, as their
# calibration package's unbiased_square_ce with equal-mass bins
# (np.array_split of the sorted data).
def unbiased_square_ce(p, o, nbins):
    data = sorted(zip(p, o))
    total = 0.0
    for b in np.array_split(np.array(data), nbins):
        if len(b) < 2:
            continue
        m = b[:, 1].mean()
        total += len(b) / len(data) * ((b[:, 0].mean() - m) ** 2 - m * (1 - m) / (len(b) - 1))
    return total


kp = [0.05, 0.12, 0.2, 0.22, 0.31, 0.38, 0.45, 0.5, 0.52, 0.6, 0.66, 0.71, 0.8, 0.85, 0.9]
ko = [0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0]
print("kumar ce2 (3 bins)", unbiased_square_ce(kp, ko, 3))
print("kumar ce2 (5 bins)", unbiased_square_ce(kp, ko, 5))


# AURC by enumerating every order of tied scores.
def aurc_enum(score, fail):
    groups = sorted(set(score), reverse=True)
    blocks = [[fail[i] for i in range(len(score)) if score[i] == g] for g in groups]
    orders = [list(itertools.permutations(b)) for b in blocks]
    tot, cnt = Fraction(0), 0
    for combo in itertools.product(*orders):
        seq = [f for blk in combo for f in blk]
        k = f = 0
        area = Fraction(0)
        for v in seq:
            k += 1
            f += v
            area += Fraction(f, k)
        tot += area / len(seq)
        cnt += 1
    return tot / cnt


s1 = [0.9, 0.8, 0.7, 0.6, 0.5]
f1 = [0, 1, 0, 0, 1]
print("aurc distinct", aurc_enum(s1, f1), float(aurc_enum(s1, f1)))
s2 = [3, 3, 3, 2, 2, 1, 1, 1, 1]
f2 = [0, 1, 0, 1, 1, 0, 1, 0, 0]
print("aurc ties", aurc_enum(s2, f2), float(aurc_enum(s2, f2)))
