package update

import (
	"fmt"
	"strings"
)

// ServiceHealth is what the health gate needs to know about one service of the cluster
// (DescribeServices).
type ServiceHealth struct {
	Name                      string
	Desired, Running, Pending int
	Deployments               int
}

// Steady reports whether every service is at steady state: running equals desired, nothing
// pending, one deployment. It is the health gate before the next drain in a cluster: the services
// that the previous drain moved (and the instance it updated, whose tasks come back through them)
// have settled. When ok is false, why names the services that have not, for people.
func Steady(services []ServiceHealth) (ok bool, why string) {
	var unsettled []string
	for _, s := range services {
		if s.Running == s.Desired && s.Pending == 0 && s.Deployments <= 1 {
			continue
		}
		unsettled = append(unsettled, fmt.Sprintf("%s running %d of %d, %d pending, %d deployments", s.Name, s.Running, s.Desired, s.Pending, s.Deployments))
	}
	if len(unsettled) == 0 {
		return true, ""
	}
	if len(unsettled) > maxNamed {
		unsettled = append(unsettled[:maxNamed:maxNamed], fmt.Sprintf("and %d more", len(unsettled)-maxNamed))
	}
	return false, "services not at steady state: " + strings.Join(unsettled, "; ")
}
