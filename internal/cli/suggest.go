package cli

import "github.com/golora/golora/internal/suggest"

// didYouMean returns " (did you mean PREFIX+c?)" for the candidate c
// nearest to name when one is close (suggest.Nearest), else "".
func didYouMean(name string, candidates []string, prefix string) string {
	if c := suggest.Nearest(name, candidates); c != "" {
		return " (did you mean " + prefix + c + "?)"
	}
	return ""
}
