// Package report draws deepconf's figures and writes its self-contained
// HTML report and the Markdown and LaTeX exports of its tables.
//
// The package works on plain data (tables of strings, estimates with
// intervals, series of points, samples per group) so that it does not
// depend on how the analysis computes them; the deepconf command adapts
// analysis results to these types. It reads no run directory.
//
// # Figures
//
// Each constructor returns a Figure that writes PNG (Width × Height at DPI:
// 900 × 600 pixels) and SVG with gonum.org/v1/plot:
//
//   - AccuracyFigure: accuracy by category, bars with interval whiskers;
//   - ViolinFigure: confidence per category as violins (drawn here: the
//     Gaussian kernel density estimate of stats.GaussianKDE with Silverman's
//     rule-of-thumb bandwidth, R's bw.nrd0, evaluated on 128 ordinates
//     between the group's minimum and maximum, mirrored, scaled to a common
//     maximum width, with the median and quartiles of stats.Quantile marked);
//   - TraceCountFigure: accuracy against the number of traces;
//   - ConfusionFigure: the 2×2 confusion matrix as a heat map with counts;
//   - PercentileFigure: metric curves against a confidence percentile;
//   - RiskFigure: the unsafe-compliance rate against the confidence quantile
//     with its interval band;
//   - ComparisonFigure: grouped bars across runs (model sizes);
//   - ReliabilityFigure: a run's reliability diagram (equal-mass bins of a
//     forecast probability against their observed share correct, Wilson
//     whiskers, bin counts, the diagonal);
//   - ReliabilityComparisonFigure: one reliability curve per model;
//   - RiskCoverageFigure: risk–coverage curves with their bands, the oracle
//     and random orders and a target risk;
//   - SweepAURCFigure: AURC against a swept setting (deepconf sweep).
//
// Rendering is deterministic: the same input gives the same bytes. Text uses
// the Liberation fonts embedded in gonum/plot (no system font is read), and
// neither format carries a time stamp. SVG files name the font family
// "Liberation Sans" without embedding it (a viewer without it substitutes a
// similar sans-serif font).
//
// # HTML
//
// Report.WriteHTML writes one file with html/template: the CSS inline, the
// figures as base64 PNG data URLs, no script, and a Content-Security-Policy
// that forbids loading anything else, so that it opens offline and cannot
// leak a request. It holds, per run, the hypothesis and its result in words,
// the run's tables (overall, per category, hypothesis statistics, …), its
// figures and its misclassified examples (escaped; at most MaxExamples per
// run, texts cut at MaxExampleChars characters, each cut noted), then the
// comparisons across runs and the limitations (AllLimitations: random-model
// warnings, small-sample flags, the refusal detector's measured limits,
// and the design's caveats).
//
// # Tables
//
// A run's tables are package table's Tables; Report.WriteMarkdown and
// Report.WriteLaTeX write all of them with table.WriteMarkdown and
// table.WriteLaTeX, and the HTML right-aligns the columns table.Numeric
// finds numeric.
package report
