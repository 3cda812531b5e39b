package loadgen

import (
	"math"
	"slices"
)

// summary describes a set of latencies, in milliseconds.
type summary struct {
	count                                    int
	min, mean, p50, p90, p95, p99, p999, max float64
}

// summarize sorts ns (latencies in nanoseconds) in place and summarizes
// them with nearest-rank percentiles.
func summarize(ns []int64) summary {
	if len(ns) == 0 {
		return summary{}
	}
	slices.Sort(ns)
	var sum float64
	for _, v := range ns {
		sum += float64(v)
	}
	return summary{
		count: len(ns),
		min:   ms(ns[0]),
		mean:  sum / float64(len(ns)) / 1e6,
		p50:   ms(nearestRank(ns, 0.50)),
		p90:   ms(nearestRank(ns, 0.90)),
		p95:   ms(nearestRank(ns, 0.95)),
		p99:   ms(nearestRank(ns, 0.99)),
		p999:  ms(nearestRank(ns, 0.999)),
		max:   ms(ns[len(ns)-1]),
	}
}

// nearestRank is the q-quantile (0 < q <= 1) of sorted: the smallest value
// with at least q of the values at or below it, sorted[ceil(q*n)-1].
func nearestRank(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	r := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(r, 0), len(sorted)-1)]
}

// hashrocketRank is the p-th percentile by the rule of the hashrocket
// websocket-shootout's bench tool, sorted[p*n/100], which the shootout
// command keeps so that its figure means what theirs means.
func hashrocketRank(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(p*len(sorted)/100, len(sorted)-1)]
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// put writes s under prefix_count, prefix_p50_ms and so on.
func (s summary) put(r *report, prefix string) {
	r.set(prefix+"_count", s.count)
	r.set(prefix+"_min_ms", s.min)
	r.set(prefix+"_mean_ms", s.mean)
	r.set(prefix+"_p50_ms", s.p50)
	r.set(prefix+"_p90_ms", s.p90)
	r.set(prefix+"_p95_ms", s.p95)
	r.set(prefix+"_p99_ms", s.p99)
	r.set(prefix+"_p999_ms", s.p999)
	r.set(prefix+"_max_ms", s.max)
}
