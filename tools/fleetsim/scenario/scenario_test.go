package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedScenariosParse(t *testing.T) {
	files, err := filepath.Glob("../scenarios/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("scenarios = %v, %v, want default.yaml and example.yaml", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(b); err != nil {
			t.Errorf("Parse(%s) = %v, want nil", f, err)
		}
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`
timeScale: -1
releases:
  - {version: 1.20.3, releasedAt: -1m, waves: [{startAfter: 1h, fleetPercentage: 50}, {startAfter: 30m, fleetPercentage: 40}]}
  - {waves: [{fleetPercentage: 0}]}
clusters:
  - name: a
    instances:
      - {count: 2, version: 1.19.5, seeds: [1, 2048, 3]}
    services:
      - {name: s, minimumHealthyPercent: 150, maximumPercent: 50}
    tasks:
      - {instance: "0", duration: soon}
      - {instance: "0", duration: 5m, durationFrom: reboot}
`))
	if err == nil {
		t.Fatal("Parse(bad scenario) = nil, want errors")
	}
	for _, want := range []string{"timeScale", "minimumHealthyPercent", "maximumPercent", "duration", "durationFrom",
		"3 seeds for 2 instances", "seed 2048", "releasedAt -1m0s", "must grow", "release without a version", "fleetPercentage 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(bad scenario) = %v, want it to mention %s", err, want)
		}
	}
	if _, err := Parse([]byte("clusterz: []")); err == nil {
		t.Error("Parse(unknown field) = nil, want an error")
	}
}
