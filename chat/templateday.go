package chat

import "time"

// TemplateDay is the date chat templates see. strftime_now, which the
// published templates of Llama 3.2, Mistral Small 3 and SmolLM3 call to put
// "today" into the prompt, formats midnight (UTC) of this day, not the clock:
// a run's prompts are the same bytes on every day it is started or resumed.
// It is 26 July 2024, the date Llama 3.1's template writes when it is given
// none, so Llama 3.1, 3.2 and 3.3 prompts are identical.
const TemplateDay = "2024-07-26"

// templateTime returns TemplateDay as a time.
func templateTime() time.Time {
	t, err := time.Parse(time.DateOnly, TemplateDay)
	if err != nil {
		panic(err) // TemplateDay is a constant in the right layout
	}
	return t
}
