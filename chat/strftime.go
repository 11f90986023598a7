package chat

import (
	"fmt"
	"strings"
	"time"
)

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

// strftime formats t with the C/Python strftime directives chat templates
// use. Directives that depend on a locale use the C locale, as Python does
// by default. An unknown directive is an error rather than a guess.
func strftime(t time.Time, format string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(format) {
			return "", fmt.Errorf("strftime format %q ends with %%", format)
		}
		switch format[i] {
		case 'Y':
			fmt.Fprintf(&b, "%d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'p':
			b.WriteString(map[bool]string{true: "AM", false: "PM"}[t.Hour() < 12])
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("strftime format %q: directive %%%c is not supported", format, format[i])
		}
	}
	return b.String(), nil
}
