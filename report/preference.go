package report

// preference draws a DPO or ORPO run's rewards and their accuracy (the
// metrics.jsonl keys rewards/*), when the run recorded them.
func (p *page) preference() {
	var xs, chosen, rejected, margins, acc []float64
	for _, m := range p.run.Metrics {
		if m.Preference == nil {
			continue
		}
		xs = append(xs, float64(m.Step))
		chosen = append(chosen, m.RewardsChosen)
		rejected = append(rejected, m.RewardsRejected)
		margins = append(margins, m.RewardsMargin)
		acc = append(acc, m.RewardsAccuracy)
	}
	if len(xs) == 0 {
		return
	}
	p.w("<h2>Preference rewards</h2>\n")
	p.w("<p>The reward of a completion is β·(log π − log π<sub>ref</sub>) in DPO (summed log-probabilities of its tokens under the trained model and under the reference) and λ·log π in ORPO (their mean per token). Training should push rewards/chosen above rewards/rejected: a growing rewards/margins and rewards/accuracies towards 1.</p>\n")
	p.w("<div class=grid>\n")
	p.fig("rewards.svg", "Mean rewards of the chosen and rejected completions (rewards/chosen, rewards/rejected) and their difference (rewards/margins), per step.",
		lineChart("rewards", "Rewards", "optimizer step", "reward", []series{
			{name: "rewards/chosen", x: xs, y: chosen, color: "#2ca02c", width: 1.5},
			{name: "rewards/rejected", x: xs, y: rejected, color: "#d62728", width: 1.5},
			{name: "rewards/margins", x: xs, y: margins, color: "#1f77b4", width: 2},
		}, false, false))
	p.fig("reward-accuracy.svg", "Fraction of each step's pairs whose chosen reward is above the rejected one (rewards/accuracies).",
		lineChart("rewardacc", "Reward accuracy", "optimizer step", "rewards/accuracies", []series{{x: xs, y: acc, color: "#9467bd", width: 1.5}}, false, true))
	p.w("</div>\n")
}

// preferenceCaption is the loss figure's caption for a DPO or ORPO run
// (as run.json records its method), "" for others.
func (p *page) preferenceCaption() string {
	if p.run.Info == nil {
		return ""
	}
	switch p.run.Info.Options.Method {
	case "dpo":
		return "DPO loss (−log σ of β times the chosen completion's log-probability gain over the rejected one's, relative to the reference; mean over pairs) after each optimizer step; validation loss where it was measured."
	case "orpo":
		return "ORPO loss (NLL per token of the chosen sequences − λ·mean log σ(log odds ratio)) after each optimizer step; validation loss where it was measured."
	}
	return ""
}
