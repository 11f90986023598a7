// Package stats holds the statistics of deepconf's analysis: intervals for
// proportions and their differences, exact and asymptotic tests on 2×2
// tables, Welch's t-test, the AUROC with DeLong and bootstrap intervals,
// logistic regression, the Cochran–Mantel–Haenszel test, power of the
// two-proportion test, multiple-testing adjustments, the descriptive statistics the figures draw
// (R's type-7 quantiles, Gaussian kernel density estimates), and the
// measures of calibration and selective prediction: isotonic and Platt maps
// fitted out of fold, the expected calibration error and its debiased
// variant, the Brier score with Murphy's decomposition, risk–coverage curves
// and their areas, and bootstrap intervals of any statistic, paired between
// two models.
//
// The package is pure: no I/O, no package-level mutable state, and every
// random quantity comes from a seed the caller passes in. Distribution
// functions (normal, Student t, chi-square, binomial) come from
// gonum.org/v1/gonum/stat/distuv; the rest is written here because no
// maintained Go library offers it with R-compatible conventions.
//
// # Conventions
//
// Confidence levels are fractions in (0, 1), for example 0.95. One-sided
// p-values are named after the direction of the alternative hypothesis:
// "Greater" means the first group's parameter is larger than the second's
// (R's alternative = "greater"). Functions that cannot produce a meaningful
// result (empty groups, a single class, zero variance) return an error
// wrapping one of the sentinel errors below instead of NaN, so that a caller
// never writes NaN or Inf into a report by accident. The documented
// exceptions are the plain helpers Mean, Variance and Wilson, which return
// NaN for undefined input as the math package does, and the odds ratios of
// FisherResult, which are legitimately 0 or +Inf.
//
// # Methods
//
// Wilson score interval (Wilson 1927; Newcombe 1998a, method 3). The set of p
// for which the score test of H0: π = p does not reject, without continuity
// correction; it is what R's prop.test(k, n, correct = FALSE) reports. Unlike
// the Wald interval it never leaves [0, 1] and keeps close to nominal
// coverage for small n and for proportions near 0 or 1. With n = 0 there is
// no information and the interval is the whole range [0, 1].
//
// Newcombe's hybrid score interval (Newcombe 1998b, method 10) for the
// difference p1 − p2 of two independent proportions combines the two Wilson
// intervals (l1, u1), (l2, u2):
//
//	lower = d − sqrt((p1 − l1)² + (u2 − p2)²)
//	upper = d + sqrt((u1 − p1)² + (p2 − l2)²)
//
// It assumes independent binomial samples, is computed in closed form and has
// near-nominal coverage even for small samples.
//
// Fisher's exact test conditions on both margins of a 2×2 table, under which
// the top-left count is hypergeometric. It is exact for any sample size, so it
// is the test of choice when expected counts are small; it is conservative
// (p-values slightly too large) because of the discreteness. The two-sided
// p-value follows R's fisher.test: the sum of the probabilities of all tables
// no more probable than the observed one, with a relative tolerance of 1e-7.
//
// Welch's t-test compares two means without assuming equal variances, using
// the Welch–Satterthwaite degrees of freedom. It assumes independent samples
// and approximately normal sample means: with n ≥ 30 per group the central
// limit theorem usually suffices; below that the data themselves should be
// roughly normal.
//
// McNemar's test compares two paired binary outcomes through the discordant
// pairs b (yes/no) and c (no/yes): (b − c)² / (b + c) is approximately χ²(1).
// The continuity-corrected statistic (|b − c| − 1)² / (b + c) is R's
// mcnemar.test default. When b + c is small (the usual rule is b + c < 25) the
// chi-square approximation is poor and the exact binomial test (b given b + c
// is Binomial(b + c, 1/2) under H0) should be reported instead.
//
// AUROC is the Mann–Whitney probability that a randomly chosen positive scores
// higher than a randomly chosen negative, ties counting one half (Hanley and
// McNeil 1982). Its standard error follows DeLong, DeLong and Clarke-Pearson
// (1988). The bootstrap interval resamples positives and negatives separately
// (stratified by class), so every resample keeps the observed class sizes and
// an AUROC is always defined; the interval is the percentile interval of the
// resampled AUROCs (R's quantile type 7, as pROC uses).
//
// Logistic regression (LogisticRegression) is fitted by iteratively
// reweighted least squares, R's glm.fit iteration and stopping rule, so its
// estimates match glm(family = binomial) to glm's tolerance;
// LogisticSlopeTest tests one coefficient with the likelihood-ratio test
// (more reliable than the Wald test for large effects; Hauck and Donner
// 1977), with one-sided p-values from the signed root of the statistic,
// and reports the Wald interval (R's confint.default). A perfectly separated
// outcome gives, as in R, a fit with fitted probabilities numerically 0 or
// 1, flagged Extreme.
//
// The Cochran–Mantel–Haenszel test (CochranMantelHaenszel) tests
// conditional independence in stratified 2×2 tables, the strata being, in
// the analysis, response-length bands; it reproduces R's mantelhaen.test
// (continuity correction optional, one-sided alternatives, the
// Mantel–Haenszel common odds ratio with the Robins–Breslow–Greenland
// interval).
//
// PowerTwoProportions is the normal-approximation power of the one-sided
// two-proportion test (Fleiss, Levin and Paik 2003), R's power.prop.test for
// equal groups.
//
// Benjamini–Hochberg adjusted p-values control the false discovery rate when
// many tests are reported; Holm's step-down adjustment controls the
// family-wise error rate. Both reproduce R's p.adjust exactly, including its
// handling of NaN (R's NA) entries.
//
// Quantile is R's and NumPy's default quantile (Hyndman and Fan 1996, type
// 7). GaussianKDE evaluates a Gaussian kernel density estimate exactly (no
// binning) with the bandwidth of Silverman's rule of thumb
// (SilvermanBandwidth, R's bw.nrd0, fallbacks for degenerate data
// included).
//
// # Calibration and selective prediction
//
// FitIsotonic is weighted isotonic regression by pool-adjacent-violators
// (Ayer et al. 1955; Barlow et al. 1972), predicting as scikit-learn's
// IsotonicRegression(out_of_bounds="clip"); FitPlatt is Platt's (1999)
// sigmoid with his smoothed targets, fitted by the Newton method of Lin,
// Lin and Weng (2007). CrossFit applies either out of fold: with
// StratifiedFolds (k folds stratified by outcome, deterministic by seed)
// each instance is scored by a map fitted on the other folds only, so an
// instance never takes part in the fit that scores it.
//
// Forecasts evaluates probabilities of a binary outcome. The expected
// calibration error (ECE) uses equal-mass bins: the forecasts are sorted and
// cut where the cumulative count reaches b·N/B, but equal forecasts are
// never separated, so ties can leave fewer than B bins (the number used is
// reported). The plug-in ECE is biased upward — a perfectly calibrated
// forecaster shows an ECE of order sqrt(B/N) — so the package also gives
// Kumar, Liang and Ma's (2019) debiased squared ℓ2 calibration error, which
// subtracts each bin's binomial variance, and the consistency resampling of
// Bröcker and Smith (2007), which simulates the ECE of perfectly calibrated
// forecasts with the same values and bins. The Brier score is decomposed
// into reliability − resolution + uncertainty (Murphy 1973) over the groups
// of equal forecast value, where the identity is exact (binning distinct
// forecasts together would add within-bin terms; Stephenson et al. 2008).
//
// Selective ranks instances by a confidence score and evaluates abstaining
// on the least confident: the risk–coverage curve, its area AURC, the
// oracle's area and the excess E-AURC (Geifman, Uziel and El-Yaniv 2019),
// the random order's expected area (the full-coverage risk), the AUROC, and
// the largest coverage whose risk is at most a target. Tied scores are
// averaged over their orders, as the AUROC's ties count one half.
//
// BootstrapEstimates gives percentile intervals of any statistics computed
// from instance counts (one multinomial resample of n from n per
// replicate), and PairedBootstrap the interval and p-value of the
// difference of a statistic between two models on the same instances, both
// computed on every resample.
//
// # Small samples
//
// The result types carry a Small flag, set when an approximation behind the
// result is doubtful and a reader should be warned: a group or class with
// fewer than SmallSampleN (30) observations, a 2×2 table with an expected
// count below MinExpectedCount (5) (the classical condition for the
// chi-square approximation; Fisher's test stays exact but has little power),
// or fewer than MinDiscordantPairs (25) discordant pairs for McNemar's test.
//
// # References
//
//   - Wilson EB (1927). Probable inference, the law of succession, and
//     statistical inference. JASA 22:209–212.
//   - Newcombe RG (1998a). Two-sided confidence intervals for the single
//     proportion: comparison of seven methods. Stat Med 17:857–872.
//   - Newcombe RG (1998b). Interval estimation for the difference between
//     independent proportions: comparison of eleven methods. Stat Med
//     17:873–890.
//   - Agresti A (2002). Categorical Data Analysis, 2nd ed. Wiley.
//   - Welch BL (1947). The generalization of "Student's" problem when several
//     different population variances are involved. Biometrika 34:28–35.
//   - McNemar Q (1947). Note on the sampling error of the difference between
//     correlated proportions or percentages. Psychometrika 12:153–157.
//   - Hanley JA, McNeil BJ (1982). The meaning and use of the area under a
//     receiver operating characteristic (ROC) curve. Radiology 143:29–36.
//   - DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Comparing the areas
//     under two or more correlated receiver operating characteristic curves:
//     a nonparametric approach. Biometrics 44:837–845.
//   - Benjamini Y, Hochberg Y (1995). Controlling the false discovery rate.
//     JRSS B 57:289–300.
//   - Hyndman RJ, Fan Y (1996). Sample quantiles in statistical packages.
//     Am Stat 50:361–365.
//   - Silverman BW (1986). Density Estimation for Statistics and Data
//     Analysis. Chapman and Hall.
//   - Holm S (1979). A simple sequentially rejective multiple test procedure.
//     Scand J Stat 6:65–70.
//   - McCullagh P, Nelder JA (1989). Generalized Linear Models, 2nd ed.
//     Chapman & Hall.
//   - Hauck WW, Donner A (1977). Wald's test as applied to hypotheses in
//     logit analysis. JASA 72:851–853.
//   - Mantel N, Haenszel W (1959). Statistical aspects of the analysis of
//     data from retrospective studies of disease. JNCI 22:719–748.
//   - Robins J, Breslow N, Greenland S (1986). Estimators of the
//     Mantel–Haenszel variance consistent in both sparse data and
//     large-strata limiting models. Biometrics 42:311–323.
//   - Fleiss JL, Levin B, Paik MC (2003). Statistical Methods for Rates and
//     Proportions, 3rd ed. Wiley.
//   - Berger RL (1982). Multiparameter hypothesis testing and acceptance
//     sampling. Technometrics 24:295–300.
//   - Ayer M, Brunk HD, Ewing GM, Reid WT, Silverman E (1955). An empirical
//     distribution function for sampling with incomplete information. Ann
//     Math Stat 26:641–647.
//   - Barlow RE, Bartholomew DJ, Bremner JM, Brunk HD (1972). Statistical
//     Inference under Order Restrictions. Wiley.
//   - Platt JC (1999). Probabilistic outputs for support vector machines and
//     comparisons to regularized likelihood methods. In Advances in Large
//     Margin Classifiers, MIT Press, 61–74.
//   - Lin HT, Lin CJ, Weng RC (2007). A note on Platt's probabilistic outputs
//     for support vector machines. Machine Learning 68:267–276.
//   - Brier GW (1950). Verification of forecasts expressed in terms of
//     probability. Monthly Weather Review 78:1–3.
//   - Murphy AH (1973). A new vector partition of the probability score.
//     J Appl Meteorol 12:595–600.
//   - Stephenson DB, Coelho CAS, Jolliffe IT (2008). Two extra components in
//     the Brier score decomposition. Weather and Forecasting 23:752–757.
//   - Naeini MP, Cooper GF, Hauskrecht M (2015). Obtaining well calibrated
//     probabilities using Bayesian binning. AAAI 2015.
//   - Guo C, Pleiss G, Sun Y, Weinberger KQ (2017). On calibration of modern
//     neural networks. ICML 2017.
//   - Kumar A, Liang P, Ma T (2019). Verified uncertainty calibration.
//     NeurIPS 2019.
//   - Bröcker J, Smith LA (2007). Increasing the reliability of reliability
//     diagrams. Weather and Forecasting 22:651–661.
//   - Roelofs R, Cain N, Shlens J, Mozer MC (2022). Mitigating bias in
//     calibration error estimation. AISTATS 2022.
//   - El-Yaniv R, Wiener Y (2010). On the foundations of noise-free selective
//     classification. JMLR 11:1605–1641.
//   - Geifman Y, El-Yaniv R (2017). Selective classification for deep neural
//     networks. NeurIPS 2017.
//   - Geifman Y, Uziel G, El-Yaniv R (2019). Bias-reduced uncertainty
//     estimation for deep neural classifiers. ICLR 2019.
//   - Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap.
//     Chapman & Hall.
//   - Davison AC, Hinkley DV (1997). Bootstrap Methods and their Application.
//     Cambridge University Press.
package stats

