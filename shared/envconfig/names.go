package envconfig

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Settings are the names of every setting a rollwave worker reads (docs/configuration.md lists
// each; a test keeps the two equal). CheckNames compares the environment with them.
var Settings = []string{
	"ROLLWAVE_ADMISSION_BACKSTOP", "ROLLWAVE_ADMISSION_RETRY", "ROLLWAVE_ALARM_HALT", "ROLLWAVE_ALARM_NAMES", "ROLLWAVE_ALARM_PREFIX", "ROLLWAVE_ALARM_REFRESH", "ROLLWAVE_APPLY_EXPECTED", "ROLLWAVE_APPLY_TIMEOUT", "ROLLWAVE_CAPACITY_CHECK", "ROLLWAVE_CLUSTERS",
	"ROLLWAVE_CLUSTERS_REFRESH", "ROLLWAVE_CLUSTER_POLICIES", "ROLLWAVE_CLUSTER_TAG", "ROLLWAVE_CONCURRENCY",
	"ROLLWAVE_DRAIN_TIMEOUT", "ROLLWAVE_DRY_RUN", "ROLLWAVE_ERROR_BUDGET_FAILURES", "ROLLWAVE_ERROR_BUDGET_WINDOW",
	"ROLLWAVE_EVENT_BUS", "ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE", "ROLLWAVE_HEALTH_GATE", "ROLLWAVE_HEALTH_GATE_TIMEOUT",
	"ROLLWAVE_LAUNCH_TEMPLATES", "ROLLWAVE_LEASE", "ROLLWAVE_LOG_LEVEL", "ROLLWAVE_MAINTENANCE_WINDOW", "ROLLWAVE_MAX_OUT_OF_SERVICE",
	"ROLLWAVE_METRICS", "ROLLWAVE_METRICS_INTERVAL", "ROLLWAVE_OFFER_RECHECK", "ROLLWAVE_ON_VERIFY_FAILURE", "ROLLWAVE_PAUSE_REFRESH",
	"ROLLWAVE_PREFIX", "ROLLWAVE_REBOOT_CONCURRENCY", "ROLLWAVE_REBOOT_GRACE", "ROLLWAVE_REBOOT_TIMEOUT", "ROLLWAVE_RECHECK_INTERVAL",
	"ROLLWAVE_ROLLBACK", "ROLLWAVE_SHUTDOWN_GRACE", "ROLLWAVE_SSM_EXPECTED", "ROLLWAVE_SSM_POLL_INTERVAL", "ROLLWAVE_SSM_TIMEOUT",
	"ROLLWAVE_STAGES", "ROLLWAVE_STAGE_RECHECK", "ROLLWAVE_STAGE_WAITING", "ROLLWAVE_STANDALONE_DEADLINE", "ROLLWAVE_STANDALONE_GRACE", "ROLLWAVE_STANDALONE_TASKS", "ROLLWAVE_TARGET_VERSION",
	"ROLLWAVE_VISIBILITY_TIMEOUT", "ROLLWAVE_WAITING_THRESHOLD",
}

// maxTypo is how many edits (insertions, deletions, substitutions) a name may be away from a
// setting to be taken for a misspelling of it.
const maxTypo = 3

// CheckNames returns an error for every variable of environ ("NAME=value", as os.Environ gives
// them) whose name starts with ROLLWAVE_, is not a setting, and is within maxTypo edits of one:
// a misspelt setting, which would otherwise be ignored and leave its default in force. Each
// error names the closest setting. A ROLLWAVE_ variable far from every setting is left alone:
// other tools (the tests' harness, make up) use the prefix for their own settings.
func CheckNames(environ []string) error {
	known := map[string]bool{}
	for _, s := range Settings {
		known[s] = true
	}
	var errs []error
	var names []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "ROLLWAVE_") && !known[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		best, dist := "", maxTypo+1
		for _, s := range Settings {
			if d := levenshtein(name, s); d < dist {
				best, dist = s, d
			}
		}
		if best != "" {
			errs = append(errs, fmt.Errorf("%s is not a rollwave setting: did you mean %s? (docs/configuration.md lists them)", name, best))
		}
	}
	return errors.Join(errs...)
}

// levenshtein is the edit distance between a and b (bytes: the names are ASCII).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
