// Package runreport turns run directories into deepconf's results.
//
// It analyses a run (package analysis), replays the comparison baselines
// from its stored traces (package sweep), and writes analysis.json, the
// CSV, Parquet, Markdown and LaTeX exports, the figures and report.html
// (package report). Every results table is built here once (RunTables,
// PrototypeTables, CompareTables) and written with package table, so that
// the terminal summary, tables.md and tables.tex of deepconf analyze and the
// report's --markdown and --latex exports show a run the same way.
//
// The calls behind the commands:
//
//   - AnalyzeRun: deepconf analyze, and the analysis deepconf run does
//     when a run finishes (WriteSummary prints its outcome);
//   - Report, Assemble and WriteReport: deepconf report, one or more runs;
//   - Compare, CompareTables and WriteComparison: deepconf compare.
//
// # Exports
//
// Export writes instances.csv / instances.parquet (InstanceRow: one row per
// prediction with its scoring and its cross-fitted probabilities p_beta and
// p_confidence; lists as JSON arrays in CSV and LIST columns
// in Parquet), traces.csv / traces.parquet (TraceRow, streamed once for
// both; the per-token arrays only with ExportOptions.TokenArrays), and the
// run's tables as GitHub Markdown (tables.md) and LaTeX with booktabs
// (tables.tex). CSV floats are shortest round-trip decimals, NaN as "NaN"
// and infinities as "inf"/"-inf" (table.CSVFloat), which pandas.read_csv
// parses. Every file is replaced atomically (internal/atomicfile).
//
// # Report
//
// A run's section holds its facts, RunTables, its figures (accuracy and
// confidence by category, accuracy by trace count, the confusion matrix,
// the percentile curves, the risk curve, and from the calibration and
// selective blocks the reliability diagram and the risk–coverage figures of
// errors and of unsafe compliance) and its misclassified examples. A report
// of several runs adds CompareTables (with each run's calibration and the
// paired bootstrap differences) and the comparison figures: the metrics per
// run and one reliability curve of β per run (reliability_by_model). The percentile curves replay DeepConf's offline top-η filter
// and weighted vote on the stored votes through controller.FilteredVote,
// the controller's own vote.
package runreport
