package chat

// ReferenceCase is a reference rendering, for the tests of package chat_test.
type ReferenceCase struct {
	Model, Family, BOS string
	System, User       string
	Thinking           bool
	Want               string
}

// ReferenceCases returns the reference renderings.
func ReferenceCases() []ReferenceCase {
	var out []ReferenceCase
	for _, r := range references {
		out = append(out, ReferenceCase{r.model, r.family, r.bos, r.prompt.System, r.prompt.User, r.prompt.Thinking, r.want})
	}
	return out
}
