package analysis

import "fmt"

// Coverage says which part of a run an analysis covers: an unfinished run,
// skipped instances and a directory without run.json are analysed, with
// the numbers' reach said in words (Notes) in analysis.json, the summary
// and the report.
type Coverage struct {
	// Instances is the number of instances the run samples (run.json's
	// instances), or 0 when it is not recorded.
	Instances int `json:"instances"`
	// Analysed is the number of predictions analysed.
	Analysed int `json:"analysed"`
	// Skipped lists the instances the run skipped (their prompt did not
	// fit the engine's context): they have no prediction.
	Skipped []string `json:"skipped"`
	// Finished reports that run.json marks the run finished.
	Finished bool `json:"finished"`
	// RunRecord reports that the directory has run.json. Without it (a
	// prototype's directory, or a deleted file) the model, its settings
	// and the policy's budget are unknown.
	RunRecord bool `json:"run_json"`
	// Notes say what the numbers do not cover, in words; empty for a
	// finished run of every instance.
	Notes []string `json:"notes"`
}

// Partial reports that the analysis does not cover a whole, finished run
// with a run.json.
func (c Coverage) Partial() bool { return len(c.Notes) > 0 }

// coverageOf describes what d covers of its run.
func coverageOf(d *RunData) Coverage {
	c := Coverage{Analysed: len(d.Predictions), Skipped: []string{}, Notes: []string{}}
	if d.Run == nil {
		c.Notes = append(c.Notes, "The directory has no run.json: the model, its settings and the sampling budget are unknown "+
			"(the model may be a generated random-weight test model), so the token savings against a fixed budget are not computed "+
			"unless the budget is given (deepconf analyze --max-traces).")
		return c
	}
	r := d.Run
	c.RunRecord, c.Instances, c.Finished = true, r.Instances, r.Finished != nil
	for _, s := range r.Skipped {
		c.Skipped = append(c.Skipped, s.InstanceID)
	}
	switch {
	case !c.Finished && c.Instances > 0:
		c.Notes = append(c.Notes, fmt.Sprintf("The run is unfinished: %d of %d instances are analysed; the numbers describe those only.", c.Analysed, c.Instances))
	case !c.Finished:
		c.Notes = append(c.Notes, fmt.Sprintf("The run is unfinished: %d instances are analysed (the run's total is not recorded); the numbers describe those only.", c.Analysed))
	}
	if n := len(c.Skipped); n > 0 {
		of := ""
		if c.Instances > 0 {
			of = fmt.Sprintf(" of %d", c.Instances)
		}
		c.Notes = append(c.Notes, fmt.Sprintf("%d%s instances were skipped because their prompt did not fit the engine's context; they are not analysed (run.json lists them).", n, of))
	}
	return c
}