import "errors"

// Thresholds behind the Small flags of the result types.
const (
	// SmallSampleN is the group size below which a result is flagged as a
	// small sample.
	SmallSampleN = 30
	// MinExpectedCount is the smallest expected cell count of a 2×2 table
	// for which the chi-square approximation is conventionally trusted.
	MinExpectedCount = 5.0
	// MinDiscordantPairs is the number of discordant pairs below which
	// McNemar's chi-square approximation is flagged and the exact test
	// should be preferred.
	MinDiscordantPairs = 25
)

// Sentinel errors; returned errors wrap them with details.
var (
	// ErrInvalidCount reports a negative count or a count larger than its total.
	ErrInvalidCount = errors.New("invalid count")
	// ErrInvalidConfidence reports a confidence level outside (0, 1).
	ErrInvalidConfidence = errors.New("confidence level must be in (0, 1)")
	// ErrTooFew reports too few observations for the statistic.
	ErrTooFew = errors.New("too few observations")
	// ErrZeroVariance reports samples without variation where a variance is
	// needed.
	ErrZeroVariance = errors.New("zero variance")
	// ErrOneClass reports binary outcomes that contain only one class.
	ErrOneClass = errors.New("only one class present")
	// ErrNotFinite reports a NaN or infinite input value.
	ErrNotFinite = errors.New("value is not finite")
	// ErrLength reports slices whose lengths must match but do not.
	ErrLength = errors.New("length mismatch")
	// ErrInvalidP reports a p-value outside [0, 1].
	ErrInvalidP = errors.New("p-value outside [0, 1]")
)
